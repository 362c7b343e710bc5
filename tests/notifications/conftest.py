import pytest
import responses
from twilio.request_validator import RequestValidator

from notifications import providers

from .fakes import FakeFcm, FakeTwilio, service_account

SID = "AC" + "0123456789abcdef" * 2
AUTH_TOKEN = "platform-auth-token"
FROM = "+15005550006"
SITE = "https://ilert.example.com"


@pytest.fixture(autouse=True)
def _site(settings):
    settings.SITE_URL = SITE
    settings.TWILIO_ACCOUNT_SID = settings.TWILIO_AUTH_TOKEN = settings.TWILIO_FROM_NUMBER = ""
    settings.TWILIO_API_BASE_URL = ""
    settings.FIREBASE_CREDENTIALS_FILE = ""
    settings.INBOUND_EMAIL_DOMAIN = "in.ilert.example.com"
    providers.reset_caches()
    yield
    providers.reset_caches()


@pytest.fixture
def http():
    """Every outgoing HTTP request of the requests library is intercepted; an unknown one fails."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


@pytest.fixture
def twilio(settings, http):
    """The platform's Twilio account, faked at the HTTP layer. A request it did not expect (another
    path, an account it does not serve) fails the test at teardown (docs/contributing.md, "Tests")."""
    settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN, settings.TWILIO_FROM_NUMBER = SID, AUTH_TOKEN, FROM
    providers.reset_caches()
    fake = FakeTwilio(SID, AUTH_TOKEN).install(http)
    yield fake
    assert fake.unexpected == [], f"unexpected requests at the fake Twilio: {fake.unexpected}"


def own_twilio(tenant, admin, twilio, *, sid, token, number):
    """`tenant` brings its own Twilio account (saved through the service, so proven with the fake,
    which serves it with that token and number)."""
    from notifications import services

    twilio.add_account(sid, token, numbers=[number])
    services.save_provider_settings(tenant, by=admin, twilio_account_sid=sid, twilio_auth_token=token,
                                    twilio_from_number=number)


@pytest.fixture(scope="session")
def firebase_credentials():
    return service_account()


@pytest.fixture
def fcm(settings, http, tmp_path, firebase_credentials):
    path = tmp_path / "firebase.json"
    path.write_text(firebase_credentials)
    settings.FIREBASE_CREDENTIALS_FILE = str(path)
    return FakeFcm().install(http)


def twilio_post(client, path, params, *, token=AUTH_TOKEN, signature=None, account_sid=SID):
    """POST a webhook the way Twilio does: form-encoded, signed with the account's auth token."""
    params = {"AccountSid": account_sid, **params}
    url = "http://testserver" + path
    if signature is None:
        signature = RequestValidator(token).compute_signature(url, params)
    headers = {"HTTP_X_TWILIO_SIGNATURE": signature} if signature else {}
    return client.post(path, params, **headers)
