"""iCalendar: secret, revocable feeds that parse back (with icalendar) to exactly the timeline's
segments; importing .ics files into static schedules."""

from datetime import UTC, datetime

import icalendar
import pytest
import time_machine
from django.test import Client

from schedules import selectors, services
from schedules.models import Shift

from .factories import make_layer, make_schedule


def read_feed(data):
    """A feed back into (start, end, user id, source) tuples, in file order."""
    cal = icalendar.Calendar.from_ical(data)
    return [(event.decoded("dtstart"), event.decoded("dtend"), int(str(event["x-ilert-user-id"])),
             str(event["x-ilert-source"])) for event in cal.walk("VEVENT")]

pytestmark = pytest.mark.django_db
NOW = datetime(2025, 3, 20, 10, 17, tzinfo=UTC)


def utc(*args):
    return datetime(*args, tzinfo=UTC)


@pytest.fixture
def schedule(tenant, admin, responder):
    schedule = make_schedule(tenant, name="Primary", tz="Europe/Berlin")
    make_layer(schedule, [admin, responder], name="Days", rotation_start=datetime(2025, 1, 6, 9, 0),
               length_unit="days")
    make_layer(schedule, [responder], name="Nights", rotation_start=datetime(2025, 1, 6, 9, 0),
               restrictions=[{"type": "time_of_day", "start": "22:00", "end": "06:00"}])
    services.create_override(schedule, user=admin, start=utc(2025, 3, 30, 0, 30), end=utc(2025, 3, 30, 3))
    return schedule


def fetch(url):
    return Client().get(url.replace("http://testserver", ""))


def test_a_schedule_feed_parses_back_to_exactly_the_timeline(schedule, admin):
    with time_machine.travel(NOW, tick=False):
        feed = services.schedule_feed(schedule, by=admin)
        response = Client().get(f"/schedules/feeds/{feed.token}.ics")
        start, end = services.feed_window(NOW)
        segments = selectors.timeline(schedule, start, end)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/calendar")
    parsed = read_feed(response.content)
    assert parsed == [(s.start, s.end, s.user.pk, str(s.source)) for s in segments]
    assert len(parsed) > 100  # days, nights and the override across the spring-forward night
    assert any(source.startswith("override:") for *_ignored, source in parsed)
    calendar = icalendar.Calendar.from_ical(response.content)
    assert str(calendar["X-WR-CALNAME"]) == "On call: Primary"
    events = list(calendar.walk("VEVENT"))
    assert len({str(e["UID"]) for e in events}) == len(events)
    assert str(events[0]["SUMMARY"]).startswith("On call: ")


def test_a_personal_feed_has_the_users_shifts_across_schedules(tenant, schedule, responder):
    static = make_schedule(tenant, name="Holidays", kind="static", tz="UTC")
    services.create_shift(static, user=responder, start=utc(2025, 4, 18, 8), end=utc(2025, 4, 18, 20))
    with time_machine.travel(NOW, tick=False):
        feed = services.personal_feed(responder)
        response = Client().get(f"/schedules/feeds/{feed.token}.ics")
        start, end = services.feed_window(NOW)
        expected = selectors.upcoming_shifts(responder, start, end)
    parsed = read_feed(response.content)
    assert parsed == [(s.start, s.end, responder.pk, str(s.source)) for s in expected]
    assert (utc(2025, 4, 18, 8), utc(2025, 4, 18, 20), responder.pk, f"shift:{Shift.objects.get().pk}") in parsed
    summaries = {str(e["SUMMARY"]) for e in icalendar.Calendar.from_ical(response.content).walk("VEVENT")}
    assert summaries == {"On call: Primary", "On call: Holidays"}


def test_feeds_are_revocable_and_regenerating_changes_the_url(schedule, admin):
    feed = services.schedule_feed(schedule, by=admin)
    old = feed.token
    assert Client().get(f"/schedules/feeds/{old}.ics").status_code == 200
    renewed = services.schedule_feed(schedule, by=admin, regenerate=True)
    assert renewed.token != old
    assert Client().get(f"/schedules/feeds/{old}.ics").status_code == 404
    services.revoke_feed(renewed)
    assert Client().get(f"/schedules/feeds/{renewed.token}.ics").status_code == 404
    assert Client().get("/schedules/feeds/not-a-token.ics").status_code == 404


def test_the_feed_of_a_deactivated_user_stops(schedule, responder, admin):
    feed = services.personal_feed(responder)
    from accounts.services import deactivate_user

    deactivate_user(responder, by=admin)
    assert Client().get(f"/schedules/feeds/{feed.token}.ics").status_code == 404


def test_feed_urls_through_the_api(api, schedule, stakeholder_api):
    path = f"/api/v1/schedules/{schedule.pk}/feed"
    assert api.get(path).json() == {"url": None}
    url = api.post(path).json()["url"]
    assert url.startswith("http://testserver/schedules/feeds/") and url.endswith(".ics")
    assert fetch(url).status_code == 200
    token = url.rsplit("/", 1)[1].removesuffix(".ics")
    seen = stakeholder_api.get(path).json()["url"]  # the URL is the key to the calendar: masked for read-only roles
    assert token not in seen and token[:12] not in seen and seen.endswith(token[-4:] + ".ics")
    assert stakeholder_api.post(path).status_code == 403
    assert api.delete(path).json() == {"url": None}
    assert fetch(url).status_code == 404


ICS = """BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//test//EN
BEGIN:VEVENT
UID:a
DTSTAMP:20250101T000000Z
DTSTART;TZID=Europe/Berlin:20250329T090000
DTEND;TZID=Europe/Berlin:20250330T090000
SUMMARY:On call
ATTENDEE;CN=Ada:mailto:ADA@acme.test
END:VEVENT
BEGIN:VEVENT
UID:b
DTSTAMP:20250101T000000Z
DTSTART:20250330T090000
DTEND:20250331T090000
SUMMARY:Rita Responder
END:VEVENT
BEGIN:VEVENT
UID:c
DTSTAMP:20250101T000000Z
DTSTART;VALUE=DATE:20250401
SUMMARY:rita@acme.test holiday cover
END:VEVENT
BEGIN:VEVENT
UID:d
DTSTAMP:20250101T000000Z
DTSTART:20250405T000000Z
DURATION:PT12H
SUMMARY:Cancelled thing
STATUS:CANCELLED
END:VEVENT
END:VCALENDAR
"""


def test_an_ics_file_becomes_shifts_of_a_static_schedule(api, tenant, admin, responder):
    static = make_schedule(tenant, name="Imported", kind="static", tz="Europe/Berlin")
    response = api.post(f"/api/v1/schedules/{static.pk}/import", ICS.encode(), content_type="text/calendar")
    assert response.status_code == 201, response.content
    shifts = [(s.user, s.start, s.end) for s in Shift.objects.filter(schedule=static).order_by("start")]
    assert shifts == [
        (admin, utc(2025, 3, 29, 8), utc(2025, 3, 30, 7)),  # 23 hours across spring-forward
        (responder, utc(2025, 3, 30, 7), utc(2025, 3, 31, 7)),  # floating times: the schedule's zone
        (responder, utc(2025, 3, 31, 22), utc(2025, 4, 1, 22)),  # all-day: local midnight to midnight
    ]


def test_an_overlapping_ics_file_is_refused_whole(api, tenant, admin, responder):
    static = make_schedule(tenant, name="Imported", kind="static", tz="Europe/Berlin")
    overlapping = ICS.replace("DTSTART;VALUE=DATE:20250401", "DTSTART;VALUE=DATE:20250331")
    response = api.post(f"/api/v1/schedules/{static.pk}/import", overlapping.encode(), content_type="text/calendar")
    assert response.status_code == 400
    assert "Events overlap" in response.json()["message"]
    assert not Shift.objects.exists()


@pytest.mark.parametrize("replace, content, message", [
    ("SUMMARY:Rita Responder", "SUMMARY:Nobody We Know", "No user of this organisation matches 'Nobody We Know'"),
    ("DTEND:20250331T090000", "DTEND:20250330T080000", "'Rita Responder' at 2025-03-30 09:00 ends before it starts."),
    ("SUMMARY:Rita Responder", "SUMMARY:Rita Responder\nRRULE:FREQ=DAILY", "'Rita Responder' repeats (RRULE/RDATE)"),
    ("BEGIN:VCALENDAR", "NOT A CALENDAR", "Not an iCalendar file"),
])
def test_bad_ics_files_are_refused_with_a_clear_message(api, tenant, replace, content, message):
    static = make_schedule(tenant, name="Imported", kind="static", tz="Europe/Berlin")
    body = ICS.replace(replace, content)
    response = api.post(f"/api/v1/schedules/{static.pk}/import", body.encode(), content_type="text/calendar")
    assert response.status_code == 400, response.content
    assert message in response.json()["message"]
    assert not Shift.objects.exists()


def test_import_needs_a_static_schedule_and_clashes_with_existing_shifts_unless_replacing(api, tenant, admin,
                                                                                          schedule):
    assert api.post(f"/api/v1/schedules/{schedule.pk}/import", ICS.encode(),
                    content_type="text/calendar").status_code == 409
    static = make_schedule(tenant, name="Imported", kind="static", tz="Europe/Berlin")
    services.create_shift(static, user=admin, start=utc(2025, 3, 30, 12), end=utc(2025, 3, 30, 13))
    clash = api.post(f"/api/v1/schedules/{static.pk}/import", ICS.encode(), content_type="text/calendar")
    assert clash.status_code == 409 and "Overlaps the shift of Ada Admin" in clash.json()["message"]
    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = SimpleUploadedFile("oncall.ics", ICS.encode(), content_type="text/calendar")
    replaced = api.post(f"/api/v1/schedules/{static.pk}/import", {"file": upload, "replace": "true"},
                        format="multipart")
    assert replaced.status_code == 201, replaced.content
    assert Shift.objects.filter(schedule=static).count() == 3


def test_a_feed_imports_back_into_a_static_schedule_as_the_same_timeline(api, tenant, schedule, admin):
    with time_machine.travel(NOW, tick=False):
        feed = services.schedule_feed(schedule, by=admin)
        body = Client().get(f"/schedules/feeds/{feed.token}.ics").content
        start, end = services.feed_window(NOW)
        original = [(s.user, s.start, s.end) for s in selectors.timeline(schedule, start, end)]
    copy = make_schedule(tenant, name="Copy", kind="static", tz="UTC")
    assert api.post(f"/api/v1/schedules/{copy.pk}/import", body, content_type="text/calendar").status_code == 201
    copied = [(s.user, s.start, s.end) for s in selectors.timeline(copy, start, end)]
    assert copied == original  # one shift per event: nothing merges, nothing moves
