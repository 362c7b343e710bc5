"""Every time on the public page and in its feeds names its zone: the page's own zone when it has
one, else UTC; incident updates and maintenance windows included, in the HTML itself (no script)."""

import re
from datetime import timedelta

import pytest
from django.test import Client

from ilert import clock
from status import services

from .factories import make_page, make_service

pytestmark = pytest.mark.django_db

CLOCK = re.compile(r"\d{2}:\d{2}(?!:)")


def _visible(html):
    text = re.sub(r"<[^>]+>", " ", html.split("<body", 1)[1])  # attributes (datetime="…") are for machines
    return re.sub(r"\s+", " ", text)


def _page_with_times(tenant, responder, zone):
    api = make_service(tenant, name="API")
    page = make_page(tenant, services_=[api], name="Acme", slug="acme", time_zone=zone)
    incident = services.create_incident(tenant, title="API errors", message="Looking",
                                        affected=[(api, "partial_outage")], by=responder)
    update = services.post_update(incident, status="identified", message="Bad deploy", by=responder)
    start = (clock.now() + timedelta(days=2)).replace(second=0, microsecond=0)
    services.schedule_maintenance(tenant, title="DB upgrade", message="Planned", scheduled_for=start,
                                  scheduled_until=start + timedelta(hours=1), affected=[api], by=responder)
    return page, update, start


def _every_clock_names(text, label):
    found = [text[m.start():m.end() + len(label) + 1] for m in CLOCK.finditer(text)]
    assert found, "no times shown"
    assert all(f.endswith(" " + label) for f in found), found


def test_times_are_in_the_pages_zone_with_the_zone_named(tenant, responder):
    page, update, start = _page_with_times(tenant, responder, "Asia/Kolkata")  # +05:30, no DST: "IST"
    text = _visible(Client().get("/status/acme/").content.decode())
    shift = timedelta(hours=5, minutes=30)
    assert f"{update.at + shift:%Y-%m-%d %H:%M} IST" in text
    window = f"{start + shift:%Y-%m-%d %H:%M} IST – {start + timedelta(hours=1) + shift:%Y-%m-%d %H:%M} IST"
    assert window in text
    assert "Times in Asia/Kolkata" in text
    _every_clock_names(text, "IST")


def test_without_a_zone_of_its_own_the_page_writes_utc(tenant, responder):
    page, update, start = _page_with_times(tenant, responder, "UTC")
    text = _visible(Client().get("/status/acme/").content.decode())
    assert f"{update.at:%Y-%m-%d %H:%M} UTC" in text and f"{start:%Y-%m-%d %H:%M} UTC" in text
    assert "Times in UTC" in text
    _every_clock_names(text, "UTC")


def test_the_feeds_name_the_zone_too(tenant, responder):
    page, update, start = _page_with_times(tenant, responder, "Asia/Kolkata")
    shift = timedelta(hours=5, minutes=30)
    for feed in ("feed.rss", "feed.atom"):
        body = Client().get(f"/status/acme/{feed}").content.decode()
        assert f"{update.at + shift:%Y-%m-%d %H:%M} IST" in body, feed
        assert f"Scheduled {start + shift:%Y-%m-%d %H:%M} IST" in body, feed
        descriptions = " ".join(re.findall(r"<(?:description|summary)[^>]*>(.*?)</", body, re.S))
        _every_clock_names(descriptions, "IST")


def test_changing_the_zone_changes_the_page(tenant, responder, admin, django_capture_on_commit_callbacks):
    page, update, _ = _page_with_times(tenant, responder, "UTC")
    client = Client()
    first = client.get("/status/acme/")
    with django_capture_on_commit_callbacks(execute=True):
        services.update_page(page, time_zone="Asia/Kolkata", by=admin)
    second = client.get("/status/acme/", HTTP_IF_NONE_MATCH=first["ETag"])
    assert second.status_code == 200 and "IST" in _visible(second.content.decode())
