"""docs/architecture.md §3: every /api/v1/ route and every dashboard URL, enumerated from the URL resolver
(not a hand-kept list), is tried with a second tenant's objects. Nothing may be listed, read,
changed or deleted across tenants: the answer is 404. Every write's request body (enumerated from
the OpenAPI schema) is tried with the second tenant's ids in each field that names an object: the
answer is the same 400 as for an id that does not exist.

A new endpoint is covered without touching this file; its model needs a factory in
tests/factories.py FACTORIES (the sweep fails and says so when one is missing)."""

import pytest
from django.forms.models import model_to_dict
from django.urls import URLPattern, URLResolver, get_resolver

from tests.conftest import client_for

from .factories import FACTORIES

pytestmark = pytest.mark.django_db


def _walk(patterns, prefix=""):
    for entry in patterns:
        if isinstance(entry, URLResolver):
            yield from _walk(entry.url_patterns, prefix + str(entry.pattern))
        elif isinstance(entry, URLPattern):
            yield prefix + str(entry.pattern), entry


def _kwargs(route):
    import re

    return re.findall(r"\(\?P<(\w+)>|<(?:\w+:)?(\w+)>", route)


def _names(route):
    return [a or b for a, b in _kwargs(route)]


def _path(route, **values):
    """A concrete path for a Django route or a DRF regex route."""
    import re

    path = route.replace("^", "").replace("$", "")
    for name, value in values.items():
        path = re.sub(rf"\(\?P<{name}>[^)]*\)", str(value), path)
        path = re.sub(rf"<(?:\w+:)?{name}>", str(value), path)
    path = path.replace("/?", "").replace("\\.", ".")
    return "/" + path


def api_routes():
    for route, pattern in _walk(get_resolver().url_patterns):
        cls = getattr(pattern.callback, "cls", None)
        if route.startswith("api/v1/") and cls is not None and getattr(pattern.callback, "actions", None):
            if "format" in _names(route):
                continue
            yield route, pattern.callback


def dashboard_routes():
    for route, pattern in _walk(get_resolver().url_patterns):
        if route.startswith(("api/", "django-admin/", "static/")):
            continue
        yield route, pattern.callback


def _model_of(cls):
    queryset = getattr(cls, "queryset", None)
    if queryset is not None:
        return queryset.model
    return cls.serializer_class.Meta.model


def _snapshot(obj):
    fresh = type(obj).objects.filter(pk=obj.pk).first()
    return None if fresh is None else model_to_dict(fresh)


def test_the_sweep_finds_the_routes():
    routes = [route for route, _ in api_routes()]
    assert any("users" in r for r in routes) and any("api-keys" in r for r in routes)


def test_no_api_route_reaches_another_tenants_objects(admin, outsider, tenant, other_tenant):
    client = client_for(admin)
    seen_models = {}
    for route, callback in api_routes():
        cls = callback.cls
        model = _model_of(cls)
        assert model in FACTORIES, f"{route}: add a factory for {model.__name__} to tests/factories.py FACTORIES"
        if model not in seen_models:
            seen_models[model] = (FACTORIES[model](tenant), FACTORIES[model](other_tenant))
        mine, theirs = seen_models[model]
        names = _names(route)
        extra = [n for n in names if n != "pk"]
        assert not extra, f"{route}: the sweep does not know how to fill {extra}; teach it"

        if not names:  # a collection: GET lists only this tenant's objects
            if "get" in callback.actions:
                response = client.get(_path(route), {"page_size": 500})
                assert response.status_code == 200, (route, response.content)
                body = response.json()
                items = body["results"] if isinstance(body, dict) and "results" in body else body
                ids = {item.get("id") for item in items if isinstance(item, dict)}
                assert theirs.pk not in ids, f"{route} lists another tenant's {model.__name__}"
                assert mine.pk in ids, f"{route} does not list this tenant's {model.__name__} (sweep broken?)"
            continue

        before = _snapshot(theirs)
        path = _path(route, pk=theirs.pk)
        for method in [m for m in list(callback.actions) if m not in ("head", "options")]:
            response = getattr(client, method)(path, {}, format="json")
            assert response.status_code == 404, f"{method.upper()} {path} answered {response.status_code}"
        assert _snapshot(theirs) == before, f"{route} changed another tenant's {model.__name__}"
        own = client.get(_path(route, pk=mine.pk)) if "get" in callback.actions else None
        if own is not None:
            assert own.status_code == 200, f"GET {route} for this tenant's object answered {own.status_code}"


def _related_filters(cls, model):
    """{query parameter: related model} for the list's filters on related objects."""
    from django_filters import ModelChoiceFilter, ModelMultipleChoiceFilter
    from django_filters.rest_framework import DjangoFilterBackend

    filterset_class = DjangoFilterBackend().get_filterset_class(cls, model.objects.all())
    if filterset_class is None:
        return {}
    found = {}
    for name, item in filterset_class.base_filters.items():
        if isinstance(item, (ModelChoiceFilter, ModelMultipleChoiceFilter)):
            queryset = item.extra.get("queryset")
            related = getattr(queryset, "model", None)
            if related is not None:
                found[name] = related
    return found


def test_list_filters_never_confirm_another_tenants_objects(admin, outsider, tenant, other_tenant):
    """?alert_source=<their id> must answer exactly like ?alert_source=<no such id>."""
    client = client_for(admin)
    checked = 0
    made = {}
    for route, callback in api_routes():
        if _names(route) or "get" not in callback.actions:
            continue
        for param, related in _related_filters(callback.cls, _model_of(callback.cls)).items():
            if related not in FACTORIES:
                continue
            if related not in made:
                made[related] = (FACTORIES[related](tenant), FACTORIES[related](other_tenant))
            mine, theirs = made[related]
            path = _path(route)
            foreign = client.get(path, {param: theirs.pk})
            unknown = client.get(path, {param: 2**31 - 7})
            own = client.get(path, {param: mine.pk})
            assert foreign.status_code == unknown.status_code == 400, f"{path}?{param}=<their id>: {foreign.status_code}"
            assert own.status_code == 200, f"{path}?{param}=<own id> answered {own.status_code}"
            checked += 1
    assert checked >= 5, "the sweep found too few filters on related objects (broken?)"


def test_no_dashboard_url_reaches_another_tenants_objects(admin, outsider, tenant, other_tenant):
    client = client_for(None)
    from django.test import Client

    client = Client()
    client.force_login(admin)
    made = {}
    their_urls = []
    for route, callback in dashboard_routes():
        names = _names(route)
        if not names:
            continue
        if getattr(callback, "token_addressed", False):
            continue
        model = getattr(callback, "tenant_model", None)
        assert model is not None, (
            f"{route}: a dashboard URL with {names} must load its object with ilert.dashboard.tenant_object "
            "(or be marked token_addressed)"
        )
        assert model in FACTORIES, f"{route}: add a factory for {model.__name__} to tests/factories.py FACTORIES"
        if model not in made:
            made[model] = FACTORIES[model](other_tenant)
        theirs = made[model]
        before = _snapshot(theirs)
        path = _path(route, **{callback.tenant_kwarg: theirs.pk})
        their_urls.append(path)
        for method in ("get", "post"):
            response = getattr(client, method)(path)
            assert response.status_code in (404, 405), f"{method.upper()} {path} answered {response.status_code}"
        assert _snapshot(theirs) == before, f"{route} changed another tenant's {model.__name__}"

    # pages without ids never show another tenant's objects or links to them
    for route, callback in dashboard_routes():
        if _names(route) or getattr(callback, "token_addressed", False):
            continue
        path = _path(route)
        response = client.get(path)
        if response.status_code != 200 or "html" not in response.get("Content-Type", ""):
            continue
        html = response.content.decode()
        assert other_tenant.name not in html and outsider.email not in html, f"{path} shows another tenant"
        for url in their_urls:
            assert f'href="{url}"' not in html, f"{path} links to {url}"


def _request_bodies():
    """(method, path template, view class, request serializer) for every API write, as the OpenAPI
    schema knows them: the same enumeration that documents the API, so nothing is left out."""
    from drf_spectacular.generators import SchemaGenerator
    from rest_framework.serializers import BaseSerializer

    generator = SchemaGenerator()
    generator._initialise_endpoints()
    for path, path_regex, method, view in generator._get_paths_and_endpoints():
        if method not in ("POST", "PUT", "PATCH") or not path.startswith("/api/v1/"):
            continue
        view.schema.path, view.schema.path_regex, view.schema.method = path, path_regex, method
        request = view.schema.get_request_serializer()
        for serializer in request.values() if isinstance(request, dict) else [request]:  # {content type: …}
            if isinstance(serializer, type):
                serializer = serializer()
            if isinstance(serializer, BaseSerializer):
                yield method, path, type(view), serializer


def _related_fields(serializer, prefix=""):
    """{body path ("levels[0].users"): (field, many)} for every writable field naming other objects."""
    from rest_framework import relations, serializers

    if isinstance(serializer, serializers.ListSerializer):
        serializer = serializer.child
    found = {}
    for name, field in serializer.fields.items():
        if field.read_only:
            continue
        if isinstance(field, relations.ManyRelatedField):
            found[prefix + name] = (field.child_relation, True)
        elif isinstance(field, relations.RelatedField):
            found[prefix + name] = (field, False)
        elif isinstance(field, serializers.ListSerializer):
            found.update(_related_fields(field.child, f"{prefix}{name}[0]."))
        elif isinstance(field, serializers.Serializer):
            found.update(_related_fields(field, f"{prefix}{name}."))
    return found


def _body(field_path, value):
    """{"levels": [{"users": value}]} for "levels[0].users"."""
    head, _, rest = field_path.partition(".")
    if head.endswith("[0]"):
        return {head[:-3]: [_body(rest, value)]}
    return {head: _body(rest, value)} if rest else {head: value}


def test_request_bodies_never_accept_another_tenants_objects(admin, outsider, tenant, other_tenant):
    """POST/PUT/PATCH naming another tenant's object (a user, a schedule, a policy …) anywhere in the
    body is refused exactly like an id that does not exist, and changes nothing."""
    from ilert.tenancy import TenantRelatedField

    client = client_for(admin)
    made, checked = {}, 0

    def pair(model):
        assert model in FACTORIES, f"add a factory for {model.__name__} to tests/factories.py FACTORIES"
        if model not in made:
            made[model] = (FACTORIES[model](tenant), FACTORIES[model](other_tenant))
        return made[model]

    for method, template, view_class, serializer in _request_bodies():
        path = template
        if "{id}" in template:
            path = template.replace("{id}", str(pair(_model_of(view_class))[0].pk))
        for field_path, (field, many) in _related_fields(serializer).items():
            assert isinstance(field, TenantRelatedField), (
                f"{method} {template}: {field_path} must be an ilert.tenancy.TenantRelatedField")
            related = field.queryset.model
            theirs = pair(related)[1]
            unknown = 2**31 - 7
            before, count = _snapshot(theirs), related.objects.count()
            answers = {}
            for label, pk in (("theirs", theirs.pk), ("unknown", unknown)):
                response = getattr(client, method.lower())(path, _body(field_path, [pk] if many else pk),
                                                           format="json")
                assert response.status_code == 400, f"{method} {path} with {label} {field_path}: {response.status_code}"
                errors = response.json().get("fields", {})
                assert field_path in errors, f"{method} {path}: no error for {field_path} ({errors})"
                answers[label] = [m.replace(str(pk), "<id>") for m in errors[field_path]]
            assert answers["theirs"] == answers["unknown"], f"{method} {path}: {field_path} confirms their object"
            assert _snapshot(theirs) == before and related.objects.count() == count
            checked += 1
    assert checked >= 40, f"only {checked} related fields found in request bodies (sweep broken?)"


# --- read routes with object filters (reports): another tenant's id is an unknown id -------------


def _filtered_read_routes():
    for route, pattern in _walk(get_resolver().url_patterns):
        callback = pattern.callback
        filters = getattr(getattr(callback, "cls", None) or callback, "tenant_filters", None)
        if filters:
            yield route, filters


def test_read_route_filters_never_confirm_another_tenants_objects(admin, outsider, tenant, other_tenant):
    """?source=<their id> on a report (API or page) answers exactly like ?source=<no such id>."""
    from django.test import Client

    api = client_for(admin)
    page = Client()
    page.force_login(admin)
    checked = 0
    for route, filters in _filtered_read_routes():
        client = api if route.startswith("api/") else page
        path = _path(route)
        for param, model in filters.items():
            mine, theirs = FACTORIES[model](tenant), FACTORIES[model](other_tenant)
            foreign, unknown = client.get(path, {param: theirs.pk}), client.get(path, {param: 2**31 - 7})
            own = client.get(path, {param: mine.pk})
            assert foreign.status_code == unknown.status_code == 400, f"{path}?{param}=<their id>: {foreign.status_code}"
            assert own.status_code == 200, f"{path}?{param}=<own id> answered {own.status_code}"
            checked += 1
    assert checked >= 10, "the sweep found too few report filters (broken?)"
