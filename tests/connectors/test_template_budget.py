"""Connector templates have a CPU and memory budget (connectors/template_budget.py): hostile
templates are refused when saved (400 naming the field), by a counted limit — so on every machine
the same way and never past the budget — and a delivery whose template goes over the budget fails
for good with the reason on the invocation, instead of crashing the worker again and again."""

import dataclasses
import json
import tracemalloc

import pytest
import respx
from django.test import Client

from alerts.models import IncidentLogEntry
from connectors import engine, template_filters, templating
from connectors.models import Connection, ConnectionInvocation
from connectors.payload import template_context, worst_case_sample
from connectors.template_budget import LIMITS, Budget, Limits
from ilert.errors import DomainError
from tests.alerts.factories import alert, make_source

from .factories import make_connection, make_connector

URL = "https://hooks.example.com/ilert"
COUNTED = ("steps", "MiB of text and lists", "would build", "nest deeper", "renders more than", "bits", "at once")

HOSTILE = {
    "huge loop": "{% for i in range(10000) %}{% for j in range(10000) %}{% endfor %}{% endfor %}",
    "nested loops": "{% for a in range(1000) %}{% for b in range(1000) %}{% for c in range(1000) %}{% endfor %}"
                    "{% endfor %}{% endfor %}",
    "center filter": '{"a": "{{ "x"|center(20000000) }}"}',
    "center method": '{"a": "{{ "x".center(20000000) }}"}',
    "string repetition": '{"a": "{{ "x" * 10**9 }}"}',
    "macro recursion": "{% macro m(n) %}{{ m(n + 1) }}{% endmacro %}{{ m(0) }}",
    "macro fan-out": "{% macro m(n) %}{% if n < 30 %}{{ m(n + 1) }}{{ m(n + 1) }}{% endif %}{% endmacro %}{{ m(0) }}",
    "recursive loop": "{% set l = [[1], [2]] %}{% for x in l recursive %}{{ loop(l) }}{% endfor %}",
    "join of big ranges": "{% for i in range(10000) %}{{ range(10000)|join(',') }}{% endfor %}",
    "%-format padding": '{"a": "{{ "%020000000d"|format(1) }}"}',
    "%-operator padding": '{"a": "{{ "%020000000d" % 1 }}"}',
    "str.format padding": '{"a": "{{ "{:>20000000}".format(1) }}"}',
    "doubling with ~": '{% set ns = namespace(s="xxxxxxxx") %}{% for i in range(60) %}{% set ns.s = ns.s ~ ns.s %}'
                       "{% endfor %}{}",
    "output captured by set": "{% set s %}{% for i in range(10000) %}{{ incident.details }}{% endfor %}{% endset %}{}",
    "list repeated into text": "{% set l = [incident.details] * 100000 %}{{ l }}",
    "big numbers": "{% set ns = namespace(x=10**64) %}{% for i in range(40) %}{% set ns.x = ns.x * ns.x %}"
                   "{% endfor %}{}",
    "replace amplification": "{{ incident.details|replace('', incident.details) }}",
    "slices in a loop": "{% for i in range(10000) %}{% for j in range(100) %}{% set s = incident.details[1:] %}"
                        "{% endfor %}{% endfor %}{}",
    # one filter (or method) call on the largest value a template may build (2 MiB): each used to run
    # for up to seconds, or hold 50-270 MB, between two checks of the budget (bench/templates.py, part 5)
    "title of 2 MiB": '{"a": {{ ("ā " * 1048576)|title|length }}}',
    "striptags of 2 MiB": '{"a": {{ ("<a>" * 699050)|striptags|length }}}',
    "wordcount of 2 MiB": '{"a": {{ ("ā " * 1048576)|wordcount }}}',
    "sort of 2 MiB": '{"a": {{ ("ā\n" * 1048576)|sort|length }}}',
    "list of 2 MiB": '{"a": {{ ("ā " * 1048576)|list|length }}}',
    "max of 2 MiB": '{"a": {{ ("ā " * 1048576)|max|length }}}',
    "unique of 2 MiB": '{"a": {{ ("ā " * 1048576)|unique|list|length }}}',
    "groupby of 2 M items": '{"a": {{ (["a"] * 2000000)|groupby(0)|length }}}',
    "urlencode of 2 MiB": '{"a": {{ ("ā" * 2097152)|urlencode|length }}}',
    "tojson amplification": '{"a": {{ ("<" * 2097152)|tojson|length }}}',
    "split of 2 MiB": '{"a": {{ ("ā " * 1048576).split()|length }}}',
    "upper() of 2 MiB": '{"a": {{ ("ā" * 2097152).upper()|length }}}',
    "map, then list": '{"a": {{ ("ā" * 2097152)|map("upper")|list|length }}}',
    "map(attribute), then list": '{"a": {{ ("ā" * 2097152)|map(attribute="0")|list|length }}}',
}


# The CPU backstop far out of reach: a test of the counted limits must not depend on how fast this
# machine runs the steps they count (1 s of a loaded CPU is not much). Only a counted limit can
# stop a render within this; were the counting broken, a hostile template would run into it (or
# the test's timeout) and fail.
COUNTED_ONLY = dataclasses.replace(LIMITS, cpu_seconds=600)


@pytest.fixture(scope="module")
def largest():
    return template_context(worst_case_sample())


@pytest.mark.parametrize("template", list(HOSTILE.values()), ids=list(HOSTILE))
def test_hostile_templates_are_refused_at_save_with_400_naming_the_field(api, tenant, template):
    connector = make_connector(tenant)
    source = make_source(tenant)
    response = api.post("/api/v1/connections", {
        "alert_source": source.pk, "connector": connector.pk, "params": {"body_template": template}}, format="json")
    assert response.status_code == 400, response.content
    message = response.json()["fields"]["params.body_template"]
    assert "too costly" in str(message)
    assert not Connection.objects.exists()


@pytest.mark.parametrize("template", list(HOSTILE.values()), ids=list(HOSTILE))
def test_hostile_templates_stop_at_a_counted_limit_without_building_anything_big(largest, template):
    """Not the CPU backstop (which depends on the machine) but a counted limit stops them, with the
    counters no further than one charge past it (a join charges its items at once, at most a
    range's worth here), and nothing big was ever allocated."""
    budget = Budget(COUNTED_ONLY)
    tracemalloc.start()
    try:
        with pytest.raises(templating.TemplateFailed) as refused:
            templating.render(template, largest, budget=budget)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    message = str(refused.value)
    assert any(word in message for word in COUNTED) and "CPU" not in message, message
    assert budget.steps <= LIMITS.steps + LIMITS.range + template_filters.CALL_STEPS
    assert budget.volume <= LIMITS.volume + LIMITS.value
    assert peak < 16 * 1024 * 1024, f"{peak:,} bytes traced"


@pytest.mark.parametrize("name", sorted(template_filters.REMOVED_FILTERS))
def test_filters_no_payload_needs_and_that_overran_the_budget_in_one_call_are_gone(api, tenant, name):
    """urlize (HTML links), wordwrap (hard line breaks), pprint (Python's repr): refused when saved."""
    connector = make_connector(tenant)
    response = api.post("/api/v1/connections", {
        "alert_source": make_source(tenant).pk, "connector": connector.pk,
        "params": {"body_template": '{"a": {{ incident.details|' + name + '|json }}}'}}, format="json")
    assert response.status_code == 400, response.content
    assert f"No filter named '{name}'" in str(response.json()["fields"]["params.body_template"])


def test_every_filter_in_the_sandbox_is_lazy_or_charged_for_its_input():
    """A filter that a new Jinja2 brings must be measured (bench/templates.py, part 5) before it is
    charged like the others."""
    filters = set(templating.environment().filters)
    assert not filters & template_filters.REMOVED_FILTERS
    assert filters <= template_filters.LAZY_FILTERS | set(template_filters.FILTER_COSTS), \
        filters - template_filters.LAZY_FILTERS - set(template_filters.FILTER_COSTS)


@pytest.mark.parametrize("expression", [
    "incident.summary|title", "incident.details|striptags|truncate(200)", "incident.details|wordcount",
    "incident.labels|dictsort|length", "incident.details.splitlines()|length", "incident.details|upper|length",
    '(incident.custom_details.alerts|sort(attribute="labels.instance")|first).labels',
    'incident.custom_details.alerts|groupby("labels.severity")|length',
    'incident.custom_details.alerts|map(attribute="labels.severity")|unique|list',
])
def test_the_filters_charged_for_their_input_still_serve_the_largest_incident(largest, expression):
    """Charged for the worst input of their size, each of them on the largest incident's fields
    (64 KiB of details, all its alerts) takes at most a third of the budget."""
    budget = Budget(COUNTED_ONLY)
    body = templating.render_json('{"a": {{ (' + expression + ')|json }}}', largest, budget=budget)
    assert body["a"] not in (None, "", [], 0)
    assert budget.steps < LIMITS.steps / 3 and budget.volume < LIMITS.volume / 3, (budget.steps, budget.volume)


def test_the_cpu_backstop_stops_work_the_counting_lets_through():
    """Measured with the thread's CPU clock; here a clock that moves 0.1 s every time it is read."""
    ticks = iter(range(10**6))
    budget = Budget(Limits(steps=10**9, volume=10**12), cpu_clock=lambda: next(ticks) * 0.1)
    with pytest.raises(templating.TemplateFailed, match="CPU time"):
        templating.render("{% for i in range(10000) %}{% for j in range(10000) %}{% endfor %}{% endfor %}", {},
                          budget=budget)
    assert budget.steps < 32 * 12  # read every 32 steps: stopped at the 11th reading


def test_realistic_templates_render_the_largest_incident_well_inside_the_budget(largest):
    templates = [
        '{"text": {{ ("[" ~ incident.priority ~ "] #" ~ incident.number ~ " " ~ incident.summary)|json }}}',
        '{"source": "ilert", "payload": {{ payload|json }}}',
        '{"alerts": [{% for a in incident.custom_details.alerts %}{"name": {{ a.labels.alertname|json }}, '
        '"text": {{ (a.annotations.summary ~ " " ~ a.annotations.description)|json }}}{% if not loop.last %},'
        '{% endif %}{% endfor %}], "labels": {{ incident.labels|json }}}',
    ]
    for template in templates:
        budget = Budget(COUNTED_ONLY)
        body = templating.render_json(template, largest, budget=budget)
        assert body and budget.steps < LIMITS.steps / 10 and budget.volume < LIMITS.volume / 10


def test_a_normal_template_is_saved_and_delivered(tenant):
    template = '{"text": {{ incident.summary|json }}, "labels": [{% for k in incident.labels %}{{ k|json }}' \
               '{% if not loop.last %},{% endif %}{% endfor %}]}'
    connection = make_connection(tenant, params={"body_template": template})
    alert(connection.alert_source, "Disk full")
    with respx.mock() as mock:
        mock.post(URL).respond(200)
        engine.deliver_due()
        assert json.loads(mock.calls[0].request.content)["text"] == "Disk full"
    assert ConnectionInvocation.objects.get().status == "succeeded"


def test_a_delivery_whose_template_goes_over_the_budget_fails_for_good(tenant):
    """The largest sample incident passes at save; this incident takes the expensive branch."""
    template = ('{% if incident.summary == "boom" %}{% for i in range(10000) %}{% for j in range(10000) %}{% endfor %}'
                '{% endfor %}{% endif %}{"ok": true}')
    connection = make_connection(tenant, params={"body_template": template})
    alert(connection.alert_source, "boom")
    with respx.mock():  # nothing may be sent: an unregistered URL would raise
        assert engine.deliver_due() == 1
        assert engine.deliver_due() == 0
    invocation = ConnectionInvocation.objects.get()
    assert (invocation.status, invocation.attempts, invocation.due_at) == ("failed", 1, None)
    assert invocation.error.startswith("Template too costly:") and "steps" in invocation.error
    entry = IncidentLogEntry.objects.filter(kind="connector").latest("at")
    assert "failed: Template too costly" in entry.message


def test_a_template_saved_before_the_budget_existed_fails_its_delivery_for_good(tenant):
    connection = make_connection(tenant)
    Connection.objects.filter(pk=connection.pk).update(params={"body_template": HOSTILE["macro recursion"]})
    alert(connection.alert_source)
    with respx.mock():
        engine.deliver_due()
    invocation = ConnectionInvocation.objects.get()
    assert (invocation.status, invocation.attempts) == ("failed", 1)
    assert "nest deeper than" in invocation.error


def test_jira_custom_field_templates_are_checked_at_save_too(tenant):
    connector = make_connector(tenant, "jira")
    with pytest.raises(DomainError) as refused:
        make_connection(tenant, connector=connector, params={
            "project_key": "OPS", "custom_fields": {"customfield_1": "{{ 'x'|center(20000000) }}"}})
    assert refused.value.field == "params.custom_fields"


def test_templates_longer_than_16_kib_are_refused_naming_the_field(tenant):
    with pytest.raises(DomainError) as refused:
        make_connection(tenant, params={"body_template": '{"a": "' + "x" * (16 * 1024) + '"}'})
    assert refused.value.field == "params.body_template" and "16 KiB" in refused.value.message


@pytest.mark.parametrize("template", [
    "{% set l = [] %}{{ l.append(1) }}",  # templates do not mutate lists and dicts
    '{{ (1).to_bytes(1000000000, "big") }}',  # methods of plain values come from a fixed list
    "{{ lipsum(1000000000) }}",
])
def test_methods_that_mutate_or_are_not_on_the_list_are_refused(tenant, template):
    with pytest.raises(DomainError) as refused:
        make_connection(tenant, params={"body_template": template})
    assert refused.value.field == "params.body_template"


def test_the_dashboard_form_shows_the_refusal_at_the_field(admin, tenant):
    connector = make_connector(tenant)
    source = make_source(tenant)
    client = Client()
    client.force_login(admin)
    response = client.post(f"/alert-sources/{source.pk}/connections/new", {
        "connector": connector.pk, "trigger_mode": "automatic", "events": ["created"],
        "body_template": HOSTILE["nested loops"]})
    assert response.status_code == 200 and not Connection.objects.exists()
    form = response.context["form"]
    assert "too costly" in " ".join(form.errors["body_template"])
