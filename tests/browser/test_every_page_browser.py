"""Every dashboard page on a 390 px phone: enumerated from the URL conf (a new page is covered without
touching this file), visited in one browser after one login. No page scrolls sideways, the page's
primary action is on the first screen, and axe-core finds nothing serious or critical."""

import os
from pathlib import Path

import pytest
from django.test import Client

from tests.factories import FACTORIES
from tests.test_tenancy_sweep import _names, _path, dashboard_routes

from .conftest import login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 844}
AXE = Path(__file__).parent / "vendor" / "axe.min.js"
# SCREENSHOTS=/tmp/shots saves every page at 390 px and 1280 px wide, to look at.
SHOTS = os.environ.get("SCREENSHOTS")


def _shoot(page, path):
    name = path.strip("/").replace("/", "_") or "home"
    page.screenshot(path=f"{SHOTS}/{name}-390.png", full_page=True)
    page.set_viewport_size({"width": 1280, "height": 900})
    page.screenshot(path=f"{SHOTS}/{name}-1280.png", full_page=True)
    page.set_viewport_size(PHONE)


def _seed(tenant, admin):
    """A tenant with something on every page: incidents with details and labels, a policy, schedules,
    an uptime monitor with history, notifications in the dev outbox."""
    from alerts.models import Incident

    for model, make in FACTORIES.items():
        if model.__module__.split(".")[0] in ("accounts",):
            continue
        make(tenant)
    incident = Incident.objects.filter(tenant=tenant).first()
    incident.details = "Disk /var/lib/postgresql on db-1.example.com is 97% full."
    incident.custom_details = {"host": "db-1.example.com", "disk": {"mount": "/var/lib/postgresql", "used_percent": 97},
                               "runbook": "https://runbooks.example.com/disk-full"}
    incident.labels = {"severity": "critical", "team": "storage"}
    incident.save(update_fields=["details", "custom_details", "labels"])


def _axe(page, source):
    """axe-core's serious and critical findings on the page as it is now."""
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.evaluate(source + ";0")  # through the DevTools protocol: the page's CSP does not apply
    found = page.evaluate("""() => axe.run(document, {resultTypes: ['violations']}).then(r => r.violations
        .filter(v => ['serious', 'critical'].includes(v.impact))
        .map(v => v.impact + ' ' + v.id + ': ' + v.nodes.slice(0, 3).map(n => n.target.join(' ')).join(', ')))""")
    return found


def _axe_on(page, path, source, browser, live_server):
    """The logged-out pages (login) in a context of their own."""
    context = browser.new_context(base_url=live_server.url, viewport=PHONE)
    other = context.new_page()
    other.goto(path)
    found = _axe(other, source)
    context.close()
    return found


def dashboard_pages(tenant, admin):
    """(path, is_full_page) for every dashboard URL that answers a logged-in GET with a whole HTML page;
    URLs with an object id get one of this tenant's objects."""
    client = Client()
    client.force_login(admin)
    made, pages = {}, []
    for route, callback in dashboard_routes():
        if getattr(callback, "token_addressed", False):
            continue
        names = _names(route)
        if names:
            model = getattr(callback, "tenant_model", None)
            if model is None or model not in FACTORIES:
                continue
            if model not in made:
                existing = model.objects.filter(tenant=tenant).first() if hasattr(model, "tenant") else None
                made[model] = existing or FACTORIES[model](tenant)
            path = _path(route, **{callback.tenant_kwarg: made[model].pk})
        else:
            path = _path(route)
        response = client.get(path)
        content_type = response.get("Content-Type", "")
        if response.status_code != 200 or "html" not in content_type:
            continue
        if b'class="shell"' not in response.content:  # fragments (htmx panels) and pages outside the app
            continue
        pages.append(path)
    return sorted(set(pages))


def test_every_page_fits_a_phone_and_shows_its_primary_action(browser, live_server, admin, tenant):
    _seed(tenant, admin)
    pages = dashboard_pages(tenant, admin)
    assert len(pages) >= 20, pages  # the enumeration is not broken
    context = browser.new_context(base_url=live_server.url, viewport=PHONE, is_mobile=True, has_touch=True)
    context.set_default_timeout(10_000)
    page = context.new_page()
    login(page, admin.email, "correct horse battery")
    axe_source = AXE.read_text()
    problems = [f"/login/: {finding}" for finding in _axe_on(page, "/login/", axe_source, browser, live_server)]
    for path in pages:
        page.goto(path)
        page.wait_for_selector(".htmx-request", state="detached")  # panels loaded
        if SHOTS:
            _shoot(page, path)
        widths = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
        if widths[0] > widths[1]:
            wide = page.evaluate("""() => [...document.querySelectorAll('body *')]
                .filter(e => e.getBoundingClientRect().right > window.innerWidth + 1)
                .slice(0, 3).map(e => e.tagName + '.' + e.className)""")
            problems.append(f"{path}: scrollWidth {widths[0]} > {widths[1]} ({wide})")
        # A table scrolling sideways inside its card is sideways scrolling too (code blocks may).
        inner = page.evaluate("""() => [...document.querySelectorAll('.main *')]
            .filter(e => e.tagName !== 'PRE' && e.scrollWidth > e.clientWidth + 1 &&
                         ['auto', 'scroll'].includes(getComputedStyle(e).overflowX))
            .slice(0, 3).map(e => e.tagName + '.' + e.className + '#' + e.id)""")
        if inner:
            problems.append(f"{path}: scrolls sideways inside {inner}")
        primary = page.evaluate("""() => {
            const el = document.querySelector('[data-primary-action]') ||
                [...document.querySelectorAll('.main .btn.primary')].find(b => b.offsetParent !== null);
            if (!el) return null;
            const r = el.getBoundingClientRect();
            return {top: r.top + window.scrollY, bottom: r.bottom + window.scrollY, text: el.textContent.trim()};
        }""")
        if primary is not None and primary["bottom"] > PHONE["height"] + 1:  # +1: a bar stuck to the bottom edge
            problems.append(f"{path}: primary action {primary['text']!r} below the first screen ({primary['top']}px)")
        problems += [f"{path}: {finding}" for finding in _axe(page, axe_source)]

    # Keyboard: the first Tab shows the skip link, Enter moves to the content; focus is visible.
    page.goto("/incidents/")
    page.keyboard.press("Tab")
    skip = page.evaluate("""() => { const a = document.activeElement, r = a.getBoundingClientRect();
        return {cls: a.className, top: r.top, outline: getComputedStyle(a).outlineStyle}; }""")
    assert skip["cls"] == "skip-link" and skip["top"] >= 0 and skip["outline"] != "none", skip
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"
    page.keyboard.press("Tab")
    focused = page.evaluate("""() => { const a = document.activeElement;
        return {tag: a.tagName, outline: getComputedStyle(a).outlineStyle, width: getComputedStyle(a).outlineWidth}; }""")
    assert focused["outline"] != "none" and focused["width"] != "0px", focused
    context.close()
    assert not problems, "\n".join(problems)
