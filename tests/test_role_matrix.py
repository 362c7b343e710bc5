"""Every write door answers each role exactly as docs/permissions.md says (issue 13).

The doors are enumerated, not listed by hand: every API write operation from the OpenAPI schema
(like the tenancy sweep's request bodies) and every dashboard URL from the URL resolver. Each is
tried by an admin, a responder and a stakeholder with an empty body against a fresh object:
- `no`: 403, and nothing changes;
- `yes`: the role gets past the permission check (any answer but 401/403/404/405/5xx: an empty body
  may well be a 400);
- `own`: as `yes` on the role's own object (its API key, contact method, rule, override, user), and
  refused on somebody else's: 403 or 404 (the dashboard may instead redirect with the reason), and
  nothing changes.
A dashboard URL that answers POST with 405 is a page that only reads. Any other door missing from
the document fails the test, so a new route must say who may use it."""

import re
from pathlib import Path

import pytest
from django.forms.models import model_to_dict
from django.test import Client

from accounts.models import ApiKey, User
from ilert.models import DevMessage
from notifications.models import ContactMethod, NotificationRule, ProfileNotice
from schedules.models import Override
from tests.conftest import client_for
from tests.factories import FACTORIES, UserFactory, make_api_key
from tests.notifications.factories import make_method, make_notice, make_rule
from tests.schedules.factories import make_override, make_schedule
from tests.test_tenancy_sweep import _model_of, _names, dashboard_routes

pytestmark = pytest.mark.django_db
DOC = Path(__file__).resolve().parent.parent / "docs" / "permissions.md"
ROLES = ("admin", "responder", "stakeholder")
def _own_key(user):
    """An API key of `user`, also of a stakeholder (who may not make one: made as a responder)."""
    role = user.role
    User.objects.filter(pk=user.pk).update(role="responder")
    user.role = "responder"
    try:
        return make_api_key(user)[0]
    finally:
        User.objects.filter(pk=user.pk).update(role=role)
        user.role = role


def _dev_page(user):
    """A dev outbox page to `user` about a new incident (what a simulated reply answers)."""
    from notifications import services as notification_services
    from tests.alerts.factories import make_incident

    notification = notification_services.notify(make_incident(user.tenant), user, round_tag="matrix")[0]
    return DevMessage.objects.create(tenant=user.tenant, user=user, channel=notification.channel,
                                     to=notification.address, body="page", meta={"notification": notification.pk})


OWN = {
    ApiKey: _own_key,
    DevMessage: _dev_page,
    ContactMethod: lambda user: make_method(user),
    NotificationRule: lambda user: make_rule(user, make_method(user)),
    Override: lambda user: make_override(make_schedule(user.tenant), user=user),
    User: lambda user: user,
    ProfileNotice: make_notice,
}


def documented():
    """{(door, method): {role: yes|own|no}} and the set of public doors, from docs/permissions.md."""
    rules, public = {}, set()
    for line in DOC.read_text().splitlines():
        cells = [c.strip().strip("`") for c in line.strip().strip("|").split("|")]
        if len(cells) == 5 and cells[1] in ("POST", "PUT", "PATCH", "DELETE") and cells[2] in ("yes", "own", "no"):
            rules[(cells[0], cells[1])] = dict(zip(ROLES, cells[2:], strict=True))
        elif len(cells) == 2 and cells[0].startswith("/") and not cells[1].startswith("-"):
            public.add(cells[0])
    return rules, public


def api_doors():
    """(door, method, view class) for every write operation of /api/v1/."""
    from drf_spectacular.generators import SchemaGenerator

    generator = SchemaGenerator()
    generator._initialise_endpoints()
    for path, _regex, method, view in generator._get_paths_and_endpoints():
        if method in ("POST", "PUT", "PATCH", "DELETE") and path.startswith("/api/v1/"):
            yield path, method, type(view)


def _snapshot(obj):
    if obj is None:
        return None
    fresh = type(obj).objects.filter(pk=obj.pk).first()
    return None if fresh is None else model_to_dict(fresh)


def _count(model):
    return model.objects.count() if model is not None else None


class Trial:
    """One door tried by one role: make the object, ask, and tell whether the role got through."""

    def __init__(self, tenant, users):
        self.tenant, self.users = tenant, users
        self.api = {role: client_for(user) for role, user in users.items()}  # one key each, made up front

    def object_for(self, model, role, own):
        if own and model in OWN:
            return OWN[model](self.users[role])
        if model in OWN and model is not User:
            other = UserFactory(tenant=self.tenant, role="responder")
            return OWN[model](other)
        return FACTORIES[model](self.tenant)

    def ask(self, kind, role, method, path):
        user = self.users[role]
        if kind == "api":
            return getattr(self.api[role], method.lower())(path, {}, format="json")
        browser = Client()
        browser.force_login(user)
        return browser.post(path, {})


def _through(response):
    return response.status_code not in (401, 403, 404, 405) and response.status_code < 500


def _refused(response, own, kind):
    if not own:
        return response.status_code == 403
    return response.status_code in ((403, 404, 302) if kind == "page" else (403, 404))


def _check(trial, kind, door, method, model, make_path, rule, failures):
    for role in ("stakeholder", "responder", "admin"):
        expected = rule[role]
        own_object = expected == "own"
        needs_object = model is not None and "{pk}" in make_path
        # The role's own object (or any of the organisation's, for "yes"/"no").
        obj = trial.object_for(model, role, own=own_object) if needs_object else None
        before, count = _snapshot(obj), _count(model)
        response = trial.ask(kind, role, method, make_path.format(pk=obj.pk if obj else ""))
        if expected == "no":
            if not _refused(response, False, kind) or _snapshot(obj) != before or _count(model) != count:
                failures.append(f"{method} {door} as {role}: {response.status_code}, documented `no` (403, no change)")
        elif not _through(response):
            failures.append(f"{method} {door} as {role}: {response.status_code}, documented `{expected}`")
        if own_object and needs_object:  # somebody else's object of the same kind is refused
            theirs = trial.object_for(model, role, own=False)
            before, count = _snapshot(theirs), _count(model)
            response = trial.ask(kind, role, method, make_path.format(pk=theirs.pk))
            if not _refused(response, True, kind) or _snapshot(theirs) != before:
                failures.append(f"{method} {door} as {role} on another's object: {response.status_code}, "
                                "documented `own` (403/404, no change)")


@pytest.fixture
def trial(tenant, admin, responder, stakeholder):
    return Trial(tenant, {"admin": admin, "responder": responder, "stakeholder": stakeholder})


def test_every_api_write_answers_each_role_as_documented(trial):
    rules, _public = documented()
    failures, seen = [], 0
    for door, method, view_class in api_doors():
        rule = rules.get((door, method))
        if rule is None:
            failures.append(f"{method} {door} is not in docs/permissions.md: say who may use it")
            continue
        model = _model_of(view_class) if "{id}" in door else None
        _check(trial, "api", door, method, model, door.replace("{id}", "{pk}"), rule, failures)
        seen += 1
    assert not failures, "\n".join(failures)
    assert seen > 70


def test_every_dashboard_form_answers_each_role_as_documented(trial):
    rules, public = documented()
    failures, seen, reading = [], 0, set()
    for route, callback in dashboard_routes():
        door = "/" + route
        if door in public:
            continue
        names = _names(route)
        model = getattr(callback, "tenant_model", None)
        assert names in ([], [getattr(callback, "tenant_kwarg", None)]), f"{door}: the matrix cannot fill {names}"
        make_path = re.sub(r"<(?:\w+:)?\w+>", "{pk}", door)
        probe = make_path.format(pk=FACTORIES[model](trial.tenant).pk if model else "")
        if trial.ask("page", "admin", "POST", probe).status_code == 405:
            reading.add(door)
            continue
        rule = rules.get((door, "POST"))
        if rule is None:
            failures.append(f"POST {door} is not in docs/permissions.md: say who may use it (or list it as a "
                            "door that takes no role)")
            continue
        _check(trial, "page", door, "POST", model, make_path, rule, failures)
        seen += 1
    documented_but_reading = sorted(door for door, _method in rules if door in reading)
    assert not documented_but_reading, f"pages that only read are documented as forms: {documented_but_reading}"
    assert not failures, "\n".join(failures)
    assert seen > 50 and len(reading) > 15


def test_the_document_names_no_door_that_does_not_exist():
    rules, public = documented()
    api = {(door, method) for door, method, _view in api_doors()}
    pages = {"/" + route for route, _callback in dashboard_routes()}
    stale = [f"{method} {door}" for door, method in rules if (door, method) not in api and door not in pages]
    stale += [door for door in public if door not in pages]
    assert not stale, f"docs/permissions.md names doors that do not exist: {stale}"


def test_the_import_doors_are_held_by_the_matrix():
    """Issue 20: the import form is an admin-only door, and its job page only reads."""
    rules, _public = documented()
    assert rules[("/import/", "POST")] == {"admin": "yes", "responder": "no", "stakeholder": "no"}
    assert {"/" + route for route, _callback in dashboard_routes()} >= {"/import/", "/import/<int:pk>/"}


def test_metrics_is_an_operator_door_no_role_opens(settings, trial):
    """/metrics takes the operator's token (docs/metrics.md), never a tenant's session or API key."""
    settings.METRICS_TOKEN = "operator-token-for-the-matrix"
    _rules, public = documented()
    assert "/metrics" in public
    for role, user in trial.users.items():
        browser = Client()
        browser.force_login(user)
        assert browser.get("/metrics").status_code == 401, role
        assert trial.api[role].get("/metrics").status_code == 401, role
    assert Client().get("/metrics", HTTP_AUTHORIZATION="Bearer operator-token-for-the-matrix").status_code == 200
# --- reading doors (reports): who may read them, as docs/permissions.md says ----------------------


def _read_rules():
    rules = {}
    for line in DOC.read_text().splitlines():
        cells = [c.strip().strip("`") for c in line.strip().strip("|").split("|")]
        if len(cells) == 5 and cells[1] == "GET" and cells[2] in ("yes", "no"):
            rules[cells[0]] = dict(zip(ROLES, cells[2:], strict=True))
    return rules


def test_every_report_door_answers_each_role_as_documented(trial):
    from django.urls import get_resolver

    from tests.test_tenancy_sweep import _walk

    rules = _read_rules()
    doors = ["/" + route.replace("/?", "").replace("^", "").replace("$", "")
             for route, _ in _walk(get_resolver().url_patterns)
             if route.startswith(("reports/", "api/v1/reports/"))]
    assert len(doors) >= 9
    failures = [f"GET {door} is not in docs/permissions.md" for door in doors if door not in rules]
    failures += [f"docs/permissions.md names GET {door}, which does not exist" for door in rules if door not in doors]
    for door in doors:
        for role, expected in rules.get(door, {}).items():
            user = trial.users[role]
            if door.startswith("/api/"):
                response = trial.api[role].get(door)
            else:
                browser = Client()
                browser.force_login(user)
                response = browser.get(door)
            through = response.status_code in (200, 302)
            if through != (expected == "yes"):
                failures.append(f"GET {door} as {role}: {response.status_code}, documented `{expected}`")
    assert not failures, "\n".join(failures)
