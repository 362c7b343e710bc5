"""Times in the reader's zone (ilert/readerzone.py, the `when` filter): zone named, relative wording,
DST edges; a first login adopts the browser's zone; maintenance windows are read in the user's zone."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.template import Context, Template
from django.utils import timezone

from ilert import readerzone

UTC = ZoneInfo("UTC")
BERLIN = ZoneInfo("Europe/Berlin")
NOW = datetime(2026, 3, 29, 0, 30, tzinfo=UTC)  # 01:30 CET, half an hour before clocks go forward


def test_relative_wording():
    assert readerzone.relative(NOW, now=NOW) == "just now"
    assert readerzone.relative(NOW - timedelta(seconds=59), now=NOW) == "just now"
    assert readerzone.relative(NOW + timedelta(seconds=30), now=NOW) == "in under a minute"
    assert readerzone.relative(NOW - timedelta(minutes=3, seconds=10), now=NOW) == "3 min ago"
    assert readerzone.relative(NOW + timedelta(minutes=4), now=NOW) == "in 4 min"
    assert readerzone.relative(NOW - timedelta(hours=2, minutes=5), now=NOW) == "2 h 5 min ago"
    assert readerzone.relative(NOW - timedelta(hours=7, minutes=5), now=NOW) == "7 h ago"
    assert readerzone.relative(NOW - timedelta(days=3, hours=1), now=NOW) == "3 days ago"
    for seconds in range(0, 120, 7):
        assert "0 min" not in readerzone.relative(NOW - timedelta(seconds=seconds), now=NOW)


def test_absolute_names_the_zone_across_the_spring_forward():
    before = NOW                                  # 01:30 CET
    after = NOW + timedelta(hours=1)              # 03:30 CEST: 02:xx never happened
    assert readerzone.absolute(before, BERLIN, now=NOW) == "01:30 CET"
    assert readerzone.absolute(after, BERLIN, now=NOW) == "03:30 CEST"
    assert readerzone.absolute(after, ZoneInfo("America/New_York"), now=NOW) == "21:30 EDT"  # their today
    assert readerzone.absolute(after - timedelta(days=1), BERLIN, now=NOW) == "Sat 28 Mar 02:30 CET"
    assert readerzone.absolute(after, ZoneInfo("Asia/Kolkata"), now=NOW) == "07:00 IST"
    assert readerzone.absolute(after, ZoneInfo("Europe/Istanbul"), now=NOW) == "04:30 UTC+3"
    assert readerzone.absolute(after, ZoneInfo("Asia/Kathmandu"), now=NOW) == "07:15 UTC+5:45"
    assert readerzone.absolute(datetime(2025, 10, 26, 0, 30, tzinfo=UTC), BERLIN, now=NOW) == "26 Oct 2025 02:30 CEST"
    # the autumn hour that happens twice is told apart by its zone name
    assert readerzone.absolute(datetime(2026, 10, 25, 0, 30, tzinfo=UTC), BERLIN, now=NOW).endswith("02:30 CEST")
    assert readerzone.absolute(datetime(2026, 10, 25, 1, 30, tzinfo=UTC), BERLIN, now=NOW).endswith("02:30 CET")


def test_the_filter_renders_in_the_active_zone(time_machine):
    time_machine.move_to(NOW, tick=False)
    template = Template('{% load when %}{{ t|when }}|{{ t|when:"relative" }}|{{ t|when:"absolute,seconds" }}|{{ n|when }}')
    moment = NOW - timedelta(minutes=3)
    with timezone.override(BERLIN):
        html = template.render(Context({"t": moment, "n": None}))
    assert '<time datetime="2026-03-29T00:27:00+00:00"' in html
    assert ">01:27 CET · 3 min ago</time>" in html
    assert ">3 min ago</time>" in html and ">01:27:00 CET</time>" in html
    assert "(Europe/Berlin)" in html and html.endswith("|—")
    with timezone.override(ZoneInfo("America/Los_Angeles")):
        assert ">17:27 PDT · 3 min ago<" in template.render(Context({"t": moment}))


@pytest.mark.django_db
def test_pages_show_times_in_the_readers_zone(client, admin, tenant, time_machine):
    from tests.alerts.factories import make_incident

    time_machine.move_to(NOW, tick=False)
    incident = make_incident(tenant)
    admin.timezone = "America/New_York"
    admin.save()
    client.force_login(admin)
    html = client.get(f"/incidents/{incident.pk}/").content.decode()
    assert "opened <time" in html and ">20:30 EDT · just now<" in html
    assert " UTC" not in html.split("<main", 1)[1].split("Timeline", 1)[0]
    admin.timezone = "Europe/Berlin"
    admin.save()
    html = client.get(f"/incidents/{incident.pk}/").content.decode()
    assert "01:30 CET · just now" in html
    # the API answers in UTC whoever asks
    assert client.get(f"/api/v1/incidents/{incident.pk}").json()["created_at"].endswith("Z")


@pytest.mark.django_db
def test_a_first_login_adopts_the_browsers_zone_and_never_overwrites_a_choice(client, admin):
    admin.timezone = ""
    admin.save()
    answer = client.post("/login/", {"username": admin.email, "password": "correct horse battery",
                                     "browser_zone": "Asia/Tokyo"})
    assert answer.status_code == 302
    admin.refresh_from_db()
    assert admin.timezone == "Asia/Tokyo"
    client.logout()
    client.post("/login/", {"username": admin.email, "password": "correct horse battery", "browser_zone": "Europe/Paris"})
    admin.refresh_from_db()
    assert admin.timezone == "Asia/Tokyo"


@pytest.mark.django_db
def test_a_bogus_browser_zone_is_ignored(client, admin):
    admin.timezone = ""
    admin.save()
    client.post("/login/", {"username": admin.email, "password": "correct horse battery", "browser_zone": "Mars/Olympus"})
    admin.refresh_from_db()
    assert admin.timezone == ""


@pytest.mark.django_db
def test_the_profile_offers_every_iana_zone(client, admin):
    client.force_login(admin)
    html = client.get("/profile/").content.decode()
    assert 'list="iana-zones"' in html and '<option value="Pacific/Chatham">' in html


@pytest.mark.django_db
def test_maintenance_windows_are_read_in_the_users_zone_across_dst(client, admin, tenant):
    from alerts.models import MaintenanceWindow
    from tests.alerts.factories import make_source

    source = make_source(tenant)
    admin.timezone = "Europe/Berlin"
    admin.save()
    client.force_login(admin)
    page = client.get(f"/alert-sources/{source.pk}/").content.decode()
    assert "Times in <span class=\"mono\">Europe/Berlin</span> (your zone)" in page and "(UTC)" not in page
    # 01:00 CET to 04:00 CEST on the spring-forward night: two real hours
    client.post(f"/alert-sources/{source.pk}/maintenance", {"start": "2026-03-29T01:00", "end": "2026-03-29T04:00"})
    window = MaintenanceWindow.objects.get(alert_source=source)
    assert window.start == datetime(2026, 3, 29, 0, 0, tzinfo=UTC)
    assert window.end == datetime(2026, 3, 29, 2, 0, tzinfo=UTC)
    # 02:30 does not exist that night in Berlin: refused with the field named, nothing added
    answer = client.post(f"/alert-sources/{source.pk}/maintenance",
                         {"start": "2026-03-29T02:30", "end": "2026-03-29T05:00", "description": "DB upgrade"})
    assert answer.status_code == 200 and MaintenanceWindow.objects.filter(alert_source=source).count() == 1
    form = answer.context["maintenance_form"]
    assert "start" in form.errors and "Europe/Berlin" in " ".join(form.errors["start"])
    page = answer.content.decode()  # what was typed stays in the form
    assert 'value="DB upgrade"' in page and 'value="2026-03-29T05:00"' in page


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/schedules/", "/settings/", "/signup/", "/status-pages/"])
def test_every_form_that_asks_for_a_zone_offers_the_searchable_list(client, admin, path):
    if path != "/signup/":
        client.force_login(admin)
    html = client.get(path).content.decode()
    assert html.count('list="iana-zones"') == 1 and html.count('<datalist id="iana-zones">') == 1
    assert '<option value="Asia/Kathmandu">' in html
