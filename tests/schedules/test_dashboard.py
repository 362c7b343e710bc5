"""Dashboard pages: the schedule list, the timeline page with its bands, the layer and override
editors, static shifts and import, calendar links, and the home and profile panels."""

import re
from datetime import UTC, datetime

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from schedules import selectors, services
from schedules.models import CalendarFeed, Layer, Override, Schedule, Shift

from .factories import make_layer, make_schedule

pytestmark = pytest.mark.django_db
NOW = datetime(2025, 3, 5, 10, 0, tzinfo=UTC)


def utc(*args):
    return datetime(*args, tzinfo=UTC)


def logged_in(user):
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def schedule(tenant, admin, responder):
    schedule = make_schedule(tenant, name="Primary", tz="Europe/Berlin")
    make_layer(schedule, [admin, responder], name="Weekly", rotation_start=datetime(2025, 3, 3, 9, 0))
    return schedule


def bars(html, band_id):
    band = html.split(f'id="{band_id}"', 1)[1].split('class="sched-row', 1)[0]
    return re.findall(r'data-user="([^"]+)"', band)


def test_the_schedule_list_shows_who_is_on_call_now(admin, schedule):
    with time_machine.travel(NOW, tick=False):
        html = logged_in(admin).get("/schedules/").content.decode()
    row = html.split('data-schedule="Primary"', 1)[1].split("</tr>", 1)[0]
    assert "Ada Admin" in row and "Mon 10 Mar 09:00" in row  # until, in the viewer's zone (the tenant's)


def test_an_admin_creates_a_schedule_and_others_cannot(admin, responder):
    response = logged_in(admin).post("/schedules/", {"name": "Ops", "timezone": "America/New_York",
                                                     "kind": "recurring"})
    schedule = Schedule.objects.get(name="Ops")
    assert response.status_code == 302 and response["Location"] == f"/schedules/{schedule.pk}/"
    bad = logged_in(admin).post("/schedules/", {"name": "Bad", "timezone": "Nowhere/Special", "kind": "recurring"})
    assert bad.status_code == 200 and "Unknown time zone" in bad.content.decode()
    assert logged_in(responder).post("/schedules/", {"name": "X", "timezone": "UTC",
                                                     "kind": "recurring"}).status_code == 403


def test_the_schedule_page_draws_one_band_per_layer_the_overrides_and_the_final_band(admin, responder, schedule):
    make_layer(schedule, [responder], name="Nights", rotation_start=datetime(2025, 3, 3, 9, 0),
               restrictions=[{"type": "time_of_day", "start": "20:00", "end": "06:00"}])
    services.create_override(schedule, user=responder, start=utc(2025, 3, 5, 8), end=utc(2025, 3, 5, 12))
    with time_machine.travel(NOW, tick=False):
        response = logged_in(admin).get(f"/schedules/{schedule.pk}/")
    html = response.content.decode()
    assert response.status_code == 200
    assert re.findall(r'data-band="([^"]+)"', html) == ["Final", "Overrides", "Nights", "Weekly"]
    assert bars(html, "overrides-band") == ["Rita Responder"]
    final = bars(html, "final-band")
    assert final[:4] == ["Ada Admin", "Rita Responder", "Ada Admin", "Rita Responder"]
    assert "Times in <strong class=\"mono\">Europe/Berlin</strong> (the schedule&#x27;s zone)" in html
    assert "Mon 03 Mar – Sun 09 Mar 2025" in html
    assert 'class="sched-now"' in html


def test_the_page_navigates_by_week_and_month_and_shows_the_viewers_zone(admin, schedule):
    admin.timezone = "America/New_York"
    admin.save()
    client = logged_in(admin)
    month = client.get(f"/schedules/{schedule.pk}/?view=month&date=2025-03-17&zone=mine").content.decode()
    assert "March 2025" in month and "Times in <strong class=\"mono\">America/New_York</strong> (your zone)" in month
    assert "?view=month&amp;zone=mine&amp;date=2025-04-01" in month  # next month
    # the 09:00 Berlin handoff shows at 04:00 in New York (EDT from 9 March, CET until 30 March)
    assert "Mon 10 Mar 04:00" in month
    week = client.get(f"/schedules/{schedule.pk}/?view=week&date=2025-03-30").content.decode()
    assert "Mon 24 Mar – Sun 30 Mar 2025" in week
    assert client.get(f"/schedules/{schedule.pk}/?date=not-a-date").status_code == 200


def test_an_admin_adds_a_layer_with_an_ordered_rotation_and_restrictions(admin, responder, stakeholder, schedule):
    response = logged_in(admin).post(f"/schedules/{schedule.pk}/layers/new", {
        "name": "Office", "users": [str(responder.pk), str(stakeholder.pk), str(admin.pk), ""],
        "start_date": "2025-03-03", "handoff_time": "08:00", "length_count": "2", "length_unit": "days",
        "restrictions": "Mon 09:00 - Fri 17:00\n12:00-13:00", "end": "",
    })
    assert response.status_code == 302, response.content.decode()
    layer = Layer.objects.get(name="Office")
    assert layer.ordered_users() == [responder, stakeholder, admin]
    assert layer.restrictions == [
        {"type": "time_of_week", "start_day": "mon", "start": "09:00", "end_day": "fri", "end": "17:00"},
        {"type": "time_of_day", "start": "12:00", "end": "13:00"},
    ]
    assert str(layer.handoff_time) == "08:00:00" and layer.step.days == 2
    bad = logged_in(admin).post(f"/schedules/{schedule.pk}/layers/new", {
        "users": [str(admin.pk)], "start_date": "2025-03-03", "handoff_time": "08:00", "length_count": "1",
        "length_unit": "weeks", "restrictions": "weekdays only"})
    assert bad.status_code == 200 and "is not a window like 18:00-08:00" in bad.content.decode()


def test_a_layer_is_edited_moved_and_deleted(admin, responder, schedule):
    layer = schedule.layers.get()
    client = logged_in(admin)
    page = client.get(f"/schedules/layers/{layer.pk}/").content.decode()
    assert f'<option value="{admin.pk}" selected>' in page
    response = client.post(f"/schedules/layers/{layer.pk}/", {
        "name": "Weekly", "users": [str(responder.pk)], "start_date": "2025-03-03", "handoff_time": "10:00",
        "length_count": "1", "length_unit": "weeks", "restrictions": "18:00-08:00", "end": "2025-06-01T00:00"})
    assert response.status_code == 302
    layer.refresh_from_db()
    assert layer.end == utc(2025, 5, 31, 22) and layer.restrictions[0]["start"] == "18:00"
    other = make_layer(schedule, [admin], name="Top", rotation_start=datetime(2025, 3, 3))
    client.post(f"/schedules/layers/{other.pk}/", {"move": "down"})
    assert list(schedule.layers.order_by("-position").values_list("name", flat=True)) == ["Weekly", "Top"]
    client.post(f"/schedules/layers/{layer.pk}/", {"delete": "1"})
    assert not Layer.objects.filter(pk=layer.pk).exists()
    assert logged_in(responder).post(f"/schedules/layers/{other.pk}/", {"delete": "1"}).status_code == 403


def test_an_override_from_the_form_is_read_in_the_schedule_s_zone(admin, responder, schedule):
    admin.timezone = "Asia/Kolkata"  # the reader's zone is not the schedule's (Europe/Berlin)
    admin.save(update_fields=["timezone"])
    client = logged_in(admin)
    with time_machine.travel(NOW, tick=False):
        page = client.get(f"/schedules/{schedule.pk}/?zone=mine").content.decode()
    form = page.split('id="override-form"', 1)[1].split("</form>", 1)[0]
    assert ">From (Europe/Berlin)</label>" in form and ">Until (Europe/Berlin)</label>" in form
    assert "Wall clock in the schedule&#x27;s zone, Europe/Berlin." in form and 'name="zone"' not in form
    assert 'data-schedule-zone="Europe/Berlin"' in page  # the drag-to-prefill writes the schedule's wall clock
    # A stray zone (an old page's hidden field) changes nothing: the times are Berlin wall clock.
    response = client.post(f"/schedules/{schedule.pk}/overrides/new", {
        "user": responder.pk, "start": "2025-03-30T01:00", "end": "2025-03-30T04:00", "zone": "Asia/Kolkata"})
    assert response.status_code == 302
    override = Override.objects.get()
    assert (override.start, override.end) == (utc(2025, 3, 30, 0), utc(2025, 3, 30, 2))  # 3 wall hours, 2 real
    assert override.created_by == admin


def test_overrides_and_shifts_are_listed_in_the_reader_s_zone_named(admin, responder, schedule, tenant):
    admin.timezone = "Asia/Kolkata"
    admin.save(update_fields=["timezone"])
    services.create_override(schedule, user=responder, start=utc(2025, 3, 30, 0), end=utc(2025, 3, 30, 2), by=admin)
    with time_machine.travel(NOW, tick=False):
        page = logged_in(admin).get(f"/schedules/{schedule.pk}/").content.decode()
    card = page.split("<h2>Overrides</h2>", 1)[1].split('id="overrides"', 1)
    assert "in your zone, Asia/Kolkata" in card[0]
    row = card[1].split("</tr>", 1)[0]
    assert ">Sun 30 Mar 05:30 IST<" in row and ">Sun 30 Mar 07:30 IST<" in row


def test_a_shift_from_the_form_is_read_in_the_schedule_s_zone_and_shown_in_the_reader_s(admin, responder, tenant):
    admin.timezone = "Asia/Kolkata"
    admin.save(update_fields=["timezone"])
    static = make_schedule(tenant, name="Holidays", kind="static", tz="America/New_York")
    client = logged_in(admin)
    with time_machine.travel(NOW, tick=False):
        page = client.get(f"/schedules/{static.pk}/").content.decode()
        form = page.split('id="shift-form"', 1)[1].split("</form>", 1)[0]
        assert ">From (America/New_York)</label>" in form and ">Until (America/New_York)</label>" in form
        client.post(f"/schedules/{static.pk}/shifts/new", {"user": admin.pk, "start": "2025-03-08T08:00",
                                                            "end": "2025-03-09T08:00"})
        shift = Shift.objects.get()
        # 08:00 EST on 8 March; 08:00 EDT on 9 March (DST began at 02:00 that night): 23 real hours.
        assert (shift.start, shift.end) == (utc(2025, 3, 8, 13), utc(2025, 3, 9, 12))
        page = client.get(f"/schedules/{static.pk}/").content.decode()
    card = page.split("<h2>Upcoming shifts</h2>", 1)[1].split('id="shifts"', 1)
    assert "in your zone, Asia/Kolkata" in card[0]
    row = card[1].split("</tr>", 1)[0]
    assert ">Sat 8 Mar 18:30 IST<" in row and ">Sun 9 Mar 17:30 IST<" in row


def test_a_responder_takes_a_shift_but_cannot_override_for_others(admin, responder, schedule):
    client = logged_in(responder)
    with time_machine.travel(NOW, tick=False):
        page = client.get(f"/schedules/{schedule.pk}/").content.decode()
    assert "Take this shift" in page
    form = page.split('id="override-form"', 1)[1].split("</form>", 1)[0]
    assert f'value="{admin.pk}"' not in form  # responders only see themselves in the override form
    taken = client.post(f"/schedules/{schedule.pk}/overrides/new", {
        "take": "1", "start": "2025-03-03T08:00:00+00:00", "end": "2025-03-10T08:00:00+00:00"})
    assert taken.status_code == 302
    assert selectors.on_call(schedule, utc(2025, 3, 5, 12)) == responder
    refused = client.post(f"/schedules/{schedule.pk}/overrides/new", {
        "user": admin.pk, "start": "2025-03-30T01:00", "end": "2025-03-30T04:00", "zone": "UTC"})
    assert refused.status_code == 302 and Override.objects.count() == 1
    override = Override.objects.get()
    assert client.post(f"/schedules/overrides/{override.pk}/delete").status_code == 302
    assert not Override.objects.exists()


def test_static_schedules_take_shifts_from_the_form_and_from_an_ics_upload(admin, responder, tenant):
    static = make_schedule(tenant, name="Holidays", kind="static", tz="UTC")
    client = logged_in(admin)
    client.post(f"/schedules/{static.pk}/shifts/new", {"user": admin.pk, "start": "2025-03-01T08:00",
                                                        "end": "2025-03-01T20:00"})
    assert Shift.objects.filter(schedule=static).count() == 1
    clash = client.post(f"/schedules/{static.pk}/shifts/new", {"user": responder.pk, "start": "2025-03-01T19:00",
                                                                "end": "2025-03-01T22:00"}, follow=True)
    assert "Overlaps the shift of Ada Admin" in clash.content.decode()
    ics = ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\nBEGIN:VEVENT\r\nUID:1\r\nDTSTAMP:20250101T000000Z\r\n"
           "DTSTART:20250302T080000Z\r\nDTEND:20250302T200000Z\r\nSUMMARY:rita@acme.test\r\nEND:VEVENT\r\n"
           "END:VCALENDAR\r\n")
    upload = SimpleUploadedFile("shifts.ics", ics.encode(), content_type="text/calendar")
    done = client.post(f"/schedules/{static.pk}/import", {"file": upload}, follow=True)
    assert "Imported 1 shifts." in done.content.decode()
    assert Shift.objects.filter(schedule=static, user=responder).exists()
    page = client.get(f"/schedules/{static.pk}/?date=2025-03-01").content.decode()
    assert bars(page, "final-band") == ["Ada Admin", "Rita Responder"]


def test_calendar_links_are_created_renewed_and_revoked_from_the_dashboard(admin, schedule):
    client = logged_in(admin)
    client.post(f"/schedules/{schedule.pk}/calendar", {"action": "create"})
    feed = CalendarFeed.objects.get(schedule=schedule)
    page = client.get(f"/schedules/{schedule.pk}/").content.decode()
    assert f"/schedules/feeds/{feed.token}.ics" in page
    client.post(f"/schedules/{schedule.pk}/calendar", {"action": "regenerate"})
    assert CalendarFeed.objects.get(schedule=schedule).token != feed.token
    client.post(f"/schedules/{schedule.pk}/calendar", {"action": "revoke"})
    assert not CalendarFeed.objects.filter(schedule=schedule).exists()
    client.post("/schedules/my-calendar", {"action": "create"})
    personal = CalendarFeed.objects.get(user=admin, schedule__isnull=True)
    assert f"/schedules/feeds/{personal.token}.ics" in client.get("/schedules/panel/profile").content.decode()


def test_the_home_panel_says_who_is_on_call_now(admin, tenant, schedule):
    make_schedule(tenant, name="Quiet")
    with time_machine.travel(NOW, tick=False):
        html = logged_in(admin).get("/schedules/panel/home").content.decode()
        overview = logged_in(admin).get("/").content.decode()
    assert "/schedules/panel/home" in overview
    primary = html.split('data-schedule="Primary"', 1)[1].split("</tr>", 1)[0]
    assert "Ada Admin" in primary and "until <time" in primary and ">Mon 10 Mar 09:00 CET · in 4 days<" in primary
    assert "Nobody" in html.split('data-schedule="Quiet"', 1)[1].split("</tr>", 1)[0]


def test_the_profile_panel_lists_my_upcoming_shifts(responder, schedule):
    with time_machine.travel(NOW, tick=False):
        html = logged_in(responder).get("/schedules/panel/profile").content.decode()
        profile = logged_in(responder).get("/profile/").content.decode()
    assert "/schedules/panel/profile" in profile
    assert "Primary" in html and "Mon 10 Mar 09:00" in html and "Mon 17 Mar 09:00" in html


def test_stakeholders_see_schedules_but_change_nothing(stakeholder, schedule):
    client = logged_in(stakeholder)
    page = client.get(f"/schedules/{schedule.pk}/").content.decode()
    assert "Take this shift" not in page and 'id="override-form"' not in page
    assert client.post(f"/schedules/{schedule.pk}/overrides/new", {"take": "1", "start": "2025-03-03T08:00:00Z",
                                                                    "end": "2025-03-04T08:00:00Z"}).status_code == 403
    assert client.post(f"/schedules/{schedule.pk}/calendar").status_code == 403
