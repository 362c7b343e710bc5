"""/api/v1/contact-methods, /notification-rules, /notifications: a user's own; admins everyone's."""

import pytest

from ilert.models import DevMessage
from notifications import engine, services
from notifications.models import ContactMethod, NotificationRule

from .factories import make_method, make_rule, open_incident
from .fakes import FakeTwilio

pytestmark = pytest.mark.django_db


def code_sent_to(number):
    engine.dispatch()
    return DevMessage.objects.filter(channel="sms", to=number).latest("id").body.rsplit(" ", 1)[-1]


def test_a_responder_adds_and_verifies_a_phone_number(responder_api):
    created = responder_api.post("/api/v1/contact-methods", {"kind": "sms", "address": "+49 151 1234 5678"},
                                 format="json")
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["address"] == "+4915112345678" and body["verified"] is False and body["usable"] is False
    wrong = responder_api.post(f"/api/v1/contact-methods/{body['id']}/verify", {"code": "000000"}, format="json")
    assert wrong.status_code == 400 and wrong.json()["fields"] == {"code": ["That code is not right."]}
    code = code_sent_to("+4915112345678")
    verified = responder_api.post(f"/api/v1/contact-methods/{body['id']}/verify", {"code": code}, format="json")
    assert verified.status_code == 200 and verified.json()["verified"] is True


def test_bad_numbers_and_addresses_are_4xx(responder_api):
    for payload in ({"kind": "sms", "address": "12345"}, {"kind": "email", "address": "nope"},
                    {"kind": "fax", "address": "+4915112345678"}, {"kind": "push", "address": "tok"}):
        response = responder_api.post("/api/v1/contact-methods", payload, format="json")
        assert response.status_code == 400, payload
    make = {"kind": "sms", "address": "+4915112345678"}
    assert responder_api.post("/api/v1/contact-methods", make, format="json").status_code == 201
    assert responder_api.post("/api/v1/contact-methods", make, format="json").status_code == 409


def test_a_push_device_registered_by_the_app_is_verified_and_its_token_is_not_shown(responder_api):
    token = "fcm:" + "A" * 150
    created = responder_api.post("/api/v1/contact-methods", {"kind": "push", "address": token, "platform": "android",
                                                              "device_name": "Pixel"}, format="json")
    assert created.status_code == 201 and created.json()["verified"] is True
    assert token not in created.content.decode()
    assert responder_api.get("/api/v1/contact-methods").json()["results"][0]["address"] == "…AAAAAA"


def test_responders_see_and_change_only_their_own(responder, admin, responder_api):
    mine = make_method(responder, "email")
    theirs = make_method(admin, "email")
    listed = [m["id"] for m in responder_api.get("/api/v1/contact-methods").json()["results"]]
    assert listed == [mine.pk]
    assert responder_api.get(f"/api/v1/contact-methods/{theirs.pk}").status_code == 404
    assert responder_api.delete(f"/api/v1/contact-methods/{theirs.pk}").status_code == 404
    forbidden = responder_api.post("/api/v1/contact-methods", {"kind": "email", "address": "x@example.com",
                                                                "user": admin.pk}, format="json")
    assert forbidden.status_code == 403 and not ContactMethod.objects.filter(address="x@example.com").exists()


def test_admins_manage_everyones_contact_methods_and_rules(responder, api):
    created = api.post("/api/v1/contact-methods", {"kind": "voice", "address": "+4915112345678",
                                                   "user": responder.pk}, format="json")
    assert created.status_code == 201 and created.json()["user"] == responder.pk
    method = ContactMethod.objects.get(pk=created.json()["id"])
    rule = api.post("/api/v1/notification-rules", {"user": responder.pk, "priority": "HIGH",
                                                   "contact_method": method.pk, "delay_minutes": 5}, format="json")
    assert rule.status_code == 201, rule.content
    assert NotificationRule.objects.get().user == responder


def test_rules_take_only_the_users_own_contact_methods(responder, admin, responder_api):
    theirs = make_method(admin, "email")
    response = responder_api.post("/api/v1/notification-rules", {"priority": "HIGH", "contact_method": theirs.pk},
                                  format="json")
    assert response.status_code == 400
    mine = make_method(responder, "push")
    ok = responder_api.post("/api/v1/notification-rules", {"priority": "LOW", "contact_method": mine.pk,
                                                           "delay_minutes": 2}, format="json")
    assert ok.status_code == 201
    changed = responder_api.patch(f"/api/v1/notification-rules/{ok.json()['id']}", {"delay_minutes": 7}, format="json")
    assert changed.status_code == 200 and changed.json()["delay_minutes"] == 7
    too_late = responder_api.patch(f"/api/v1/notification-rules/{ok.json()['id']}", {"delay_minutes": 99999},
                                   format="json")
    assert too_late.status_code == 400


def test_contact_method_limits_can_be_set(responder, responder_api):
    method = make_method(responder, "voice")
    response = responder_api.patch(f"/api/v1/contact-methods/{method.pk}",
                                   {"throttle_max": 2, "throttle_minutes": 30, "bundle_seconds": 0}, format="json")
    assert response.status_code == 200
    method.refresh_from_db()
    assert method.throttle == (2, 30) and method.bundle_window == 0
    assert responder_api.patch(f"/api/v1/contact-methods/{method.pk}", {"throttle_max": -1},
                               format="json").status_code == 400


def test_stakeholders_cannot_write(stakeholder, stakeholder_api):
    assert stakeholder_api.post("/api/v1/contact-methods", {"kind": "email", "address": "s@example.com"},
                                format="json").status_code == 403


def test_notifications_are_readable_own_for_responders_and_all_for_admins(tenant, responder, admin, api,
                                                                          responder_api):
    incident = open_incident(tenant)
    make_rule(responder, make_method(responder, "sms"), "HIGH", 0)
    services.notify(incident, responder, round_tag="r1")
    services.notify(incident, admin, round_tag="r1")
    own = responder_api.get("/api/v1/notifications").json()["results"]
    assert {n["user"] for n in own} == {responder.pk}
    everyone = api.get("/api/v1/notifications", {"incident": incident.pk}).json()["results"]
    assert {n["user"] for n in everyone} == {responder.pk, admin.pk}
    assert responder_api.post("/api/v1/notifications", {}, format="json").status_code == 405
    assert all(n["status"] == "pending" and n["round_tag"] == "r1" for n in everyone)


def test_provider_credentials_are_write_only_in_the_api(tenant, api, responder_api, http):
    FakeTwilio("AC" + "3" * 32, "very-secret").add_number("+4930123456").install(http)  # proven at save
    state = api.get("/api/v1/notification-providers").json()
    assert state["twilio"]["in_use"] == "dev_outbox" and state["firebase"]["in_use"] == "dev_outbox"
    saved = api.put("/api/v1/notification-providers", {
        "twilio_account_sid": "AC" + "3" * 32, "twilio_auth_token": "very-secret", "twilio_from_number": "+4930123456"},
        format="json")
    assert saved.status_code == 200, saved.content
    assert "very-secret" not in saved.content.decode()
    assert saved.json()["twilio"] == {"in_use": "tenant", "account_sid": "AC" + "3" * 32,
                                      "from_number": "+4930123456", "auth_token_stored": True}
    assert saved.json()["caller_ids"] == ["+4930123456"]
    assert api.put("/api/v1/notification-providers", {"twilio_account_sid": "nope"},
                   format="json").status_code == 400
    assert api.put("/api/v1/notification-providers", {"firebase_credentials": "{}"}, format="json").status_code == 400
    assert responder_api.put("/api/v1/notification-providers", {"clear_twilio": True},
                             format="json").status_code == 403
    assert responder_api.get("/api/v1/notification-providers").json()["twilio"]["in_use"] == "tenant"
