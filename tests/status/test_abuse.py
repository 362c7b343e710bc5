"""Abuse of the public forms: addresses that are not one address, mail bombing a victim from many
client addresses, and magic links taken to another page."""

import pytest
from django.core import mail
from django.test import Client

from ilert import ratelimit
from status import access, outbox

from .factories import make_page

ANYMAIL = "anymail.backends.test.EmailBackend"


@pytest.fixture(autouse=True)
def _fresh_limits():
    ratelimit.forget_everything()
    ratelimit.reset()
    yield
    ratelimit.forget_everything()
    ratelimit.reset()


@pytest.mark.parametrize("email", [
    "eve@evil.example,pat@partner.example",
    "eve@evil.example, pat@partner.example",
    "<eve@evil.example>pat@partner.example",
    "eve@evil.example\npat@partner.example",
])
def test_a_magic_link_goes_to_one_allowed_address_or_nowhere(tenant, email):
    make_page(tenant, slug="partners", visibility="audience", allowed_email_domains=["partner.example"])
    response = Client().post("/status/partners/access", {"email": email})
    assert response.status_code in (200, 400)
    assert [m.to for m in mail.outbox] == []


def _from(n):
    return Client(REMOTE_ADDR=f"203.0.113.{n}")


def test_many_client_addresses_cannot_mail_bomb_one_address_with_magic_links(tenant):
    make_page(tenant, slug="partners", visibility="audience", allowed_email_domains=["partner.example"])
    answers = {_from(n).post("/status/partners/access", {"email": "pat@partner.example"}).status_code
               for n in range(1, 13)}
    assert len(mail.outbox) == access.MAILS_PER_ADDRESS
    assert answers == {200}  # the same answer as for any address: the allow-list is not probed


def test_many_client_addresses_cannot_mail_bomb_one_address_through_many_pages(tenant, settings):
    settings.EMAIL_BACKEND = ANYMAIL
    for n in range(12):
        make_page(tenant, slug=f"page-{n}")
    for n in range(12):
        assert _from(n + 1).post(f"/status/page-{n}/subscribe", {"email": "victim@example.org"}).status_code == 200
    outbox.dispatch()
    assert len(mail.outbox) == access.MAILS_PER_ADDRESS


def test_a_magic_link_of_one_page_does_not_open_another(tenant, other_tenant):
    first = make_page(tenant, slug="first", visibility="audience", allowed_email_domains=["partner.example"])
    make_page(tenant, slug="second", visibility="audience", allowed_email_domains=["partner.example"])
    make_page(other_tenant, slug="third", visibility="audience", allowed_email_domains=["partner.example"])
    token = access.magic_token(first, "pat@partner.example")
    for slug in ("second", "third"):
        visitor = Client()
        assert visitor.get(f"/status/{slug}/access/{token}").status_code == 400
        assert visitor.get(f"/status/{slug}/").status_code == 403
    visitor = Client()
    assert visitor.get(f"/status/first/access/{token}").status_code == 302
    assert visitor.get("/status/second/").status_code == 403  # the grant is for its page only


@pytest.mark.parametrize("domain", ["127.0.0.1", "10.0.0.5", "app.ilert.example", "db.localhost"])
def test_a_page_cannot_take_the_products_own_host_or_an_ip_address(tenant, admin, settings, domain):
    from tests.conftest import client_for

    settings.SITE_URL = "https://app.ilert.example"
    page = make_page(tenant, slug="acme")
    response = client_for(admin).patch(f"/api/v1/status-pages/{page.pk}", {"custom_domain": domain}, format="json")
    assert response.status_code == 400 and "custom_domain" in response.json()["fields"]
    page.refresh_from_db()
    assert page.custom_domain is None
    ok = client_for(admin).patch(f"/api/v1/status-pages/{page.pk}", {"custom_domain": "status.acme.example"},
                                 format="json")
    assert ok.status_code == 200
