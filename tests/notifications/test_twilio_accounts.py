"""Whose Twilio account is whose. An Account SID belongs to the platform or to exactly one
organisation; a webhook is checked only with the auth token of the account it names (AccountSid),
and what it may reach — senders, pages, STOP/START — is limited to the organisations that account
serves: the platform account serves every organisation without its own, an organisation's own
account serves that organisation only."""

import pytest
from django.db import IntegrityError, transaction
from django.test import Client

from alerts.models import Incident
from ilert import secrets
from ilert.errors import DomainError
from notifications import engine, services
from notifications.models import ContactMethod, Notification, ProviderSettings
from tests.factories import UserFactory

from .conftest import AUTH_TOKEN, SID, own_twilio, twilio_post
from .factories import make_method, make_rule, open_incident

pytestmark = pytest.mark.django_db
NUMBER = "+4915112345678"
ACME_SID, ACME_TOKEN, ACME_FROM = "AC" + "a" * 32, "acme-token", "+4930111111111"
GLOBEX_SID, GLOBEX_TOKEN, GLOBEX_FROM = "AC" + "b" * 32, "globex-token", "+4930222222222"


def paged(tenant, user, kind="sms", number=NUMBER):
    method = ContactMethod.objects.filter(user=user, kind=kind, address=number).first()
    if method is None:
        make_rule(user, make_method(user, kind, number, bundle_seconds=0), "HIGH", 0)
    incident = open_incident(tenant)
    services.notify(incident, user, round_tag="r1")
    engine.dispatch()
    return incident, Notification.objects.get(incident=incident, channel=kind)


def sms(body, *, account_sid, token, number=NUMBER):
    return twilio_post(Client(), "/notifications/twilio/sms", {"From": number, "To": "+15005550006", "Body": body},
                       token=token, account_sid=account_sid)


def status(incident):
    return Incident.objects.get(pk=incident.pk).status


def taken_over(tenant, sid, token):
    """A row as an attacker would want it (or as it may exist from before the constraint): the
    tenant's settings name someone else's Account SID with a token of its own choosing."""
    return ProviderSettings.objects.create(tenant=tenant, twilio_account_sid=sid,
                                           twilio_auth_token_encrypted=secrets.encrypt(token),
                                           twilio_from_number="+4930999999999")


# --- who may save which Account SID -------------------------------------------------------------


def test_an_organisation_cannot_save_the_platforms_account_sid(tenant, admin, twilio):
    with pytest.raises(DomainError) as refused:
        services.save_provider_settings(tenant, by=admin, twilio_account_sid=SID, twilio_auth_token="chosen-token",
                                        twilio_from_number="+4930123456789")
    assert refused.value.field == "twilio_account_sid"
    assert not ProviderSettings.objects.filter(twilio_account_sid=SID).exists()


def test_the_api_refuses_the_platforms_account_sid_with_a_4xx(tenant, admin, api, twilio):
    response = api.put("/api/v1/notification-providers", {
        "twilio_account_sid": SID, "twilio_auth_token": "chosen-token", "twilio_from_number": "+4930123456789"},
        format="json")
    assert 400 <= response.status_code < 500 and list(response.json()["fields"]) == ["twilio_account_sid"]
    assert not ProviderSettings.objects.filter(twilio_account_sid=SID).exists()


def test_an_account_sid_belongs_to_one_organisation_only(tenant, admin, other_tenant, outsider, twilio):
    own_twilio(tenant, admin, twilio, sid=ACME_SID, token=ACME_TOKEN, number=ACME_FROM)
    with pytest.raises(DomainError) as refused:
        services.save_provider_settings(other_tenant, by=outsider, twilio_account_sid=ACME_SID,
                                        twilio_auth_token="chosen-token", twilio_from_number="+4930123456789")
    assert refused.value.field == "twilio_account_sid"
    assert list(ProviderSettings.objects.filter(twilio_account_sid=ACME_SID).values_list("tenant", flat=True)) == [
        tenant.pk]
    # the owner saves its own settings again (e.g. a new token, rotated at Twilio first): fine
    twilio.add_account(ACME_SID, "rotated")
    services.save_provider_settings(tenant, by=admin, twilio_account_sid=ACME_SID, twilio_auth_token="rotated",
                                    twilio_from_number=ACME_FROM)
    assert ProviderSettings.objects.get(tenant=tenant).twilio_auth_token == "rotated"
    # and the database itself refuses a second organisation on the same SID
    with pytest.raises(IntegrityError), transaction.atomic():
        taken_over(other_tenant, ACME_SID, "chosen-token")
    # organisations without Twilio of their own (empty SID) are of course many
    ProviderSettings.objects.create(tenant=other_tenant)
    ProviderSettings.objects.create(tenant=UserFactory().tenant)


# --- SMS answers ---------------------------------------------------------------------------------


def test_a_reply_signed_with_another_organisations_token_for_the_platform_sid_changes_nothing(
        tenant, responder, other_tenant, twilio):
    incident, _row = paged(tenant, responder)
    taken_over(other_tenant, SID, "globex-token")  # bypassing the service: the webhook must still refuse
    for body in ("a", "1a", "STOP"):
        assert sms(body, account_sid=SID, token="globex-token").status_code == 403
    assert status(incident) == "PENDING"
    assert not ContactMethod.objects.get(user=responder).opted_out
    assert sms("a", account_sid=SID, token=AUTH_TOKEN).status_code == 200  # the platform's own signature
    assert status(incident) == "ACCEPTED"


def test_an_organisations_own_account_answers_for_it_and_no_other_account_does(
        tenant, admin, responder, other_tenant, outsider, twilio):
    own_twilio(tenant, admin, twilio, sid=ACME_SID, token=ACME_TOKEN, number=ACME_FROM)
    own_twilio(other_tenant, outsider, twilio, sid=GLOBEX_SID, token=GLOBEX_TOKEN, number=GLOBEX_FROM)
    incident, row = paged(tenant, responder)
    assert twilio.sms[0]["account_sid"] == ACME_SID and row.provider_account == ACME_SID
    # Globex signs with its token for Acme's account: the signature is checked with Acme's token only
    assert sms("1a", account_sid=ACME_SID, token=GLOBEX_TOKEN).status_code == 403
    # Globex's own account, properly signed: it serves Globex only
    refused = sms("1a", account_sid=GLOBEX_SID, token=GLOBEX_TOKEN)
    assert refused.status_code == 200 and "not a verified contact method" in refused.content.decode()
    # the platform account does not serve an organisation with its own
    refused = sms("1a", account_sid=SID, token=AUTH_TOKEN)
    assert refused.status_code == 200 and "not a verified contact method" in refused.content.decode()
    assert status(incident) == "PENDING"
    # no AccountSid at all: no account, no token to check with
    assert twilio_post(Client(), "/notifications/twilio/sms", {"From": NUMBER, "Body": "1a"}, token=AUTH_TOKEN,
                       account_sid="").status_code == 403
    answer = sms("1a", account_sid=ACME_SID, token=ACME_TOKEN)
    assert f"#{incident.number} accepted." in answer.content.decode()
    assert status(incident) == "ACCEPTED"


def test_a_number_in_two_organisations_is_answered_in_the_one_the_account_serves(
        tenant, responder, other_tenant, outsider, twilio):
    globex_user = UserFactory(tenant=other_tenant, role="responder")
    own_twilio(other_tenant, outsider, twilio, sid=GLOBEX_SID, token=GLOBEX_TOKEN, number=GLOBEX_FROM)
    mine, _ = paged(tenant, responder)  # through the platform
    theirs, _ = paged(other_tenant, globex_user)  # through Globex's account, later: the "latest" page
    assert sms("a", account_sid=GLOBEX_SID, token=GLOBEX_TOKEN).status_code == 200
    assert (status(mine), status(theirs)) == ("PENDING", "ACCEPTED")
    assert sms("1r", account_sid=SID, token=AUTH_TOKEN).status_code == 200
    assert (status(mine), status(theirs)) == ("RESOLVED", "ACCEPTED")


# --- STOP / START --------------------------------------------------------------------------------


def test_stop_and_start_change_only_the_organisations_the_receiving_account_serves(
        tenant, responder, other_tenant, outsider, twilio):
    globex_user = UserFactory(tenant=other_tenant, role="responder")
    own_twilio(other_tenant, outsider, twilio, sid=GLOBEX_SID, token=GLOBEX_TOKEN, number=GLOBEX_FROM)
    mine = make_method(responder, "sms", NUMBER)
    theirs = make_method(globex_user, "sms", NUMBER)

    def opted_out():
        return (ContactMethod.objects.get(pk=mine.pk).opted_out, ContactMethod.objects.get(pk=theirs.pk).opted_out)

    assert sms("STOP", account_sid=SID, token=AUTH_TOKEN).status_code == 200
    assert opted_out() == (True, False)
    assert sms("STOP", account_sid=GLOBEX_SID, token=GLOBEX_TOKEN).status_code == 200
    assert opted_out() == (True, True)
    assert sms("START", account_sid=SID, token=AUTH_TOKEN).status_code == 200
    assert opted_out() == (False, True)


# --- voice and status webhooks -------------------------------------------------------------------


def test_gather_and_status_webhooks_take_only_the_serving_accounts_signature(
        tenant, admin, responder, other_tenant, outsider, twilio):
    incident, call = paged(tenant, responder, "voice")  # through the platform
    taken_over(other_tenant, SID, "globex-token")
    gather = f"/notifications/twilio/voice/{call.token}/gather"
    assert twilio_post(Client(), gather, {"Digits": "2"}, token="globex-token", account_sid=SID).status_code == 403
    assert twilio_post(Client(), f"/notifications/twilio/status/{call.token}",
                       {"CallSid": call.provider_id, "CallStatus": "completed"},
                       token="globex-token", account_sid=SID).status_code == 403
    assert status(incident) == "PENDING"
    assert Notification.objects.get(pk=call.pk).status == "sent"

    ProviderSettings.objects.filter(tenant=other_tenant).delete()
    own_twilio(tenant, admin, twilio, sid=ACME_SID, token=ACME_TOKEN, number=ACME_FROM)
    own_twilio(other_tenant, outsider, twilio, sid=GLOBEX_SID, token=GLOBEX_TOKEN, number=GLOBEX_FROM)
    incident, call = paged(tenant, responder, "voice")  # through Acme's own account
    assert twilio.calls[-1]["account_sid"] == ACME_SID
    gather = f"/notifications/twilio/voice/{call.token}/gather"
    for sid, token in ((SID, AUTH_TOKEN), (GLOBEX_SID, GLOBEX_TOKEN), (ACME_SID, GLOBEX_TOKEN)):
        assert twilio_post(Client(), gather, {"Digits": "2"}, token=token, account_sid=sid).status_code == 403
    assert status(incident) == "PENDING"
    delivered = twilio_post(Client(), f"/notifications/twilio/status/{call.token}",
                            {"CallSid": call.provider_id, "CallStatus": "completed"},
                            token=ACME_TOKEN, account_sid=ACME_SID)
    assert delivered.status_code == 204 and Notification.objects.get(pk=call.pk).status == "delivered"
    answer = twilio_post(Client(), gather, {"Digits": "2"}, token=ACME_TOKEN, account_sid=ACME_SID)
    assert f"#{incident.number} resolved." in answer.content.decode()
    assert status(incident) == "RESOLVED"
