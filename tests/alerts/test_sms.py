"""Inbound SMS alert sources: Twilio's inbound message webhook with a real X-Twilio-Signature."""

import threading
import uuid

import pytest
from django.db import IntegrityError, connection, transaction
from django.test import Client
from twilio.request_validator import RequestValidator

from alerts import services
from alerts.models import AlertSource, Incident
from ilert.errors import Conflict, DomainError
from tests.notifications.fakes import platform_twilio

from .factories import make_source

TOKEN = "twilio-auth-token-for-tests"
URL = "http://testserver/integrations/twilio/sms"
NUMBER = "+14155552671"
ONCALL = "+4915123456789"


@pytest.fixture(autouse=True)
def twilio_token(settings):
    with platform_twilio(settings, NUMBER, token=TOKEN) as fake:  # the platform's account owns NUMBER (proven at save)
        yield fake


@pytest.fixture
def source(tenant):
    return make_source(tenant, name="SMS line", integration_type="sms",
                       options={"phone_number": "+1 415 555 2671", "allowed_senders": [ONCALL]})


def params(body="Server room too hot", sender=ONCALL, to=NUMBER, **extra):
    return {"MessageSid": "SM" + uuid.uuid4().hex, "AccountSid": "AC" + "1" * 32, "From": sender, "To": to, "Body": body,
            "NumMedia": "0", **extra}


def send(data, signature=None, token=TOKEN):
    if signature is None:
        signature = RequestValidator(token).compute_signature(URL, data)
    headers = {"HTTP_X_TWILIO_SIGNATURE": signature} if signature else {}
    return Client().post("/integrations/twilio/sms", data, **headers)


def test_options_store_the_number_in_e164(source):
    assert source.options["phone_number"] == NUMBER


def test_a_signed_sms_from_an_allowed_sender_opens_an_incident(source):
    response = send(params())
    assert response.status_code == 200 and b"<Response>" in response.content
    assert response["Content-Type"].startswith("text/xml")
    incident = Incident.objects.get()
    assert incident.summary == "Server room too hot" and incident.alert_source == source
    assert incident.labels == {"from": ONCALL, "to": NUMBER}
    assert incident.log_entries.filter(via="sms").exists()


@pytest.mark.parametrize("signature", ["", "bm90IGEgc2lnbmF0dXJl"])
def test_forged_or_missing_signatures_get_403_and_change_nothing(source, signature):
    assert send(params(), signature=signature).status_code == 403
    assert not Incident.objects.exists()


def test_a_signature_over_other_parameters_is_forged(source):
    signature = RequestValidator(TOKEN).compute_signature(URL, params(body="harmless"))
    assert send(params(body="rm -rf"), signature=signature).status_code == 403
    assert not Incident.objects.exists()


def test_a_signature_with_another_token_is_forged(source):
    assert send(params(), token="someone-elses-token").status_code == 403


def test_without_a_configured_token_every_request_is_refused(source, settings):
    settings.TWILIO_AUTH_TOKEN = ""
    assert send(params(), token="anything").status_code == 403
    assert not Incident.objects.exists()


def test_senders_not_allowed_and_unknown_numbers_are_refused(source):
    assert send(params(sender="+4930901820")).status_code == 403
    assert send(params(to="+14155550100")).status_code == 404
    assert not Incident.objects.exists()


def test_nobody_may_send_until_senders_are_allowed_and_star_allows_anyone(tenant):
    source = make_source(tenant, integration_type="sms", options={"phone_number": NUMBER})
    assert send(params()).status_code == 403
    services.update_alert_source(source, options={"phone_number": NUMBER, "allowed_senders": "*"})
    assert send(params(sender="+4930901820")).status_code == 200


def test_whatever_parameters_arrive_are_covered_by_the_signature(source):
    assert send(params(MediaUrl0="https://api.twilio.com/x.jpg", NumMedia="1", FromCity="BERLIN")).status_code == 200


def test_a_disabled_source_is_refused(source):
    services.update_alert_source(source, status="disabled")
    assert send(params()).status_code == 403 and not Incident.objects.exists()


@pytest.mark.parametrize("options", [{"phone_number": "12"}, {"phone_number": "+1 555"},
                                     {"phone_number": NUMBER, "allowed_senders": ["nope"]}])
def test_invalid_numbers_are_refused(tenant, options):
    with pytest.raises(DomainError):
        make_source(tenant, integration_type="sms", options=options)


def test_a_number_belongs_to_one_source(source, tenant):
    with pytest.raises(DomainError):
        make_source(tenant, integration_type="sms", options={"phone_number": NUMBER})
    services.update_alert_source(source, options={"phone_number": NUMBER, "allowed_senders": [ONCALL]})  # itself: fine


def test_another_tenant_cannot_take_the_number_and_learns_nothing_about_it(source, other_tenant, outsider_api):
    with pytest.raises(Conflict) as excinfo:
        make_source(other_tenant, integration_type="sms", options={"phone_number": "+1 (415) 555-2671"})
    assert excinfo.value.message == "This number cannot be used."
    response = outsider_api.post("/api/v1/alert-sources", {"name": "Mine now", "integration_type": "sms",
                                                           "options": {"phone_number": NUMBER}}, format="json")
    assert response.status_code == 409
    assert response.json()["fields"] == {"options": ["This number cannot be used."]}
    assert "another" not in response.content.decode() and "source" not in response.json()["message"]
    theirs = make_source(other_tenant, integration_type="sms")
    with pytest.raises(Conflict):
        services.update_alert_source(theirs, options={"phone_number": NUMBER})
    assert AlertSource.objects.get(pk=theirs.pk).options == {} and AlertSource.objects.get(pk=theirs.pk).inbound_number is None
    assert send(params()).status_code == 200
    assert Incident.objects.get().alert_source == source


def test_the_database_holds_one_source_per_number(source, other_tenant):
    """Not a read-then-write check: the unique index refuses a second owner whatever the code does."""
    assert AlertSource.objects.get(pk=source.pk).inbound_number == NUMBER
    theirs = make_source(other_tenant, integration_type="sms")
    with pytest.raises(IntegrityError), transaction.atomic():
        AlertSource.objects.filter(pk=theirs.pk).update(inbound_number=NUMBER)


def test_the_inbound_number_follows_the_options(source, other_tenant):
    services.update_alert_source(source, options={"allowed_senders": [ONCALL]})  # the number is given up
    assert AlertSource.objects.get(pk=source.pk).inbound_number is None
    assert send(params()).status_code == 404
    theirs = make_source(other_tenant, integration_type="sms", options={"phone_number": NUMBER, "allowed_senders": "*"})
    assert send(params()).status_code == 200
    assert Incident.objects.get().alert_source == theirs
    services.update_alert_source(theirs, integration_type="api")  # no longer an SMS source: the number is free
    assert AlertSource.objects.get(pk=theirs.pk).inbound_number is None
    services.update_alert_source(source, options={"phone_number": NUMBER, "allowed_senders": [ONCALL]})
    assert AlertSource.objects.get(pk=source.pk).inbound_number == NUMBER


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_tenants_claiming_one_number_at_once_end_with_one_owner(tenant, other_tenant):
    barrier = threading.Barrier(2)
    outcomes = []

    def claim(owner):
        try:
            barrier.wait(timeout=60)
            make_source(owner, integration_type="sms", options={"phone_number": NUMBER})
            outcomes.append("created")
        except Conflict as exc:
            outcomes.append(exc.message)
        except Exception as exc:  # noqa: BLE001 - asserted below
            outcomes.append(repr(exc))
        finally:
            connection.close()

    for _ in range(5):
        AlertSource.objects.filter(integration_type="sms").delete()
        outcomes.clear()
        threads = [threading.Thread(target=claim, args=(owner,)) for owner in (tenant, other_tenant)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert sorted(outcomes) == ["This number cannot be used.", "created"]
        assert AlertSource.objects.filter(inbound_number=NUMBER).count() == 1


OWN_SID, OWN_TOKEN, OWN_NUMBER = "AC" + "2" * 32, "organisation-own-token", "+14155550100"


def _own_account(tenant, fake, sid=OWN_SID, token=OWN_TOKEN, number=OWN_NUMBER):
    from notifications import services as notification_services
    from tests.factories import UserFactory

    fake.add_account(sid, token, numbers=[number])
    notification_services.save_provider_settings(
        tenant, by=UserFactory(tenant=tenant, role="admin"), twilio_account_sid=sid, twilio_auth_token=token,
        twilio_from_number=number)


def test_a_number_on_the_organisations_own_account_is_checked_with_that_accounts_token(tenant, twilio_token):
    _own_account(tenant, twilio_token)
    make_source(tenant, name="Own line", integration_type="sms",
                options={"phone_number": OWN_NUMBER, "allowed_senders": [ONCALL]})
    signed_by_own = params(to=OWN_NUMBER, AccountSid=OWN_SID)
    assert send(signed_by_own, token=OWN_TOKEN).status_code == 200
    assert Incident.objects.get().alert_source.inbound_number == OWN_NUMBER
    assert send(params(to=OWN_NUMBER, AccountSid=OWN_SID), token=TOKEN).status_code == 403  # not its token


def test_another_organisations_account_cannot_speak_for_a_number_it_does_not_own(source, other_tenant, twilio_token):
    _own_account(other_tenant, twilio_token)  # they control this account's token, so its signature proves nothing here
    forged = params(to=NUMBER, AccountSid=OWN_SID)
    assert send(forged, token=OWN_TOKEN).status_code == 403
    assert not Incident.objects.exists()


def test_nul_characters_in_a_signed_message_are_dropped(source):
    """PostgreSQL text cannot hold NUL (0x00): a signed message that carries one still opens its
    incident, without it, and a retry of it (the same MessageSid) is still recognised."""
    data = params(body="Server\x00 room too hot", MessageSid="SM\x00" + uuid.uuid4().hex, Extra="\x00")
    assert send(data).status_code == 200
    assert send(data).status_code == 200
    incident = Incident.objects.get()
    assert incident.summary == "Server room too hot" and incident.event_count == 1


@pytest.mark.parametrize("field", ["AccountSid", "MessageSid", "From", "To"])
def test_an_unsigned_request_with_a_nul_character_is_refused(source, field):
    data = params(**{field: "AC\x00" if field == "AccountSid" else "\x00"})
    assert send(data, signature="forged").status_code == 403
    assert not Incident.objects.exists()


def test_a_body_over_the_upload_limit_is_413(source, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    assert send(params(body="x" * 2000)).status_code == 413
    assert not Incident.objects.exists()
