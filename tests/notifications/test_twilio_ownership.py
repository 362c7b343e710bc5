"""Twilio Account SIDs and phone numbers are proven with Twilio, not claimed first-come
(notifications/twilio_ownership.py). The real twilio library talks to a fake Twilio API served on
127.0.0.1 (TWILIO_API_BASE_URL re-hosts the client), which checks each account's credentials."""

import socket

import pytest
from django.test import Client

from alerts import services as alert_services
from alerts.models import AlertSource
from ilert.errors import Conflict, DomainError
from notifications import providers, services
from notifications.models import ProviderSettings
from tests.alerts.factories import make_source

from .fakes import FakeTwilio, FakeTwilioServer, platform_twilio

pytestmark = pytest.mark.django_db
OWN_SID, OWN_TOKEN, OWN_NUMBER = "AC" + "c" * 32, "initech-token", "+4930555555555"
PLATFORM_NUMBER, OTHER_NUMBER = "+14155552671", "+14155550100"


@pytest.fixture
def twilio_api(settings):
    """Twilio (the fake) on 127.0.0.1, where an organisation's own account lives; no platform account."""
    fake = FakeTwilio("AC" + "0" * 32, "unused").add_account(OWN_SID, OWN_TOKEN, numbers=[OWN_NUMBER])
    with FakeTwilioServer(fake) as server:
        settings.TWILIO_API_BASE_URL = server.url
        providers.reset_caches()
        yield fake


@pytest.fixture
def platform(settings):
    with platform_twilio(settings, PLATFORM_NUMBER) as fake:
        fake.add_account(OWN_SID, OWN_TOKEN, numbers=[OWN_NUMBER])
        yield fake


@pytest.fixture
def unreachable(settings):
    """A port on 127.0.0.1 nobody listens on: connections are refused at once."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings.TWILIO_API_BASE_URL = f"http://127.0.0.1:{port}"
    providers.reset_caches()


def put(api, **fields):
    return api.put("/api/v1/notification-providers", fields, format="json")


def own(sid=OWN_SID, token=OWN_TOKEN, number=OWN_NUMBER):
    return {"twilio_account_sid": sid, "twilio_auth_token": token, "twilio_from_number": number}


def asked(fake):
    return [(r["kind"], r["account_sid"], r["params"].get("PhoneNumber")) for r in fake.requests]


# --- an organisation's own Twilio credentials ------------------------------------------------------------


def test_credentials_twilio_accepts_with_a_number_of_the_account_are_saved(api, tenant, twilio_api):
    response = put(api, **own())
    assert response.status_code == 200, response.content
    assert response.json()["twilio"]["in_use"] == "tenant"
    assert ProviderSettings.objects.get(tenant=tenant).twilio_account_sid == OWN_SID
    assert asked(twilio_api) == [("Account", OWN_SID, None), ("IncomingPhoneNumbers", OWN_SID, OWN_NUMBER)]


@pytest.mark.parametrize("credentials, field", [
    (own(sid="AC" + "d" * 32), "twilio_account_sid"),  # a made-up SID
    (own(token="guessed-token"), "twilio_account_sid"),  # someone else's SID, without its token
    (own(number="+4930666666666"), "twilio_from_number"),  # a number that is not the account's
])
def test_credentials_or_numbers_twilio_does_not_confirm_are_refused_and_nothing_is_saved(api, tenant, twilio_api,
                                                                                         credentials, field):
    response = put(api, **credentials)
    assert response.status_code == 400, response.content
    assert list(response.json()["fields"]) == [field]
    assert not ProviderSettings.objects.filter(tenant=tenant).exclude(twilio_account_sid="").exists()


def test_a_suspended_account_is_refused(api, tenant, twilio_api):
    twilio_api.account_status[OWN_SID] = "suspended"
    response = put(api, **own())
    assert response.status_code == 400 and "suspended" in response.json()["fields"]["twilio_account_sid"][0]


def test_twilio_unreachable_or_failing_is_a_503_and_nothing_is_saved(api, tenant, unreachable):
    response = put(api, **own())
    assert response.status_code == 503 and response.json()["code"] == "twilio_unavailable"
    assert "could not be reached" in response.json()["message"]
    assert not ProviderSettings.objects.filter(tenant=tenant).exclude(twilio_account_sid="").exists()


def test_a_twilio_outage_is_a_503(api, tenant, twilio_api):
    twilio_api.outage = 503
    assert put(api, **own()).status_code == 503
    assert not ProviderSettings.objects.filter(tenant=tenant).exclude(twilio_account_sid="").exists()


def test_a_new_token_or_number_is_proven_again_and_unchanged_values_are_not(api, tenant, twilio_api):
    assert put(api, **own()).status_code == 200
    before = len(twilio_api.requests)
    assert put(api, twilio_account_sid=OWN_SID, twilio_from_number=OWN_NUMBER).status_code == 200  # token kept
    assert len(twilio_api.requests) == before
    assert put(api, twilio_auth_token="a-new-guess").status_code == 400
    assert ProviderSettings.objects.get(tenant=tenant).twilio_auth_token == OWN_TOKEN
    assert put(api, twilio_from_number="+4930666666666").status_code == 400
    assert ProviderSettings.objects.get(tenant=tenant).twilio_from_number == OWN_NUMBER


def test_the_dashboard_form_refuses_a_made_up_account(admin, tenant, twilio_api):
    client = Client()
    client.force_login(admin)
    response = client.post("/notifications/providers/", own(sid="AC" + "d" * 32), follow=True)
    assert "Twilio did not accept this Account SID" in response.content.decode()
    assert not ProviderSettings.objects.filter(tenant=tenant).exclude(twilio_account_sid="").exists()


# --- numbers of SMS alert sources ------------------------------------------------------------------------


def sms_source(api, number):
    return api.post("/api/v1/alert-sources", {"name": "SMS line", "integration_type": "sms",
                                              "options": {"phone_number": number}}, format="json")


def test_an_sms_source_takes_a_number_of_the_platforms_account(api, platform):
    response = sms_source(api, "+1 415 555 2671")
    assert response.status_code == 201, response.content
    assert AlertSource.objects.get().inbound_number == PLATFORM_NUMBER
    assert asked(platform) == [("IncomingPhoneNumbers", platform.account_sid, PLATFORM_NUMBER)]


def test_a_number_the_platforms_account_does_not_have_is_refused_and_nothing_is_saved(api, platform):
    response = sms_source(api, OTHER_NUMBER)
    assert response.status_code == 400, response.content
    message = response.json()["fields"]["options"][0]
    assert OTHER_NUMBER in message and "platform's Twilio account" in message
    assert not AlertSource.objects.exists()


def test_a_proven_number_still_belongs_to_one_organisation(api, outsider_api, platform):
    assert sms_source(api, PLATFORM_NUMBER).status_code == 201
    taken = sms_source(outsider_api, PLATFORM_NUMBER)
    assert taken.status_code == 409 and taken.json()["fields"] == {"options": ["This number cannot be used."]}
    assert AlertSource.objects.count() == 1


def test_with_its_own_twilio_an_organisation_takes_numbers_of_its_account_or_the_platforms(api, tenant, admin,
                                                                                         platform):
    services.save_provider_settings(tenant, by=admin, **own())
    response = sms_source(api, OWN_NUMBER)
    assert response.status_code == 201, response.content
    assert ("IncomingPhoneNumbers", OWN_SID, OWN_NUMBER) in asked(platform)
    refused = sms_source(api, OTHER_NUMBER)
    assert refused.status_code == 400
    assert "your Twilio account or the platform's Twilio account" in refused.json()["fields"]["options"][0]
    AlertSource.objects.all().delete()
    assert sms_source(api, PLATFORM_NUMBER).status_code == 201


def test_a_number_of_another_organisations_own_account_is_refused(api, other_tenant, outsider,
                                                                  platform):
    services.save_provider_settings(other_tenant, by=outsider, **own())
    assert sms_source(api, OWN_NUMBER).status_code == 400  # neither ours nor the platform's
    assert not AlertSource.objects.exists()


def test_without_any_twilio_numbers_are_accepted_unchecked_as_in_the_dev_outbox(api, settings):
    settings.TWILIO_API_BASE_URL = "http://127.0.0.1:9"  # would fail if anything were asked
    assert sms_source(api, OTHER_NUMBER).status_code == 201


def test_a_platform_configured_by_halves_refuses_numbers_it_cannot_prove(api, settings):
    settings.TWILIO_AUTH_TOKEN = "only-the-token"
    response = sms_source(api, OTHER_NUMBER)
    assert response.status_code == 503 and "TWILIO_ACCOUNT_SID" in response.json()["message"]
    assert not AlertSource.objects.exists()


def test_twilio_unreachable_refuses_a_new_number_with_503(api, settings, unreachable):
    settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN = "AC" + "f" * 32, "platform-token"
    response = sms_source(api, PLATFORM_NUMBER)
    assert response.status_code == 503 and response.json()["code"] == "twilio_unavailable"
    assert not AlertSource.objects.exists()


def test_other_changes_of_a_source_do_not_ask_twilio_again(tenant, platform, settings):
    source = make_source(tenant, integration_type="sms", options={"phone_number": PLATFORM_NUMBER})
    platform.outage = 503
    alert_services.update_alert_source(source, name="Renamed",
                                       options={"phone_number": PLATFORM_NUMBER, "allowed_senders": "*"})
    with pytest.raises(DomainError):
        alert_services.update_alert_source(source, options={"phone_number": OTHER_NUMBER})
    assert AlertSource.objects.get(pk=source.pk).inbound_number == PLATFORM_NUMBER


def test_the_dashboard_form_refuses_a_number_that_is_not_the_platforms(admin, tenant, platform):
    source = make_source(tenant, integration_type="sms")
    client = Client()
    client.force_login(admin)
    response = client.post(f"/alert-sources/{source.pk}/integration-settings", {"phone_number": OTHER_NUMBER},
                           follow=True)
    assert "is not a phone number of the platform" in response.content.decode()
    assert AlertSource.objects.get(pk=source.pk).inbound_number is None


def test_a_conflict_is_not_hidden_behind_the_check(tenant, other_tenant, platform):
    make_source(tenant, integration_type="sms", options={"phone_number": PLATFORM_NUMBER})
    with pytest.raises(Conflict):
        make_source(other_tenant, integration_type="sms", options={"phone_number": PLATFORM_NUMBER})
