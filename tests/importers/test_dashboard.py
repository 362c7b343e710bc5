"""The dashboard import: admins only, a background job with progress, the key erased at the end."""

from datetime import UTC, datetime

import pytest
import time_machine
from django.test import Client

from accounts.models import User
from importers.models import ImportJob

from . import pagerduty_org
from .fakes import FakeVendor

pytestmark = pytest.mark.django_db
KEY = "u+pdDashboardKey-0987654321"


@pytest.fixture(autouse=True)
def _setup(settings):
    settings.ALLOW_PRIVATE_TARGETS = True
    with time_machine.travel(datetime(2026, 10, 20, 12, 0, tzinfo=UTC), tick=False):
        yield


def browser(user):
    client = Client()
    client.force_login(user)
    return client


def form(fake, dry_run):
    data = {"vendor": "pagerduty", "api_key": KEY, "base_url": fake.url, "only": ["users", "teams", "schedules", "policies",
                                                                                 "integrations"]}
    return {**data, "dry_run": "on"} if dry_run else data


def test_an_admin_plans_then_imports_in_the_background(admin, django_capture_on_commit_callbacks):
    client = browser(admin)
    assert client.get("/import/").status_code == 200
    with FakeVendor(retry_after="0") as fake:
        pagerduty_org.serve(fake)
        with django_capture_on_commit_callbacks(execute=False) as queued:
            response = client.post("/import/", form(fake, dry_run=True))
        job = ImportJob.objects.get()
        assert response.status_code == 302 and response["Location"] == f"/import/{job.pk}/"
        # Until the job runs, the key is kept encrypted, never in plain text.
        assert job.status == "queued" and KEY not in job.api_key_encrypted and job.api_key == KEY
        assert "Queued" in client.get(f"/import/{job.pk}/", HTTP_HX_REQUEST="true").content.decode()
        for callback in queued:
            callback()  # the kicked task (eager Celery in tests)
        job.refresh_from_db()
        assert job.status == "done" and job.api_key_encrypted == "" and job.done_steps == job.total_steps > 0
        assert User.objects.filter(tenant=admin.tenant).count() == 1  # a plan changes nothing
        page = client.get(f"/import/{job.pk}/").content.decode()
        assert "Plan ready (nothing was changed)" in page and "Alice Adler" in page and "no email address" in page
        assert "Run this import" in page and KEY not in page

        with django_capture_on_commit_callbacks(execute=True):
            client.post("/import/", form(fake, dry_run=False))
    run = ImportJob.objects.order_by("-pk").first()
    assert run.status == "done" and run.api_key_encrypted == ""
    assert User.objects.filter(tenant=admin.tenant).count() == 8
    page = client.get(f"/import/{run.pk}/").content.decode()
    assert "Import done" in page and "the same as PagerDuty" in page
    # The report is not encrypted: no integration key in it (the alert source's page shows them).
    from alerts.models import AlertSource

    report = str(run.report)
    keys = [source.integration_key for source in AlertSource.objects.all()]
    assert len(keys) == 3 and not any(key in report for key in keys)
    assert "/integrations/pagerduty/v2/enqueue" in page


def test_a_failed_job_says_why_and_still_erases_the_key(admin, django_capture_on_commit_callbacks):
    with FakeVendor() as fake:  # serves nothing: every call is a 404
        with django_capture_on_commit_callbacks(execute=True):
            browser(admin).post("/import/", form(fake, dry_run=True))
    job = ImportJob.objects.get()
    assert job.status == "failed" and "404" in job.error and job.api_key_encrypted == ""
    assert KEY not in job.error


@pytest.mark.parametrize("key", ["u+pdKey\u20ac-0987654321", "u+pdKey 0987654321", "u+pdKey\n0987654321"])
def test_a_key_that_cannot_travel_in_a_header_is_refused_by_the_form(admin, key, django_capture_on_commit_callbacks):
    """Not a job that fails later with a codec's message naming a character of the key."""
    with FakeVendor() as fake:
        with django_capture_on_commit_callbacks(execute=True):
            response = browser(admin).post("/import/", {**form(fake, dry_run=True), "api_key": key})
    assert response.status_code == 200 and "API key" in response.content.decode()
    assert not ImportJob.objects.exists()


def test_only_admins_may_import(responder, stakeholder):
    for user in (responder, stakeholder):
        client = browser(user)
        assert client.get("/import/").status_code == 403
        assert client.post("/import/", {"vendor": "pagerduty", "api_key": KEY}).status_code == 403
    assert not ImportJob.objects.exists()


def test_a_private_base_url_is_refused_when_not_allowed(admin, settings):
    settings.ALLOW_PRIVATE_TARGETS = False
    response = browser(admin).post("/import/", {"vendor": "opsgenie", "api_key": KEY, "only": ["users"],
                                                "base_url": "http://127.0.0.1:9/"})
    assert response.status_code == 200 and "private" in response.content.decode()
    assert not ImportJob.objects.exists()


def test_a_job_whose_kick_was_lost_runs_on_the_next_sweep_and_a_dead_one_forgets_its_key(admin):
    from datetime import timedelta

    from importers import jobs

    with FakeVendor(retry_after="0") as fake:
        pagerduty_org.serve(fake)
        lost = jobs.start(admin.tenant, by=admin, vendor="pagerduty", api_key=KEY, base_url=fake.url,
                          only=["users"], dry_run=True)  # not committed here: its kick never fires
        dead = jobs.start(admin.tenant, by=admin, vendor="pagerduty", api_key=KEY, base_url=fake.url, only=["users"])
        ImportJob.objects.filter(pk=dead.pk).update(status="running")
        jobs.sweep()  # too early for both
        assert ImportJob.objects.get(pk=lost.pk).status == "queued"
        with time_machine.travel(datetime(2026, 10, 20, 18, 1, tzinfo=UTC), tick=False):
            jobs.sweep(now=datetime(2026, 10, 20, 18, 1, tzinfo=UTC))
            jobs.sweep(now=datetime(2026, 10, 20, 18, 1, tzinfo=UTC) + timedelta(seconds=1))  # nothing twice
    lost.refresh_from_db(), dead.refresh_from_db()
    assert lost.status == "done" and lost.api_key_encrypted == ""
    assert [s["kind"] for s in lost.report["steps"] if s["action"] == "create"].count("user") == 7
    assert dead.status == "failed" and dead.api_key_encrypted == "" and "start it again" in dead.error
    assert [p for p, _q, _h in fake.requests].count("/users") == 4  # one run of 7 users in pages of 2


def test_the_settings_page_leads_admins_to_the_import(admin, responder):
    assert 'href="/import/"' in browser(admin).get("/settings/").content.decode()
    assert 'href="/import/"' not in browser(responder).get("/settings/").content.decode()
