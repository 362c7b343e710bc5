"""Every dashboard page works under the Content-Security-Policy (issue 13.5): Chromium enforces the
header, and no page reports a violation or a console error; links from events that are not
http(s) are shown as text, never as links."""

import pytest

from alerts import services as alert_services
from alerts.ingest import EventType, InboundEvent
from tests.factories import FACTORIES
from tests.test_tenancy_sweep import _names, _path, dashboard_routes

from .conftest import login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WATCH = """
window.__problems = [];
document.addEventListener("securitypolicyviolation",
  e => window.__problems.push("CSP " + e.violatedDirective + " " + e.blockedURI + " " + e.sourceFile + ":" + e.lineNumber));
"""
HOSTILE = ["javascript:alert(document.cookie)", "data:text/html,<script>alert(1)</script>", "vbscript:msgbox(1)",
           "JaVaScRiPt:alert(1)", "/relative/path", " javascript:alert(1)"]


def _pages(tenant):
    made = {}
    for route, callback in dashboard_routes():
        if getattr(callback, "token_addressed", False) or route.startswith(("integrations/", "anymail", "^anymail", "logout")):
            continue
        names = _names(route)
        if not names:
            yield _path(route)
            continue
        model = getattr(callback, "tenant_model", None)
        if model is None or names != [callback.tenant_kwarg]:
            continue
        if model not in made:
            made[model] = FACTORIES[model](tenant)
        yield _path(route, **{callback.tenant_kwarg: made[model].pk})


def test_every_page_runs_under_the_policy_without_violations_or_errors(page, admin, tenant, live_server):
    admin.is_staff = admin.is_superuser = True
    admin.save()
    problems = []
    page.on("console", lambda m: problems.append(f"console {m.type}: {m.text} at {m.location}") if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on("response", lambda r: problems.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    page.add_init_script(WATCH)
    login(page, admin.email, "correct horse battery")

    visited = 0
    for path in [*_pages(tenant), "/api/docs/", "/django-admin/", "/django-admin/accounts/user/"]:
        probe = page.request.get(path)  # doors that only take POST, or answer JSON, are not pages
        if probe.status != 200 or "text/html" not in probe.headers.get("content-type", ""):
            continue
        problems.clear()
        response = page.goto(path)
        policy = response.headers.get("content-security-policy", "")
        directives = {d.split()[0]: d.split()[1:] for d in policy.split(";") if d.strip()}
        # scripts from this server only, or none at all (status pages and their preview run no script)
        scripts = directives.get("script-src", directives.get("default-src"))
        assert scripts in (["'self'"], ["'none'"]), (path, policy)
        page.wait_for_load_state("networkidle")
        found = page.evaluate("window.__problems") + problems
        assert not found, f"{path}: {found}"
        visited += 1
    assert visited > 40


def test_links_from_events_are_http_only_and_the_rest_is_text(page, admin, tenant):
    source = alert_services.create_alert_source(tenant, name="Prometheus", integration_type="api")
    links = [{"href": href, "text": f"hostile {n}"} for n, href in enumerate(HOSTILE)]
    links.append({"href": "https://grafana.example.com/d/1", "text": "Dashboard"})
    images = [{"src": "javascript:alert(2)", "alt": "graph"}]
    result = alert_services.ingest(source, InboundEvent(event_type=EventType.ALERT, summary="Disk full",
                                                        links=links, images=images))
    page.add_init_script(WATCH)
    login(page, admin.email, "correct horse battery")
    page.goto(f"/incidents/{result.incident.pk}/")
    hrefs = page.eval_on_selector_all("a[href]", "els => els.map(e => e.getAttribute('href'))")
    assert "https://grafana.example.com/d/1" in hrefs
    assert not [h for h in hrefs if h.strip().lower().startswith(("javascript:", "data:", "vbscript:"))]
    assert "/relative/path" not in hrefs
    body = page.inner_text("body")
    assert all(f"hostile {n}" in body for n in range(len(HOSTILE))) and "graph" in body
    assert page.evaluate("window.__problems") == []


def test_filters_and_select_all_work_without_inline_handlers(page, admin, tenant):
    source = alert_services.create_alert_source(tenant, name="Prometheus", integration_type="api")
    for n in range(2):
        alert_services.ingest(source, InboundEvent(event_type=EventType.ALERT, summary=f"Disk {n}", incident_key=f"k{n}"))
    page.add_init_script(WATCH)
    login(page, admin.email, "correct horse battery")
    page.goto("/incidents/")
    page.check("input[data-select-all]")
    assert page.eval_on_selector_all("#incident-rows input[name=ids]", "els => els.every(e => e.checked)")
    page.select_option("select[name=status]", "resolved")
    page.wait_for_url("**/incidents/?*status=resolved*")
    assert page.evaluate("window.__problems") == []
