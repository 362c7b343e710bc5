"""Dashboard: the profile panel, the per-user page for admins, the incident panel, caller IDs,
provider settings and simulated replies from the dev outbox."""

import pytest
from django.test import Client

from alerts.models import Incident
from ilert.models import DevMessage
from notifications import engine, services
from notifications.models import ContactMethod, Notification, NotificationRule, ProviderSettings

from .factories import make_method, make_rule, open_incident
from .fakes import FakeTwilio

pytestmark = pytest.mark.django_db


def logged_in(user):
    client = Client()
    client.force_login(user)
    return client


def test_the_profile_panel_warns_a_user_without_rules(responder):
    html = logged_in(responder).get("/notifications/panels/profile").content.decode()
    assert 'id="no-rules-warning"' in html and "You have no notification rules" in html


def test_contact_methods_and_rules_are_set_up_from_the_profile(responder):
    client = logged_in(responder)
    response = client.post(f"/notifications/users/{responder.pk}/contact-methods",
                           {"kind": "sms", "address": "+49 151 12345678"})
    assert response.status_code == 302 and response["Location"] == "/profile/"
    method = ContactMethod.objects.get()
    engine.dispatch()
    code = DevMessage.objects.get(channel="sms").body.rsplit(" ", 1)[-1]
    client.post(f"/notifications/contact-methods/{method.pk}/verify", {"code": code})
    method.refresh_from_db()
    assert method.is_verified
    client.post(f"/notifications/users/{responder.pk}/rules",
                {"priority": "HIGH", "contact_method": method.pk, "delay_minutes": 2})
    assert NotificationRule.objects.get().delay_minutes == 2
    html = client.get("/notifications/panels/profile").content.decode()
    assert "no-rules-warning" not in html and "after 2 min" in html and "verified" in html


def test_admins_edit_anyones_settings_responders_only_their_own(responder, admin, stakeholder):
    assert logged_in(admin).get(f"/notifications/users/{responder.pk}/").status_code == 200
    response = logged_in(admin).post(f"/notifications/users/{responder.pk}/contact-methods",
                                     {"kind": "email", "address": "rita.other@example.com"})
    assert response.status_code == 302 and ContactMethod.objects.get().user == responder
    assert logged_in(responder).get(f"/notifications/users/{admin.pk}/").status_code == 404
    refused = logged_in(responder).post(f"/notifications/users/{admin.pk}/contact-methods",
                                        {"kind": "email", "address": "ada.other@example.com"})
    assert refused.status_code == 403
    admins_method = make_method(admin, "email")
    assert logged_in(responder).post(f"/notifications/contact-methods/{admins_method.pk}/delete").status_code == 403
    assert logged_in(stakeholder).post(f"/notifications/users/{stakeholder.pk}/preferences",
                                       {"notify_on_accept": "on", "reminder_minutes": 60}).status_code == 403
    assert ContactMethod.objects.filter(pk=admins_method.pk).exists()


def test_an_email_address_is_verified_by_a_link_that_needs_a_post(responder):
    client = logged_in(responder)
    client.post(f"/notifications/users/{responder.pk}/contact-methods",
                {"kind": "email", "address": "rita.pager@example.com"})
    engine.dispatch()
    from django.core import mail

    link = next(line for line in mail.outbox[0].body.splitlines() if "/notifications/verify-email/" in line)
    path = link.replace("https://ilert.example.com", "")
    anonymous = Client()
    assert anonymous.get(path).status_code == 200
    assert not ContactMethod.objects.get().is_verified
    assert "confirmed" in anonymous.post(path).content.decode()
    assert ContactMethod.objects.get().is_verified


def test_the_incident_panel_lists_its_notifications_with_statuses(tenant, responder, admin):
    make_rule(responder, make_method(responder, "sms", "+4915112345678"), "HIGH", 0)
    make_rule(responder, make_method(responder, "voice", "+4915112345678"), "HIGH", 5)
    incident = open_incident(tenant)
    services.notify(incident, responder, round_tag="r1")
    engine.dispatch()
    html = logged_in(admin).get(f"/notifications/panels/incident/{incident.pk}").content.decode()
    assert 'data-status="sent" data-channel="sms"' in html and 'data-status="pending" data-channel="voice"' in html
    assert "+4915112345678" in html
    other = logged_in(make_method(admin, "email").user)
    assert other.get(f"/notifications/panels/incident/{incident.pk}").status_code == 200


def test_caller_ids_list_the_numbers_and_offer_a_vcard(admin, settings):
    settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN = "AC" + "1" * 32, "t"
    settings.TWILIO_FROM_NUMBER = "+15005550006"
    client = logged_in(admin)
    assert "+15005550006" in client.get("/notifications/caller-ids/").content.decode()
    card = client.get("/notifications/caller-ids.vcf")
    assert card["Content-Type"].startswith("text/vcard")
    text = card.content.decode()
    assert text.startswith("BEGIN:VCARD\r\nVERSION:3.0") and "TEL;TYPE=WORK,VOICE:+15005550006" in text


def test_provider_secrets_are_write_only(tenant, admin, responder, http):
    FakeTwilio("AC" + "2" * 32, "super-secret-token").add_number("+4930123456789").install(http)  # proven at save
    client = logged_in(admin)
    response = client.post("/notifications/providers/", {
        "twilio_account_sid": "AC" + "2" * 32, "twilio_auth_token": "super-secret-token",
        "twilio_from_number": "+4930123456789"})
    assert response.status_code == 302
    stored = ProviderSettings.objects.get(tenant=tenant)
    assert stored.twilio_auth_token == "super-secret-token" and "super-secret" not in stored.twilio_auth_token_encrypted
    page = client.get("/notifications/providers/").content.decode()
    assert "super-secret-token" not in page and "your Twilio account" in page
    client.post("/notifications/providers/", {"twilio_account_sid": "AC" + "2" * 32,
                                              "twilio_from_number": "+4930123456789"})
    assert ProviderSettings.objects.get(tenant=tenant).twilio_auth_token == "super-secret-token"  # kept
    assert logged_in(responder).post("/notifications/providers/", {"clear_twilio": "on"}).status_code == 403
    assert ProviderSettings.objects.get(tenant=tenant).twilio_configured


def test_the_dev_outbox_simulates_an_sms_reply_through_the_real_reply_code(tenant, responder):
    make_rule(responder, make_method(responder, "sms", "+4915112345678"), "HIGH", 0)
    incident = open_incident(tenant)
    services.notify(incident, responder, round_tag="r1")
    engine.dispatch()
    client = logged_in(responder)
    outbox = client.get("/dev/outbox/").content.decode()
    message = DevMessage.objects.get(channel="sms")
    assert f'action="/notifications/dev-outbox/{message.pk}/reply"' in outbox
    client.post(f"/notifications/dev-outbox/{message.pk}/reply", {"text": "1a"})
    assert Incident.objects.get(pk=incident.pk).status == "ACCEPTED"
    answer = DevMessage.objects.filter(subject="You replied: 1a").get()
    assert answer.body == f"#{incident.number} accepted."


def test_a_simulated_sms_reply_answers_only_pages_of_the_own_organisation(tenant, responder, other_tenant, outsider):
    """Two organisations page the same number (dev outbox, no Twilio): Rita's answer in her outbox
    must never reach Globex's page, though Globex's is the latest and has the same code."""
    number = "+4915112345678"
    make_rule(responder, make_method(responder, "sms", number), "HIGH", 0)
    make_rule(outsider, make_method(outsider, "sms", number), "HIGH", 0)
    mine, theirs = open_incident(tenant), open_incident(other_tenant)
    services.notify(mine, responder, round_tag="r1")
    engine.dispatch()
    services.notify(theirs, outsider, round_tag="r1")
    engine.dispatch()
    message = DevMessage.objects.get(channel="sms", tenant=tenant)
    client = logged_in(responder)
    client.post(f"/notifications/dev-outbox/{message.pk}/reply", {"text": "a"})
    assert (Incident.objects.get(pk=mine.pk).status, Incident.objects.get(pk=theirs.pk).status) == (
        "ACCEPTED", "PENDING")
    client.post(f"/notifications/dev-outbox/{message.pk}/reply", {"text": "1r"})
    assert (Incident.objects.get(pk=mine.pk).status, Incident.objects.get(pk=theirs.pk).status) == (
        "RESOLVED", "PENDING")
    client.post(f"/notifications/dev-outbox/{message.pk}/reply", {"text": "STOP"})
    opted_out = dict(ContactMethod.objects.filter(address=number).values_list("tenant", "opted_out"))
    assert opted_out == {tenant.pk: True, other_tenant.pk: False}


@pytest.mark.parametrize("channel,field,value,status", [("voice", "digit", "2", "RESOLVED"),
                                                        ("push", "action", "accept", "ACCEPTED"),
                                                        ("email", "text", "escalate", "PENDING")])
def test_the_dev_outbox_simulates_keys_push_actions_and_email_replies(tenant, responder, settings, channel, field,
                                                                      value, status):
    settings.EMAIL_BACKEND = "ilert.devoutbox.EmailBackend"
    make_rule(responder, make_method(responder, channel), "HIGH", 0)
    incident = open_incident(tenant)
    services.notify(incident, responder, round_tag="r1")
    engine.dispatch()
    message = DevMessage.objects.get(channel=channel)
    logged_in(responder).post(f"/notifications/dev-outbox/{message.pk}/reply", {field: value})
    incident = Incident.objects.get(pk=incident.pk)
    assert incident.status == status
    assert incident.log_entries.filter(via=channel, actor=responder).exists()


def test_only_the_recipient_or_an_admin_may_simulate_a_reply(tenant, responder, admin):
    from tests.factories import UserFactory

    make_rule(admin, make_method(admin, "sms"), "HIGH", 0)
    incident = open_incident(tenant)
    services.notify(incident, admin, round_tag="r1")
    engine.dispatch()
    message = DevMessage.objects.get(channel="sms")
    colleague = UserFactory(tenant=tenant, role="responder")
    # A colleague does not even see the admin's page in the dev outbox: the answer is a 404.
    assert logged_in(colleague).post(f"/notifications/dev-outbox/{message.pk}/reply",
                                     {"text": "1a"}).status_code == 404
    assert Incident.objects.get(pk=incident.pk).status == "PENDING"
    assert Notification.objects.filter(incident=incident).count() == 1


def test_the_overview_panel_names_users_without_rules_to_admins(responder, admin):
    html = logged_in(admin).get("/notifications/panels/home").content.decode()
    assert "Rita Responder" in html and "You have no notification rules" in html
