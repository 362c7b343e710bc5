"""The public page and its Statuspage-compatible JSON (issue 17): shapes, caching, access, tenancy."""

from datetime import timedelta

import jsonschema
import pytest
from django.core import mail
from django.test import Client

from ilert import clock
from status import access, services
from status.models import StatusPage

from .factories import make_group, make_page, make_service
from .statuspage_schema import SCHEMAS

pytestmark = pytest.mark.django_db


@pytest.fixture
def busy_page(tenant, responder):
    """A page with a group, an open incident with two updates, a resolved one and maintenance."""
    group = make_group(tenant, name="Core")
    api = make_service(tenant, name="API", group=group)
    checkout = make_service(tenant, name="Checkout")
    page = make_page(tenant, services_=[api, checkout], name="Acme status", slug="acme")
    incident = services.create_incident(tenant, title="API errors", message="Looking", impact="major",
                                        affected=[(api, "partial_outage")], by=responder)
    services.post_update(incident, status="identified", message="Bad deploy", by=responder)
    old = services.create_incident(tenant, title="Slow checkout", message="Looking",
                                   affected=[(checkout, "degraded_performance")], by=responder)
    services.post_update(old, status="resolved", message="Fine again", by=responder)
    start = clock.now() + timedelta(days=3)
    services.schedule_maintenance(tenant, title="DB upgrade", message="Planned", scheduled_for=start,
                                  scheduled_until=start + timedelta(hours=1), affected=[checkout], by=responder)
    page.refresh_from_db()
    return page


@pytest.mark.parametrize("name", sorted(SCHEMAS))
def test_the_statuspage_json_has_the_documented_shapes(busy_page, name):
    response = Client().get(f"/status/acme/api/v2/{name}")
    assert response.status_code == 200 and response["Content-Type"] == "application/json"
    body = response.json()
    jsonschema.validate(body, SCHEMAS[name], format_checker=jsonschema.FormatChecker())


def test_the_summary_says_what_the_page_shows(busy_page):
    body = Client().get("/status/acme/api/v2/summary.json").json()
    assert body["status"] == {"indicator": "major", "description": "Partial System Outage"}
    names = {c["name"]: c for c in body["components"]}
    assert names["API"]["status"] == "partial_outage" and names["Core"]["group"] is True
    assert names["Core"]["components"] == [names["API"]["id"]] and names["API"]["group_id"] == names["Core"]["id"]
    assert [i["name"] for i in body["incidents"]] == ["API errors"]
    updates = body["incidents"][0]["incident_updates"]
    assert [u["status"] for u in updates] == ["identified", "investigating"]
    assert updates[1]["affected_components"][0]["new_status"] == "partial_outage"
    assert [m["name"] for m in body["scheduled_maintenances"]] == ["DB upgrade"]
    unresolved = Client().get("/status/acme/api/v2/incidents/unresolved.json").json()
    assert [i["name"] for i in unresolved["incidents"]] == ["API errors"]
    all_ = Client().get("/status/acme/api/v2/incidents.json").json()
    assert {i["name"] for i in all_["incidents"]} == {"API errors", "Slow checkout"}
    upcoming = Client().get("/status/acme/api/v2/scheduled-maintenances/upcoming.json").json()
    assert len(upcoming["scheduled_maintenances"]) == 1


def test_the_html_page_shows_status_services_incidents_and_maintenance_without_login(busy_page):
    response = Client().get("/status/acme/")
    html = response.content.decode()
    assert response.status_code == 200
    assert "Partial System Outage" in html and "API errors" in html and "Bad deploy" in html
    assert "DB upgrade" in html and "Checkout" in html and "<script" not in html
    assert html.count('class="bars"') == 2


def test_conditional_requests_are_answered_304_until_something_changes(busy_page, responder,
                                                                      django_capture_on_commit_callbacks):
    client = Client()
    for path in ("/status/acme/", "/status/acme/api/v2/summary.json"):
        first = client.get(path)
        assert first["Cache-Control"] == "public, max-age=30" and first["Last-Modified"]
        again = client.get(path, HTTP_IF_NONE_MATCH=first["ETag"])
        assert again.status_code == 304 and again["ETag"] == first["ETag"]
        since = client.get(path, HTTP_IF_MODIFIED_SINCE=first["Last-Modified"])
        assert since.status_code == 304
    etag = client.get("/status/acme/")["ETag"]
    with django_capture_on_commit_callbacks(execute=True):
        services.create_incident(busy_page.tenant, title="New", message="x",
                                 affected=[(busy_page.services.first(), "major_outage")], by=responder)
    changed = client.get("/status/acme/", HTTP_IF_NONE_MATCH=etag)
    assert changed.status_code == 200 and "New" in changed.content.decode()


def test_a_page_of_one_tenant_never_shows_another_tenants_services_or_incidents(tenant, other_tenant):
    mine = make_service(tenant, name="Ours")
    theirs = make_service(other_tenant, name="Theirs secret")
    page = make_page(tenant, services_=[mine], slug="ours")
    page.services.add(theirs)  # even a wrong row in the link table shows nothing of theirs
    services.create_incident(other_tenant, title="Their outage", message="x", affected=[(theirs, "major_outage")])
    services.create_incident(other_tenant, title="Their org-wide notice", message="x", affected=[])
    html = Client().get("/status/ours/").content.decode()
    body = Client().get("/status/ours/api/v2/summary.json").json()
    assert "Theirs" not in html and "Their" not in html
    assert [c["name"] for c in body["components"]] == ["Ours"] and body["incidents"] == []
    with pytest.raises(Exception):
        services.create_page(tenant, name="x", slug="x2", services=[theirs])


def test_a_private_page_refuses_strangers_and_other_tenants(tenant, other_tenant, stakeholder, outsider):
    make_page(tenant, slug="inside", visibility="private")
    stranger = Client()
    assert stranger.get("/status/inside/").status_code == 302  # to the login
    assert stranger.get("/status/inside/api/v2/summary.json").status_code == 403
    other = Client()
    other.force_login(outsider)
    assert other.get("/status/inside/").status_code == 302
    assert other.get("/status/inside/feed.atom").status_code == 403
    member = Client()
    member.force_login(stakeholder)
    response = member.get("/status/inside/")
    assert response.status_code == 200 and response["Cache-Control"] == "private, no-cache"


def test_an_audience_page_opens_with_its_secret_link_only(tenant):
    page = make_page(tenant, slug="partners", visibility="audience")
    token = services.new_access_link(page)
    stranger = Client()
    assert stranger.get("/status/partners/").status_code == 403
    assert stranger.get("/status/partners/?access=wrong").status_code == 403
    assert Client().get("/status/partners/api/v2/summary.json").status_code == 403
    visitor = Client()
    response = visitor.get(f"/status/partners/?access={token}")
    assert response.status_code == 302 and response["Location"] == "/status/partners/"
    assert visitor.get("/status/partners/").status_code == 200
    services.end_access_grants(page)  # rotating ends every grant
    assert visitor.get("/status/partners/").status_code == 403
    assert visitor.get(f"/status/partners/?access={token}").status_code == 302
    services.new_access_link(page)  # a new link ends the old one and the grants it gave
    assert visitor.get("/status/partners/").status_code == 403
    assert visitor.get(f"/status/partners/?access={token}").status_code == 403


def test_an_audience_page_mails_a_magic_link_to_allowed_domains_only(tenant):
    page = make_page(tenant, slug="partners", visibility="audience", allowed_email_domains=["partner.example"])
    Client().post("/status/partners/access", {"email": "eve@evil.example"})
    assert mail.outbox == []
    Client().post("/status/partners/access", {"email": "Pat@partner.example"})
    assert len(mail.outbox) == 1
    link = next(word for word in mail.outbox[0].body.split() if "/access/" in word)
    path = link.split("127.0.0.1:8000", 1)[-1] if "127.0.0.1:8000" in link else link
    visitor = Client()
    assert visitor.get(path).status_code == 302
    assert visitor.get("/status/partners/").status_code == 200
    forged = access.magic_token(page, "eve@evil.example")
    assert Client().get(f"/status/partners/access/{forged}").status_code == 400


def test_an_expired_magic_link_is_refused(tenant):
    import time_machine

    page = make_page(tenant, slug="partners", visibility="audience", allowed_email_domains=["partner.example"])
    token = access.magic_token(page, "pat@partner.example")
    with time_machine.travel(clock.now() + timedelta(minutes=31)):
        assert Client().get(f"/status/partners/access/{token}").status_code == 400


def test_an_unpublished_page_is_a_404_but_members_can_preview_it(tenant, admin):
    page = make_page(tenant, slug="draft", published=False)
    assert Client().get("/status/draft/").status_code == 404
    member = Client()
    member.force_login(admin)
    response = member.get(f"/status-pages/{page.pk}/preview")
    assert response.status_code == 200 and "Preview" in response.content.decode()


def test_feeds_list_incidents(busy_page):
    atom = Client().get("/status/acme/feed.atom")
    rss = Client().get("/status/acme/feed.rss")
    assert atom.status_code == rss.status_code == 200
    assert b"<feed" in atom.content and b"API errors" in atom.content
    assert b"<rss" in rss.content and b"Slow checkout" in rss.content


def test_a_custom_domain_serves_its_page_and_nothing_else(tenant, settings):
    settings.ALLOWED_HOSTS = ["*"]
    page = make_page(tenant, slug="acme", custom_domain="status.acme.example")
    StatusPage.objects.filter(pk=page.pk).update(domain_verified_at=clock.now())  # proved: test_custom_domains.py
    client = Client(HTTP_HOST="status.acme.example")
    assert client.get("/").status_code == 200
    assert client.get("/api/v2/status.json").json()["status"]["indicator"] == "none"
    assert client.get("/login/").status_code == 404
    assert client.get("/api/v1/users/").status_code == 404


def test_the_fast_path_answers_304_without_the_database_and_stops_at_the_next_change(
        busy_page, responder, django_assert_num_queries, django_capture_on_commit_callbacks):
    client = Client()
    first = client.get("/status/acme/api/v2/summary.json")
    with django_assert_num_queries(0):
        fast = client.get("/status/acme/api/v2/summary.json", HTTP_IF_NONE_MATCH=first["ETag"])
    assert fast.status_code == 304 and fast["ETag"] == first["ETag"]
    assert fast["Cache-Control"] == "public, max-age=30"
    with django_capture_on_commit_callbacks(execute=True):  # the change commits: new generation
        services.set_status(busy_page.services.get(name="Checkout"), "major_outage", by=responder)
    changed = client.get("/status/acme/api/v2/summary.json", HTTP_IF_NONE_MATCH=first["ETag"])
    assert changed.status_code == 200
    assert {c["name"]: c["status"] for c in changed.json()["components"]}["Checkout"] == "major_outage"


def test_the_fast_path_never_serves_private_pages(tenant, stakeholder):
    make_page(tenant, slug="inside", visibility="private")
    member = Client()
    member.force_login(stakeholder)
    etag = member.get("/status/inside/")["ETag"]
    assert member.get("/status/inside/", HTTP_IF_NONE_MATCH=etag).status_code == 304
    assert Client().get("/status/inside/", HTTP_IF_NONE_MATCH=etag).status_code == 302  # still asked who
