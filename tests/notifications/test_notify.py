"""notifications.services.notify — the escalation engine's door — and cancellation on accept/resolve."""

from datetime import timedelta

import pytest
import time_machine

from alerts import services as alert_services
from alerts.models import LogKind
from ilert import clock
from notifications import engine, services
from notifications.models import Notification, NotificationSettings
from notifications.services import outbox, reply_codes
from tests.factories import UserFactory

from .factories import make_method, make_rule, open_incident

pytestmark = pytest.mark.django_db
S = Notification.Status


@pytest.fixture
def rita(responder):
    push = make_method(responder, "push", device_name="Rita's iPhone")
    sms = make_method(responder, "sms", "+4915112345678")
    voice = make_method(responder, "voice", "+4915112345678")
    email = make_method(responder, "email", "rita.pager@example.com")
    make_rule(responder, push, "HIGH", 0)
    make_rule(responder, sms, "HIGH", 1)
    make_rule(responder, voice, "HIGH", 5)
    make_rule(responder, email, "LOW", 0)
    return responder


def test_notify_writes_one_row_per_step_of_the_users_rules_for_the_priority(tenant, rita):
    incident = open_incident(tenant)
    now = clock.now()
    rows = services.notify(incident, rita, round_tag="r1", reason="level 1")
    assert [(r.channel, r.step_delay) for r in rows] == [("push", 0), ("sms", 1), ("voice", 5)]
    assert all(r.status == S.PENDING and r.round_tag == "r1" and r.reason == "level 1" for r in rows)
    assert rows[1].due_at - now >= timedelta(minutes=1) > rows[1].due_at - now - timedelta(seconds=5)
    assert len({r.reply_code for r in rows}) == 1
    entry = incident.log_entries.filter(kind=LogKind.NOTIFICATION).get()
    assert "push now, SMS after 1 min, call after 5 min" in entry.message


def test_low_priority_uses_the_low_rules(tenant, rita):
    incident = open_incident(tenant, priority="LOW")
    rows = services.notify(incident, rita, round_tag="r1")
    assert [(r.channel, r.address) for r in rows] == [("email", "rita.pager@example.com")]


def test_calling_twice_with_the_same_round_pages_nobody_twice(tenant, rita):
    incident = open_incident(tenant)
    first = services.notify(incident, rita, round_tag="r1")
    second = services.notify(incident, rita, round_tag="r1")  # e.g. a second escalation level naming Rita
    assert len(first) == 3 and second == []
    assert Notification.objects.count() == 3


def test_two_escalation_levels_in_one_round_send_one_message(tenant, rita, twilio, settings):
    settings.FIREBASE_CREDENTIALS_FILE = ""
    incident = open_incident(tenant)
    services.notify(incident, rita, round_tag="r1", reason="level 1")
    services.notify(incident, rita, round_tag="r1", reason="level 2")
    with time_machine.travel(clock.now() + timedelta(minutes=10), tick=False):
        engine.tick()
    assert len(twilio.creates("Messages")) == 1 and len(twilio.creates("Calls")) == 1


def test_a_new_round_or_a_reassignment_pages_again(tenant, rita):
    incident = open_incident(tenant)
    services.notify(incident, rita, round_tag="r1")
    assert len(services.notify(incident, rita, round_tag="r2")) == 3
    assert len(services.notify(incident, rita, round_tag="assign-99")) == 3


def test_a_user_without_rules_gets_email_and_for_high_an_sms_to_a_verified_phone(tenant, admin):
    make_method(admin, "sms", "+4915199999999")
    make_method(admin, "sms", "+4915188888888", verified=False)
    high = services.notify(open_incident(tenant), admin, round_tag="r1")
    low = services.notify(open_incident(tenant, priority="LOW"), admin, round_tag="r1")
    assert sorted((r.channel, r.address) for r in high) == [("email", admin.email), ("sms", "+4915199999999")]
    assert [(r.channel, r.address) for r in low] == [("email", admin.email)]
    entry = high[0].incident.log_entries.filter(kind=LogKind.NOTIFICATION).get()
    assert "⚠" in entry.message and "no HIGH notification rules" in entry.data["warning"]


def test_unverified_contact_methods_are_never_paged(tenant, responder):
    unverified = make_method(responder, "sms", verified=False)
    verified = make_method(responder, "push")
    make_rule(responder, unverified, "HIGH", 0)
    make_rule(responder, verified, "HIGH", 2)
    rows = services.notify(open_incident(tenant), responder, round_tag="r1")
    assert [r.contact_method for r in rows] == [verified]


def test_only_unverified_rules_fall_back_to_the_defaults(tenant, responder):
    make_rule(responder, make_method(responder, "sms", verified=False), "HIGH", 0)
    rows = services.notify(open_incident(tenant), responder, round_tag="r1")
    assert [(r.channel, r.address) for r in rows] == [("email", responder.email)]


def test_nobody_is_paged_for_closed_incidents_other_tenants_or_inactive_users(tenant, other_tenant, rita):
    resolved = open_incident(tenant)
    alert_services.resolve(resolved)
    assert services.notify(resolved, rita, round_tag="r1") == []
    assert services.notify(open_incident(other_tenant), rita, round_tag="r1") == []
    gone = UserFactory(tenant=tenant, is_active=False)
    assert services.notify(open_incident(tenant), gone, round_tag="r1") == []


def test_a_person_escalating_or_reassigning_during_maintenance_still_pages(tenant, rita):
    """The alerts app decides that a maintenance window starts no escalation; someone who asks for a
    page during one (escalate, reassign) gets it."""
    from tests.alerts.factories import alert, make_source, make_window

    source = make_source(tenant)
    make_window(tenant, source=source, start=clock.now() - timedelta(minutes=5))
    incident = alert(source, key="k").incident
    assert incident.in_maintenance and incident.is_open
    rows = services.notify(incident, rita, round_tag="assign-1", reason="reassigned by Ada Admin")
    assert [r.channel for r in rows] == ["push", "sms", "voice"]


def test_reassigning_during_maintenance_pages_the_new_assignee(tenant, rita, admin):
    from tests.alerts.factories import alert, make_source, make_window

    source = make_source(tenant)
    make_window(tenant, source=source, start=clock.now() - timedelta(minutes=5))
    incident = alert(source, key="k").incident
    assert not Notification.objects.filter(incident=incident).exists()  # nobody paged by itself
    alert_services.assign(incident, rita, by=admin, via="dashboard")
    assert sorted(Notification.objects.filter(incident=incident, user=rita).values_list("channel", flat=True)) == [
        "push", "sms", "voice"]


def test_accepting_cancels_the_pending_steps(tenant, rita):
    incident = open_incident(tenant)
    services.notify(incident, rita, round_tag="r1")
    engine.dispatch()  # the push at 0 goes out (dev outbox)
    alert_services.accept(incident, by=rita, via="dashboard")
    statuses = dict(Notification.objects.values_list("channel", "status"))
    assert statuses == {"push": S.SENT, "sms": S.CANCELLED, "voice": S.CANCELLED}
    assert incident.log_entries.filter(message__contains="2 pending notifications cancelled: accepted by").exists()
    with time_machine.travel(clock.now() + timedelta(minutes=30), tick=False):
        assert engine.tick() == 0


def test_resolving_cancels_the_pending_steps(tenant, rita):
    incident = open_incident(tenant)
    services.notify(incident, rita, round_tag="r1")
    alert_services.resolve(incident, via="api")
    assert set(Notification.objects.values_list("status", flat=True)) == {S.CANCELLED}


def texted(user):
    make_rule(user, make_method(user, "sms", "+4915187654321"), "HIGH", 0)
    return user


def test_reply_codes_are_per_recipient_reused_per_incident_and_recycled_after_resolution(tenant, rita, admin):
    texted(admin)
    first, second = open_incident(tenant), open_incident(tenant)
    code_1 = services.notify(first, rita, round_tag="r1")[0].reply_code
    code_2 = services.notify(second, rita, round_tag="r1")[0].reply_code
    assert (code_1, code_2) == (1, 2)
    assert services.notify(first, rita, round_tag="r2")[0].reply_code == 1
    assert services.notify(second, admin, round_tag="r1")[0].reply_code == 1  # per recipient
    alert_services.resolve(first)
    assert services.notify(open_incident(tenant), rita, round_tag="r1")[0].reply_code == 1


def test_a_batch_fills_the_gaps_left_by_resolved_incidents_first_then_counts_on(tenant, rita, admin):
    """The database hands back only the gaps between taken codes; each recipient fills theirs."""
    texted(admin)
    taken = [open_incident(tenant) for _ in range(5)]
    for incident in taken:
        services.notify(incident, rita, round_tag="r1")
    alert_services.resolve(taken[1])
    alert_services.resolve(taken[3])
    fresh = [open_incident(tenant) for _ in range(4)]
    services.notify_many([(incident, rita, "r1", "") for incident in fresh]
                         + [(incident, admin, "r1", "") for incident in fresh[:2]] + [(taken[2], rita, "r2", "")])

    def code(incident, user):
        return set(Notification.objects.filter(incident=incident, user=user).values_list("reply_code", flat=True))

    assert [code(incident, rita) for incident in fresh] == [{2}, {4}, {6}, {7}]
    assert [code(incident, admin) for incident in fresh[:2]] == [{1}, {2}]
    assert code(taken[2], rita) == {3}  # paged again: the incident keeps its code


def code_of(incident, user):
    return Notification.objects.filter(incident=incident, user=user).values_list("reply_code", flat=True).first()


def test_the_search_for_free_codes_starts_at_a_floor_or_at_a_code_released_since(tenant, rita):
    from notifications.models import ReplyCodeFloor, ReplyCodeRelease

    incidents = [open_incident(tenant) for _ in range(6)]
    services.notify_many([(incident, rita, "r1", "") for incident in incidents])
    assert ReplyCodeFloor.objects.get(user=rita).lowest == 7  # codes 1-6 are taken
    alert_services.resolve(incidents[4])
    alert_services.resolve(incidents[2])
    assert sorted(ReplyCodeRelease.objects.filter(user=rita).values_list("code", flat=True)) == [3, 5]
    fresh = [open_incident(tenant) for _ in range(3)]
    services.notify_many([(incident, rita, "r1", "") for incident in fresh])
    assert [code_of(incident, rita) for incident in fresh] == [3, 5, 7]
    assert ReplyCodeFloor.objects.get(user=rita).lowest == 8
    assert not ReplyCodeRelease.objects.filter(user=rita).exists()  # consumed by that search


def test_wherever_the_search_starts_two_open_incidents_never_share_a_code(tenant, rita):
    from notifications.models import ReplyCodeFloor

    incidents = [open_incident(tenant) for _ in range(5)]
    services.notify_many([(incident, rita, "r1", "") for incident in incidents])  # codes 1-5
    ReplyCodeFloor.objects.filter(user=rita).update(lowest=2)  # too low: the search reads more
    paged_again = open_incident(tenant)
    services.notify(paged_again, rita, round_tag="r1")
    assert code_of(paged_again, rita) == 6
    ReplyCodeFloor.objects.filter(user=rita).update(lowest=9)  # too high: codes come out larger
    higher = open_incident(tenant)
    services.notify(higher, rita, round_tag="r1")
    assert code_of(higher, rita) == 9
    ReplyCodeFloor.objects.filter(user=rita).delete()  # codes handed out before floors existed
    alert_services.resolve(incidents[1])
    second = open_incident(tenant)
    services.notify(second, rita, round_tag="r1")
    assert code_of(second, rita) == 2


def test_only_pages_with_an_sms_step_carry_a_reply_code(tenant, rita, admin):
    """A code is what an SMS asks to answer with; email, push and calls answer by link or keypress."""
    incident = open_incident(tenant)
    services.notify(incident, rita, round_tag="r1")
    services.notify(incident, admin, round_tag="r1")  # no contact methods: email to the login address
    by_user = dict(Notification.objects.filter(incident=incident).values_list("user_id", "reply_code").distinct())
    assert by_user == {rita.pk: 1, admin.pk: None}


def test_opted_in_users_get_a_notice_when_someone_else_accepts(tenant, rita, admin):
    NotificationSettings.objects.create(tenant=tenant, user=rita, notify_on_accept=True)
    NotificationSettings.objects.create(tenant=tenant, user=admin, notify_on_accept=True)
    incident = open_incident(tenant)
    services.notify(incident, rita, round_tag="r1")
    services.notify(incident, admin, round_tag="r1")
    alert_services.accept(incident, by=admin, via="dashboard")
    notices = Notification.objects.filter(kind=Notification.Kind.NOTICE)
    assert [(n.user, n.channel) for n in notices] == [(rita, "push")]  # not to the acceptor himself
    assert notices[0].body.startswith(f"#{incident.number} accepted by Ada Admin")
    engine.dispatch()
    assert notices[0].__class__.objects.get(pk=notices[0].pk).status == S.SENT


def test_no_notice_without_opting_in(tenant, rita, admin):
    incident = open_incident(tenant)
    services.notify(incident, rita, round_tag="r1")
    alert_services.resolve(incident, by=admin)
    assert not Notification.objects.filter(kind=Notification.Kind.NOTICE).exists()


def test_a_concurrent_twin_call_never_doubles_a_page(tenant, rita, monkeypatch):
    """Another transaction writes the same (incident, user, step, round) between our check and our
    insert: the unique key keeps one row; the other steps are still written."""
    incident = open_incident(tenant)
    original = reply_codes.assign

    def twin_writes_first(pairs):
        codes = original(pairs)
        Notification.objects.create(
            tenant=tenant, incident=incident, user=rita, channel="sms", address="+4915112345678",
            step="twin", dedup_key=outbox.key("page", incident.pk, rita.pk,
                                                 services.steps_for(rita, "HIGH")[0][1].key, "r1"),
            due_at=clock.now(), reply_code=codes[(rita.pk, incident.pk)])
        return codes

    monkeypatch.setattr(reply_codes, "assign", twin_writes_first)
    created = services.notify(incident, rita, round_tag="r1")
    assert [r.channel for r in created] == ["push", "voice"]  # the SMS step was the twin's
    assert Notification.objects.filter(incident=incident).count() == 3


def test_tokens_made_in_bulk_are_distinct_and_shaped_like_single_ones():
    import re

    from notifications.models import new_token, new_tokens

    tokens = new_tokens(500)
    assert len(set(tokens)) == 500
    assert all(re.fullmatch(r"[a-z2-7]{20}", token) for token in [*tokens, new_token()])


def test_one_call_pages_each_round_once_and_says_so_once_per_round(tenant, rita):
    incident = open_incident(tenant)
    services.notify_many([(incident, rita, "r1", "level 1"), (incident, rita, "r1", "level 1"),
                          (incident, rita, "assign-9", "assigned by Ada")])
    rounds = list(Notification.objects.filter(incident=incident, step_delay=0, channel="push")
                  .values_list("round_tag", flat=True).order_by("round_tag"))
    assert rounds == ["assign-9", "r1"]
    said = incident.log_entries.filter(kind=LogKind.NOTIFICATION).values_list("data__round", flat=True)
    assert sorted(said) == ["assign-9", "r1"]
    assert len({code for code in Notification.objects.filter(incident=incident).values_list("reply_code", flat=True)}) == 1


def test_the_timeline_names_only_the_steps_written_this_time(tenant, rita):
    incident = open_incident(tenant)
    services.notify(incident, rita, round_tag="r1")
    Notification.objects.filter(incident=incident).exclude(channel="sms").delete()  # as if only the SMS was there
    services.notify(incident, rita, round_tag="r1")
    first, second = incident.log_entries.filter(kind=LogKind.NOTIFICATION).order_by("id")
    assert "push now" in first.message and "SMS after 1 min" in first.message
    assert "push now" in second.message and "call after 5 min" in second.message
    assert "SMS" not in second.message
