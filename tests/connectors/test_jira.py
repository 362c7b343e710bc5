"""Jira target against a fake Jira at the HTTP layer (respx intercepts httpx)."""

import base64
import json
import re
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import respx
import time_machine

from alerts import services as alert_services
from alerts.models import IncidentLogEntry
from connectors import engine, services
from connectors.models import ConnectionInvocation, ExternalRef
from tests.alerts.factories import alert, make_source

from .factories import make_connection, make_connector

CLOUD = "https://acme.atlassian.net"


class FakeJira:
    """Enough of Jira's REST API: search (JQL on project + label), create, comment, transitions."""

    def __init__(self, mock, base=CLOUD, search_path="/rest/api/3/search/jql"):
        self.issues, self.creates, self.searches = {}, [], []
        self.fail_next_create_with = None
        mock.get(url__regex=re.escape(base + search_path) + r".*").mock(side_effect=self.search)
        mock.post(base + "/rest/api/2/issue").mock(side_effect=self.create)
        mock.post(url__regex=re.escape(base) + r"/rest/api/2/issue/([A-Z]+-\d+)/comment").mock(side_effect=self.comment)
        mock.get(url__regex=re.escape(base) + r"/rest/api/2/issue/([A-Z]+-\d+)/transitions").mock(
            side_effect=self.transitions)
        mock.post(url__regex=re.escape(base) + r"/rest/api/2/issue/([A-Z]+-\d+)/transitions").mock(
            side_effect=self.transition)
        mock.get(base + "/rest/api/2/myself").respond(json={"displayName": "ilert bot"})

    def search(self, request):
        jql = parse_qs(urlsplit(str(request.url)).query)["jql"][0]
        self.searches.append(jql)
        label = re.search(r'labels = "([^"]+)"', jql).group(1)
        found = [{"id": "1", "key": key} for key, issue in self.issues.items() if label in issue["fields"]["labels"]]
        return httpx.Response(200, json={"issues": found})

    def create(self, request):
        fields = json.loads(request.content)["fields"]
        key = f"{fields['project']['key']}-{len(self.issues) + 1}"
        self.issues[key] = {"fields": fields, "comments": [], "status": "To Do"}
        self.creates.append(request)
        if self.fail_next_create_with is not None:  # Jira made the issue, but the answer never arrives
            error, self.fail_next_create_with = self.fail_next_create_with, None
            raise error
        return httpx.Response(201, json={"id": "10001", "key": key, "self": f"{CLOUD}/rest/api/2/issue/10001"})

    def _key(self, request):
        return re.search(r"/issue/([A-Z]+-\d+)/", str(request.url)).group(1)

    def comment(self, request):
        self.issues[self._key(request)]["comments"].append(json.loads(request.content)["body"])
        return httpx.Response(201, json={"id": "1"})

    def transitions(self, request):
        return httpx.Response(200, json={"transitions": [{"id": "11", "name": "In Progress",
                                                          "to": {"name": "In Progress"}},
                                                         {"id": "31", "name": "Done", "to": {"name": "Done"}}]})

    def transition(self, request):
        chosen = json.loads(request.content)["transition"]["id"]
        self.issues[self._key(request)]["status"] = {"11": "In Progress", "31": "Done"}[chosen]
        return httpx.Response(204)


PARAMS = {
    "project_key": "OPS",
    "issue_type": "Incident",
    "summary_template": "[{{ incident.priority }}] #{{ incident.number }} {{ incident.summary }}",
    "description_template": "{{ incident.details }} — {{ incident.url }}",
    "priority_map": {"HIGH": "Highest", "LOW": "Low"},
    "custom_fields": {"customfield_10010": "from {{ incident.alert_source.name }}", "customfield_10020": {"id": "7"}},
    "resolve_transition": "Done",
}


@pytest.fixture
def jira_connection(tenant):
    connector = make_connector(tenant, "jira", name="Jira")
    return make_connection(tenant, connector=connector, source=make_source(tenant, name="Prometheus"), params=PARAMS)


def test_it_creates_one_issue_comments_on_changes_and_transitions_on_resolve(jira_connection, admin):
    incident = alert(jira_connection.alert_source, "db-1 down", details="disk 99%").incident
    with respx.mock(assert_all_called=False) as mock:
        jira = FakeJira(mock)
        engine.deliver_due()
        create = jira.creates[0]
        token = base64.b64encode(b"bot@acme.test:jira-api-token-0123456789").decode()
        assert create.headers["Authorization"] == f"Basic {token}"
        fields = json.loads(create.content)["fields"]
        assert fields["project"] == {"key": "OPS"} and fields["issuetype"] == {"name": "Incident"}
        assert fields["summary"] == f"[HIGH] #{incident.number} db-1 down"
        assert fields["description"].startswith("disk 99% — http") and fields["priority"] == {"name": "Highest"}
        assert fields["customfield_10010"] == "from Prometheus" and fields["customfield_10020"] == {"id": "7"}
        label = f"ilert-{incident.tenant_id}-{incident.number}-c{jira_connection.pk}"
        assert label in fields["labels"]
        assert f'labels = "{label}"' in jira.searches[0] and 'project = "OPS"' in jira.searches[0]

        alert_services.accept(incident, by=admin)
        alert_services.comment(incident, "rebooting db-1", by=admin)
        alert_services.resolve(incident, by=admin)
        for _ in range(3):
            engine.deliver_due()
        assert len(jira.creates) == 1 and len(jira.searches) == 1  # the stored key is reused
        issue = jira.issues["OPS-1"]
    assert issue["status"] == "Done"
    assert len(issue["comments"]) == 3 and "rebooting db-1" in issue["comments"][1]
    assert set(ConnectionInvocation.objects.values_list("status", "external_ref")) == {("succeeded", "OPS-1")}
    ref = ExternalRef.objects.get()
    assert ref.ref == "OPS-1" and ref.url == f"{CLOUD}/browse/OPS-1"
    timeline = IncidentLogEntry.objects.filter(incident=incident, kind="connector").first()
    assert "created OPS-1" in timeline.message and timeline.data["url"] == f"{CLOUD}/browse/OPS-1"


@pytest.mark.parametrize("error", [httpx.ReadTimeout("read timed out"),
                                   httpx.ReadError("connection reset")])
def test_a_retry_after_a_timeout_never_creates_a_second_issue(jira_connection, error):
    alert(jira_connection.alert_source)
    with respx.mock(assert_all_called=False) as mock:
        jira = FakeJira(mock)
        jira.fail_next_create_with = error
        engine.deliver_due()
        row = ConnectionInvocation.objects.get()
        assert row.status == "pending" and ("timed out" in row.error or "connection failed" in row.error)
        assert len(jira.issues) == 1  # Jira did create it; we never saw the key
        assert not ExternalRef.objects.exists()
        with time_machine.travel(row.due_at + timedelta(seconds=1)):
            engine.deliver_due()
        assert len(jira.creates) == 1 and len(jira.issues) == 1
        assert len(jira.searches) == 2  # the retry searched for the label and found the issue
        # and a manual run later reuses the stored key without searching or creating
        services.run_now(jira_connection, row.incident)
        engine.deliver_due()
        assert len(jira.creates) == 1 and len(jira.searches) == 2
    row.refresh_from_db()
    assert row.status == "succeeded" and row.external_ref == "OPS-1"
    assert row.message == "found OPS-1 (created by an earlier attempt)"
    assert ExternalRef.objects.get().ref == "OPS-1"


def test_data_center_uses_a_personal_access_token_and_the_v2_search(tenant):
    connector = make_connector(tenant, "jira", settings={"base_url": "https://jira.example.com", "deployment": "datacenter"},
                               credentials={"token": "dc-personal-access-token-42"})
    connection = make_connection(tenant, connector=connector, params={"project_key": "SUP", "priority_map": {}})
    alert(connection.alert_source)
    with respx.mock(assert_all_called=False) as mock:
        jira = FakeJira(mock, base="https://jira.example.com", search_path="/rest/api/2/search")
        engine.deliver_due()
    (create,) = jira.creates
    assert create.headers["Authorization"] == "Bearer dc-personal-access-token-42"
    assert "priority" not in json.loads(create.content)["fields"]
    assert ConnectionInvocation.objects.get().external_ref == "SUP-1"


def test_a_missing_transition_fails_with_the_available_ones(jira_connection, admin):
    jira_connection.params = {**jira_connection.params, "resolve_transition": "Closed"}
    jira_connection.save()
    incident = alert(jira_connection.alert_source).incident
    with respx.mock(assert_all_called=False) as mock:
        FakeJira(mock)
        engine.deliver_due()
        alert_services.resolve(incident, by=admin)
        engine.deliver_due()
    failed = ConnectionInvocation.objects.get(event="resolved")
    assert failed.status == "failed" and "In Progress, Done" in failed.error


def test_jira_refusing_the_request_is_not_retried(jira_connection):
    alert(jira_connection.alert_source)
    with respx.mock() as mock:
        mock.get(url__regex=CLOUD + r"/rest/api/3/search/jql.*").respond(json={"issues": []})
        mock.post(CLOUD + "/rest/api/2/issue").respond(400,
                 json={"errors": {"issuetype": "The issue type selected is invalid."}})
        engine.deliver_due()
    row = ConnectionInvocation.objects.get()
    assert row.status == "failed" and row.http_status == 400
    assert "invalid" in json.dumps(row.summary)  # the redacted response summary keeps Jira's reason


def test_the_connection_test_asks_jira_who_we_are(tenant):
    connector = make_connector(tenant, "jira")
    with respx.mock(assert_all_called=False) as mock:
        FakeJira(mock)
        outcome = services.test_connector(connector)
    assert outcome.ok and "ilert bot" in outcome.message
