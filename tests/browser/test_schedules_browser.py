"""In a real Chromium: create a schedule with a weekly rotation restricted to office hours, drag
across the overrides band to create an override, and read the rendered final band."""

import pytest

from schedules.models import Override, Schedule

from ..schedules.factories import make_layer, make_schedule
from .conftest import login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_weekly_rotation_with_a_restriction_and_a_dragged_override(page, admin, responder):
    login(page, admin.email, "correct horse battery")
    page.click("nav >> text=Schedules")
    page.fill("#schedule-form input[name=name]", "Primary on-call")
    page.fill("#schedule-form input[name=timezone]", "Europe/Berlin")
    page.click("#schedule-form button[type=submit]")
    page.wait_for_selector("text=No layers yet")
    schedule = Schedule.objects.get(name="Primary on-call")

    page.click("text=+ Add layer")
    page.fill("#layer-form input[name=name]", "Weekly")
    slots = page.locator("#layer-form select[name=users]")
    slots.nth(0).select_option(label="Ada Admin")
    slots.nth(1).select_option(label="Rita Responder")
    page.fill("#layer-form input[name=start_date]", "2025-03-03")
    page.fill("#layer-form input[name=handoff_time]", "09:00")
    page.fill("#layer-form input[name=length_count]", "1")
    page.select_option("#layer-form select[name=length_unit]", "weeks")
    page.fill("#layer-form textarea[name=restrictions]", "09:00-17:00")
    page.click("#layer-form button[type=submit]")
    page.wait_for_selector("tr[data-layer=Weekly]")

    page.goto(f"/schedules/{schedule.pk}/?view=week&date=2025-03-03")
    assert "Mon 03 Mar – Sun 09 Mar 2025" in page.inner_text(".sched-range")
    # Drag across the overrides band from Wednesday 10:00 to 14:00 (58 and 62 hours into the week).
    track = page.locator("#overrides-band .sched-track")
    box = track.bounding_box()
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + box["width"] * 58 / 168, y)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 60 / 168, y)
    page.mouse.move(box["x"] + box["width"] * 62 / 168, y)
    page.mouse.up()
    assert page.input_value("#override-form input[name=start]") == "2025-03-05T10:00"
    assert page.input_value("#override-form input[name=end]") == "2025-03-05T14:00"
    page.select_option("#override-form select[name=user]", label="Rita Responder")
    page.click("#override-form button[type=submit]")
    page.wait_for_selector("text=Override for Rita Responder created.")

    override = Override.objects.get()
    assert (override.start.isoformat(), override.end.isoformat()) == (
        "2025-03-05T09:00:00+00:00", "2025-03-05T13:00:00+00:00")
    final = page.locator("#final-band .sched-bar").all_inner_texts()
    assert final == ["Ada Admin", "Ada Admin", "Ada Admin", "Rita Responder", "Ada Admin",
                     "Ada Admin", "Ada Admin", "Ada Admin", "Ada Admin"]
    assert page.locator("#overrides-band .sched-bar").all_inner_texts() == ["Rita Responder"]
    wednesday = page.locator("#final-band .sched-bar").nth(3).get_attribute("title")
    assert wednesday.startswith("Rita Responder: Wed 05 Mar 10:00 – Wed 05 Mar 14:00 (Europe/Berlin)")


def test_a_dragged_override_in_the_reader_s_zone_is_prefilled_in_the_schedule_s(page, admin, responder):
    admin.timezone = "Asia/Kolkata"  # +05:30, not the schedule's zone
    admin.save(update_fields=["timezone"])
    schedule = make_schedule(admin.tenant, name="Primary", tz="Europe/Berlin")
    make_layer(schedule, [admin], name="Weekly")
    login(page, admin.email, "correct horse battery")
    page.goto(f"/schedules/{schedule.pk}/?view=week&zone=mine&date=2025-03-03")
    assert "Asia/Kolkata" in page.inner_text("#zone-label")
    assert page.inner_text("label[for=id_start]") == "From (Europe/Berlin)"
    # Wednesday 10:00–14:00 on the Kolkata timeline is 05:30–09:30 on the Berlin wall clock.
    track = page.locator("#overrides-band .sched-track")
    box = track.bounding_box()
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + box["width"] * 58 / 168, y)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 62 / 168, y)
    page.mouse.up()
    assert page.input_value("#override-form input[name=start]") == "2025-03-05T05:30"
    assert page.input_value("#override-form input[name=end]") == "2025-03-05T09:30"
    page.select_option("#override-form select[name=user]", label="Rita Responder")
    page.click("#override-form button[type=submit]")
    page.wait_for_selector("text=Override for Rita Responder created.")
    override = Override.objects.get()
    assert (override.start.isoformat(), override.end.isoformat()) == (
        "2025-03-05T04:30:00+00:00", "2025-03-05T08:30:00+00:00")
    assert page.locator("#overrides-band .sched-bar").all_inner_texts() == ["Rita Responder"]
