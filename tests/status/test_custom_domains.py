"""A custom domain is served only after the tenant proved it owns it with a DNS TXT record
`_ilert-status.<domain>` holding the page's token, looked up (dnspython) on a fake DNS server on
127.0.0.1. Until then, and after the record goes, the domain answers 404 for everything. Magic links
asked for on the domain point back at it."""

from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.core import mail
from django.test import Client

from status import services
from status.models import StatusPage
from status.services import domains
from tests.conftest import client_for
from tests.uptime.servers import DnsTarget

from .factories import make_page

pytestmark = pytest.mark.django_db

DOMAIN = "status.acme.example"


@pytest.fixture
def dns_server(settings):
    server = DnsTarget({})
    settings.STATUS_DNS_RESOLVER = server.server
    settings.ALLOWED_HOSTS = ["*"]
    yield server
    server.stop()


def _publish_record(server, page, value=None):
    page.refresh_from_db()
    server.records[(f"_ilert-status.{page.custom_domain}.", "TXT")] = [f'"{value or domains.record_value(page)}"']


def _dashboard(user):
    client = Client()
    client.force_login(user)
    return client


def test_an_unproved_domain_answers_404_for_everything(tenant, admin, dns_server):
    page = make_page(tenant, slug="acme", custom_domain=DOMAIN)
    visitor = Client(HTTP_HOST=DOMAIN)
    for path in ("/", "/api/v2/status.json", "/feed.rss", "/status/acme/", "/login/", "/api/v1/users/"):
        assert visitor.get(path).status_code == 404, path
    assert Client().get("/status/acme/").status_code == 200  # its /status/<slug>/ address still works
    detail = _dashboard(admin).get(f"/status-pages/{page.pk}/").content.decode()
    assert "pending verification" in detail and f"_ilert-status.{DOMAIN}" in detail
    assert domains.record_value(page) in detail
    assert "pending verification" in _dashboard(admin).get("/status-pages/").content.decode()


def test_check_now_verifies_the_domain_once_the_record_is_there(tenant, admin, dns_server,
                                                                 django_capture_on_commit_callbacks):
    page = make_page(tenant, slug="acme", custom_domain=DOMAIN)
    visitor = Client(HTTP_HOST=DOMAIN)
    assert visitor.get("/").status_code == 404  # remembered by the middleware as "not proved"
    dashboard = _dashboard(admin)
    response = dashboard.post(f"/status-pages/{page.pk}/domain-check", follow=True)
    assert "No TXT record" in response.content.decode()
    _publish_record(dns_server, page)
    with django_capture_on_commit_callbacks(execute=True):
        response = dashboard.post(f"/status-pages/{page.pk}/domain-check", follow=True)
    assert f"{DOMAIN} is verified" in response.content.decode()
    page.refresh_from_db()
    assert page.domain_verified and page.domain_verified_at is not None
    assert visitor.get("/").status_code == 200
    assert visitor.get("/api/v2/status.json").json()["status"]["indicator"] == "none"
    assert visitor.get("/login/").status_code == 404
    assert "verified" in dashboard.get(f"/status-pages/{page.pk}/").content.decode()


def test_a_record_with_another_token_does_not_verify(tenant, admin, dns_server):
    page = make_page(tenant, slug="acme", custom_domain=DOMAIN)
    other = make_page(tenant, slug="other", custom_domain="status.other.example")
    _publish_record(dns_server, page, value=domains.record_value(other))  # someone else's token
    assert services.check_domain(page, by=admin) is False
    page.refresh_from_db()
    assert not page.domain_verified
    assert page.domain_token != other.domain_token


def test_a_new_domain_and_a_removed_record_take_the_domain_off(tenant, admin, dns_server,
                                                               django_capture_on_commit_callbacks):
    page = make_page(tenant, slug="acme", custom_domain=DOMAIN)
    _publish_record(dns_server, page)
    with django_capture_on_commit_callbacks(execute=True):
        assert services.check_domain(page, by=admin) is True
    visitor = Client(HTTP_HOST=DOMAIN)
    assert visitor.get("/").status_code == 200
    dns_server.records.clear()
    with django_capture_on_commit_callbacks(execute=True):
        assert services.check_domain(page, by=admin) is False
    assert visitor.get("/").status_code == 404
    _publish_record(dns_server, page)
    with django_capture_on_commit_callbacks(execute=True):
        services.check_domain(page, by=admin)
        services.update_page(page, custom_domain="status.acme-new.example", by=admin)
    page.refresh_from_db()
    assert not page.domain_verified  # the new domain is proved anew
    assert Client(HTTP_HOST="status.acme-new.example").get("/").status_code == 404
    assert Client(HTTP_HOST=DOMAIN).get("/").status_code != 200  # the old one is no page's any more


def test_the_api_shows_the_record_and_checks_it(tenant, admin, responder, other_tenant, dns_server):
    page = make_page(tenant, slug="acme", custom_domain=DOMAIN)
    api = client_for(admin)
    body = api.get(f"/api/v1/status-pages/{page.pk}/").json()
    assert body["domain_verification"]["status"] == "pending"
    assert body["domain_verification"]["record_name"] == f"_ilert-status.{DOMAIN}"
    _publish_record(dns_server, page)
    checked = api.post(f"/api/v1/status-pages/{page.pk}/check-domain/")
    assert checked.status_code == 200 and checked.json()["domain_verification"]["status"] == "verified"
    assert client_for(responder).post(f"/api/v1/status-pages/{page.pk}/check-domain/").status_code == 403
    theirs = make_page(other_tenant, slug="theirs", custom_domain="status.theirs.example")
    assert api.post(f"/api/v1/status-pages/{theirs.pk}/check-domain/").status_code == 404
    without = make_page(tenant, slug="plain")
    assert api.post(f"/api/v1/status-pages/{without.pk}/check-domain/").status_code == 400
    assert StatusPage.objects.get(pk=theirs.pk).domain_verified_at is None


def _magic_link(client, path="/access"):
    mail.outbox.clear()
    client.post(path, {"email": "pat@partner.example"})
    assert len(mail.outbox) == 1
    return next(word for word in mail.outbox[0].body.split() if "/access/" in word)


def test_a_magic_link_asked_for_on_the_verified_domain_points_at_that_domain(tenant, admin, dns_server):
    page = make_page(tenant, slug="partners", visibility="audience", allowed_email_domains=["partner.example"],
                     custom_domain=DOMAIN)
    _publish_record(dns_server, page)
    services.check_domain(page, by=admin)
    visitor = Client(HTTP_HOST=DOMAIN)
    assert visitor.get("/").status_code == 403  # a stranger, on the page's own domain
    link = _magic_link(visitor)
    assert link.startswith(f"http://{DOMAIN}/access/"), link
    opened = visitor.get(urlsplit(link).path)
    assert opened.status_code == 302 and opened["Location"] == "/"
    assert visitor.get("/").status_code == 200  # the grant cookie is the domain's

    on_ours = Client()  # asked for on the product's own address: the link stays there
    link = _magic_link(on_ours, "/status/partners/access")
    assert link.startswith(settings.SITE_URL + "/status/partners/access/"), link
    assert on_ours.get(urlsplit(link).path).status_code == 302
    assert on_ours.get("/status/partners/").status_code == 200


def test_an_unproved_domain_gets_no_magic_link(tenant, dns_server):
    make_page(tenant, slug="partners", visibility="audience", allowed_email_domains=["partner.example"],
              custom_domain=DOMAIN)
    visitor = Client(HTTP_HOST=DOMAIN)
    assert visitor.post("/access", {"email": "pat@partner.example"}).status_code == 404
    assert mail.outbox == []


def test_a_dns_server_that_does_not_answer_changes_nothing(tenant, admin, dns_server, settings):
    page = make_page(tenant, slug="acme", custom_domain=DOMAIN)
    _publish_record(dns_server, page)
    assert services.check_domain(page, by=admin) is True
    settings.STATUS_DNS_RESOLVER = "127.0.0.1:9"  # nothing listens there
    response = client_for(admin).post(f"/api/v1/status-pages/{page.pk}/check-domain/")
    assert response.status_code == 400 and "DNS lookup" in str(response.json())
    page.refresh_from_db()
    assert page.domain_verified  # a hiccup does not take a proved domain down
