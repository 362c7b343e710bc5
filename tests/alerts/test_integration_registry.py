"""alerts.integrations.registry is the one list of inbound integrations: every registered module
brings its set-up page, parser, endpoints and settings, everything else reads the declarations, and
no other module or template keeps a list of its own (docs/recipes/add-an-inbound-integration.md)."""

import ast
import re
from pathlib import Path

import pytest
from django.core.management import call_command
from django.template.loader import get_template
from django.test import Client
from django.urls import reverse

from alerts.forms import AlertSourceForm
from alerts.integrations import registry
from alerts.integrations.settings_form import SettingsForm
from alerts.integrations.spec import InboundIntegration
from alerts.models import AlertSource
from ilert.errors import DomainError

from .factories import make_source

ROOT = Path(__file__).resolve().parents[2]
INTEGRATIONS = registry.integrations()


@pytest.mark.parametrize("integration", INTEGRATIONS, ids=lambda integration: integration.name)
def test_every_integration_declares_what_a_source_needs(integration):
    assert integration.label.strip()
    get_template(integration.setup_template)
    if integration.panel_template:
        get_template(integration.panel_template)
    # A type with endpoints parses what they receive; only a type fed from inside (uptime) has neither.
    assert callable(integration.parse) == bool(integration.urls), integration.name
    for pattern in integration.urls:
        if pattern.name and not pattern.pattern.regex.groups:
            reverse(f"alerts:{pattern.name}")
    assert integration.settings_form is None or issubclass(integration.settings_form, SettingsForm)
    assert integration.clean_options is None or callable(integration.clean_options)


@pytest.mark.parametrize("integration", INTEGRATIONS, ids=lambda integration: integration.name)
def test_every_integration_has_its_set_up_page(admin, tenant, integration):
    source = make_source(tenant, integration_type=integration.name)
    client = Client()
    client.force_login(admin)
    response = client.get(f"/alert-sources/{source.pk}/")
    assert response.status_code == 200
    rendered = [template.name for template in response.templates]
    assert integration.setup_template in rendered
    assert source.integration_key in response.content.decode()
    assert integration.label in response.content.decode()
    assert ('id="integration-settings"' in response.content.decode()) == bool(integration.settings_form)
    if integration.settings_form:  # the shown settings, saved unchanged, go through the services
        form = integration.settings_form(source=source)
        data = {name: form[name].value() for name in form.fields}
        data = {name: value for name, value in data.items() if value not in (None, False)}
        saved = client.post(f"/alert-sources/{source.pk}/integration-settings", data, follow=True)
        assert "Integration settings saved." in saved.content.decode()


def test_the_choices_the_form_and_the_services_read_the_registry(tenant):
    expected = [(integration.name, integration.label) for integration in INTEGRATIONS]
    assert list(AlertSource._meta.get_field("integration_type").choices) == expected
    assert list(AlertSourceForm(policies=AlertSource.objects.none()).fields["integration_type"].choices) == expected
    assert AlertSource(integration_type="pagerduty").get_integration_type_display() == "PagerDuty Events API v2"
    assert make_source(tenant).integration_type == registry.DEFAULT
    with pytest.raises(DomainError) as refused:
        make_source(tenant, integration_type="nagios")
    assert refused.value.field == "integration_type"


def test_a_new_integration_needs_no_migration(db, monkeypatch):
    """The choices are a callable in the migrations, so registering another type changes nothing
    the autodetector sees."""
    known = dict(registry._by_name())
    extra = InboundIntegration(name="zabbix", label="Zabbix", setup_template="alerts/integrations/event_api.html")
    monkeypatch.setattr(registry, "_by_name", lambda: {**known, "zabbix": extra})
    assert ("zabbix", "Zabbix") in AlertSource._meta.get_field("integration_type").choices
    call_command("makemigrations", "alerts", "--check", "--dry-run", verbosity=0)  # SystemExit(1) on changes


# --- nothing else keeps a list ----------------------------------------------------------------------

NAMES = set(registry.names())
# URL names of the ingestion endpoints, by integration.
ENDPOINTS = {pattern.name: integration.name for integration in INTEGRATIONS for pattern in integration.urls
             if pattern.name}
INTEGRATION_MODULES = set(registry.MODULES)


def _python_files():
    for path in ROOT.rglob("*.py"):
        parts = path.relative_to(ROOT).parts
        if parts[0] in (".venv", "tests", "docs") or "migrations" in parts or parts[:2] == ("alerts", "integrations"):
            continue
        # The importers translate other tools' integration types ("prometheus", "grafana_alerting")
        # into ours: vendor vocabulary, not a list of our integrations.
        if parts[:2] == ("importers", "vendors"):
            continue
        yield path


def _knowledge_of(tree):
    """The integrations a module names (string constants), whose endpoints it names ("alerts:<url
    name>") and whose modules it imports."""
    names, endpoints, modules = set(), set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            if node.value in NAMES:
                names.add(node.value)
            url_name = node.value.removeprefix("alerts:")
            if node.value.startswith("alerts:") and url_name in ENDPOINTS:
                endpoints.add(ENDPOINTS[url_name])
        elif isinstance(node, ast.ImportFrom) and "integrations" in (node.module or "").split("."):
            path = node.module.split(".")
            below = path[path.index("integrations") + 1:]  # [] for "alerts.integrations", [module, …] else
            modules |= {below[0]} if below else {alias.name for alias in node.names}
    modules &= INTEGRATION_MODULES
    return names, endpoints, modules


def test_no_other_module_lists_the_integrations():
    offenders = {}
    for path in _python_files():
        names, endpoints, modules = _knowledge_of(ast.parse(path.read_text()))
        # A module may name one or two types it deals with (the SMS number column, the uptime
        # app's own sources); more is a per-type table that belongs in the integration modules.
        if len(names) > 3 or len(endpoints) > 1 or len(modules) > 2:
            offenders[str(path.relative_to(ROOT))] = sorted(names | endpoints | modules)
    assert offenders == {}


def test_no_template_branches_on_the_integration_type():
    offenders = []
    for path in (ROOT / "templates").rglob("*.html"):
        text = path.read_text()
        if re.search(r"integration_type\s*==|\bt\s*==\s*\"", text):
            offenders.append(str(path.relative_to(ROOT)))
        if path.parent.name != "integrations" and any(
                f"alerts:{url_name}'" in text or f'alerts:{url_name}"' in text for url_name in ENDPOINTS):
            offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []
