"""SMS answers through the signed Twilio webhook: codes with several open incidents, bare answers,
resolved incidents, unknown senders and codes, STOP/START/HELP."""

import pytest
from django.test import Client

from alerts import services as alert_services
from alerts.models import Incident
from notifications import engine, services
from notifications.models import ContactMethod, Notification
from tests.factories import TenantFactory, UserFactory

from .conftest import own_twilio, twilio_post
from .factories import make_method, make_rule, open_incident

pytestmark = pytest.mark.django_db
NUMBER = "+4915112345678"
THIRD_SID = "AC" + "3" * 32


@pytest.fixture
def rita(responder):
    make_rule(responder, make_method(responder, "sms", NUMBER, bundle_seconds=0), "HIGH", 0)
    return responder


def page(tenant, user, **fields):
    incident = open_incident(tenant, **fields)
    services.notify(incident, user, round_tag="r1")
    engine.dispatch()
    return incident


def reply(body, number=NUMBER):
    response = twilio_post(Client(), "/notifications/twilio/sms", {"From": number, "To": "+15005550006", "Body": body})
    assert response.status_code == 200
    text = response.content.decode()
    return text.split("<Message>")[1].split("</Message>")[0] if "<Message>" in text else ""


def status(incident):
    return Incident.objects.get(pk=incident.pk).status


def test_codes_pick_the_incident_among_several_open_ones(tenant, rita, twilio):
    first, second, third = (page(tenant, rita, summary=f"host-{n} down") for n in (1, 2, 3))
    bodies = [m["body"] for m in twilio.sms]
    assert "Reply 1a" in bodies[0] and "Reply 2a" in bodies[1] and "Reply 3a" in bodies[2]
    assert reply("2r") == f"#{second.number} resolved."
    assert reply(" 3 A ") == f"#{third.number} accepted."
    assert (status(first), status(second), status(third)) == ("PENDING", "RESOLVED", "ACCEPTED")


def test_a_bare_letter_answers_the_latest_page(tenant, rita, twilio):
    older, newer = page(tenant, rita), page(tenant, rita)
    assert reply("a") == f"#{newer.number} accepted."
    assert (status(older), status(newer)) == ("PENDING", "ACCEPTED")


def test_a_bare_letter_on_a_bundled_page_answers_every_incident_in_it(tenant, responder, twilio):
    make_rule(responder, make_method(responder, "sms", NUMBER), "HIGH", 0)
    incidents = [open_incident(tenant) for _ in range(3)]
    for incident in incidents:
        services.notify(incident, responder, round_tag="r1")
    engine.dispatch()
    assert len(twilio.sms) == 1 and twilio.sms[0]["body"].startswith("ilert: 3 new incidents")
    answer = reply("a")
    assert answer == " ".join(f"#{i.number} accepted." for i in incidents)
    assert {status(i) for i in incidents} == {"ACCEPTED"}


def test_answering_a_resolved_incident_says_who_resolved_it(tenant, rita, admin, twilio):
    incident = page(tenant, rita)
    alert_services.resolve(incident, by=admin, via="dashboard")
    assert reply("1a") == f"#{incident.number} was already resolved by Ada Admin."
    assert reply("1e") == f"#{incident.number} was already resolved by Ada Admin."


def test_accepting_twice_says_so(tenant, rita, admin, twilio):
    incident = page(tenant, rita)
    alert_services.accept(incident, by=admin, via="dashboard")
    assert reply("1a") == f"#{incident.number} was already accepted by Ada Admin."
    assert reply("1r") == f"#{incident.number} resolved."


def test_an_escalate_answer_asks_for_the_next_level(tenant, rita, twilio):
    incident = page(tenant, rita)
    reply("1a")
    assert reply("1e") == f"#{incident.number} escalated."
    assert status(incident) == "PENDING"
    assert incident.log_entries.filter(kind="escalation_requested", via="sms", actor=rita).exists()


def test_unknown_senders_unknown_codes_and_gibberish_change_nothing(tenant, rita, twilio):
    incident = page(tenant, rita)
    assert "not a verified contact method" in reply("1a", number="+4917000000000")
    assert reply("9a").startswith("ilert: unknown code 9.")
    assert reply("hello there").startswith("ilert: unknown answer.")
    assert status(incident) == "PENDING"


def test_an_unverified_number_cannot_answer(tenant, rita, twilio):
    incident = page(tenant, rita)
    ContactMethod.objects.filter(address=NUMBER).update(verified_at=None)
    assert "not a verified contact method" in reply("1a")
    assert status(incident) == "PENDING"


def test_codes_of_another_tenant_are_out_of_reach(tenant, other_tenant, rita, outsider, twilio):
    theirs = page(other_tenant, outsider)  # the outsider has no SMS: email by default
    # A third organisation with its own Twilio account pages the same number with the same code.
    third = TenantFactory(name="Initech", slug="initech")
    third_admin = UserFactory(tenant=third, role="admin")
    own_twilio(third, third_admin, twilio, sid=THIRD_SID, token="initech-token", number="+4930333333333")
    make_rule(third_admin, make_method(third_admin, "sms", NUMBER, bundle_seconds=0), "HIGH", 0)
    thirds = page(third, third_admin)
    assert twilio.sms[-1]["account_sid"] == THIRD_SID and "Reply 1a" in twilio.sms[-1]["body"]
    mine = page(tenant, rita)
    assert reply("1a") == f"#{mine.number} accepted."
    assert (status(theirs), status(thirds)) == ("PENDING", "PENDING")
    assert reply("1r") == f"#{mine.number} resolved."
    assert (status(theirs), status(thirds)) == ("PENDING", "PENDING")
    answer = twilio_post(Client(), "/notifications/twilio/sms", {"From": NUMBER, "Body": "1a"},
                         token="initech-token", account_sid=THIRD_SID)
    assert f"#{thirds.number} accepted." in answer.content.decode()
    assert (status(mine), status(theirs), status(thirds)) == ("RESOLVED", "PENDING", "ACCEPTED")


def test_stop_opts_the_number_out_until_start(tenant, rita, twilio):
    assert reply("STOP") == ""
    assert ContactMethod.objects.get(address=NUMBER).opted_out
    incident = page(tenant, rita)
    assert twilio.sms == []  # the opted-out number is skipped: the defaults (email) page instead
    assert list(Notification.objects.filter(incident=incident).values_list("channel", flat=True)) == ["email"]
    assert "on again" in reply("start")
    page(tenant, rita)
    assert len(twilio.sms) == 1


def test_help_explains_the_codes(twilio):
    assert "12a to accept" in reply("HELP")


def test_an_incident_number_answers_directly_and_an_ambiguous_code_asks_for_it(tenant, rita, twilio):
    first, second = page(tenant, rita), page(tenant, rita)
    Notification.objects.filter(incident=second).update(reply_code=1)  # two pages picked 1 at the same instant
    answer = reply("1a")
    assert answer == (f"ilert: code 1 is used by #{first.number} and #{second.number}; answer with the incident "
                      f"number, e.g. #{first.number}a.")
    assert (status(first), status(second)) == ("PENDING", "PENDING")
    assert reply(f"#{second.number}r") == f"#{second.number} resolved."
    assert reply(f"#{first.number} a") == f"#{first.number} accepted."
    assert reply("#999999a").startswith("ilert: no page about #999999")
