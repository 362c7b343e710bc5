"""Jira (Cloud and Data Center), over its REST API with requests.

Auth: Cloud uses the account email and an API token (HTTP Basic); Data Center a personal access
token (Bearer).

One issue per incident and connection, never two:
1. the key of the issue, once created, is stored at once (ExternalRef) and reused by every later
   event and retry;
2. every issue we create carries a unique label `ilert-<tenant>-<incident number>-c<connection>`;
   before creating, we search for it with JQL. So when a create request timed out after Jira had
   made the issue (we never saw the key), the retry finds that issue instead of creating another.
   Invocations of one connection and incident run one at a time, in order (engine.claim), so two
   workers never race to create.
Later events comment on the issue; `resolved` also moves it through the configured transition.
"""

import base64

from ilert.errors import DomainError

from .. import templating
from ..payload import status_line, template_context, worst_case_sample
from .base import DeliveryError, Field, Outcome, Target, http_call

DEFAULT_SUMMARY = "[ilert #{{ incident.number }}] {{ incident.summary }}"
DEFAULT_DESCRIPTION = ("{{ incident.details }}\n\nAlert source: {{ incident.alert_source.name }}\n"
                       "Priority: {{ incident.priority }}\nilert: {{ incident.url }}")


def label_for(ctx):
    return f"ilert-{ctx.connector.tenant_id}-{ctx.payload['incident']['number']}-c{ctx.connection.pk}"


class Jira(Target):
    kind = "jira"
    label = "Jira"
    actions = {"create_issue": "Create an issue, comment on changes, transition on resolve"}
    default_events = ["created", "assigned", "escalated", "accepted", "resolved", "comment_added"]
    description = "Open a Jira issue per incident (Cloud or Data Center)."
    settings_fields = [
        Field("base_url", "Jira URL", "url", required=True, placeholder="https://acme.atlassian.net"),
        Field("deployment", "Deployment", "choice", required=True, default="cloud",
              choices=(("cloud", "Jira Cloud (email + API token)"), ("datacenter", "Data Center / Server (PAT)"))),
        Field("email", "Account email (Cloud)", "text", help="The Atlassian account the API token belongs to."),
    ]
    destination_settings = ("base_url",)
    credential_fields = [Field("token", "API token (Cloud) or personal access token (Data Center)", required=True)]
    param_fields = [
        Field("project_key", "Project key", required=True, placeholder="OPS"),
        Field("issue_type", "Issue type", default="Task"),
        Field("summary_template", "Summary template", "template", default=DEFAULT_SUMMARY),
        Field("description_template", "Description template", "template", default=DEFAULT_DESCRIPTION),
        Field("priority_map", "Priority mapping", "json", default={"HIGH": "High", "LOW": "Low"},
              help='ilert priority → Jira priority name, e.g. {"HIGH": "Highest", "LOW": "Low"}; {} leaves it unset.'),
        Field("custom_fields", "Custom fields", "json", default={},
              help='Extra fields for the create request, e.g. {"customfield_10010": "ops"}; '
                   'string values are templates.'),
        Field("resolve_transition", "Transition on resolve", default="Done",
              help="The name of the workflow transition to apply when the incident resolves; empty: none."),
        Field("comment_on_changes", "Comment when the incident changes", "bool", default=True),
    ]

    def clean(self, settings, credentials):
        if settings.get("deployment", "cloud") == "cloud" and not settings.get("email"):
            raise DomainError("Jira Cloud needs the account email of the API token.", field="settings.email")
        return settings, credentials

    def clean_params(self, params):
        if "project_key" in params and not params["project_key"].replace("_", "").isalnum():
            raise DomainError("A project key is letters, digits and underscores.", field="params.project_key")
        for key, value in (params.get("priority_map") or {}).items():
            if not isinstance(value, str):
                raise DomainError(f"The Jira priority for {key} must be a name.", field="params.priority_map")
        custom = {k: v for k, v in (params.get("custom_fields") or {}).items() if isinstance(v, str)}
        if custom:  # string values are templates too: checked like the others, under the same budget
            sample = worst_case_sample()
            for value in custom.values():
                templating.validate(value, "params.custom_fields", sample=sample)
        return params

    # --- HTTP ----------------------------------------------------------------------------------

    def _base(self, ctx):
        return ctx.settings["base_url"].rstrip("/")

    def _headers(self, ctx):
        token = ctx.credentials["token"]
        if ctx.settings.get("deployment", "cloud") == "cloud":
            basic = base64.b64encode(f"{ctx.settings.get('email', '')}:{token}".encode()).decode()
            auth = f"Basic {basic}"
        else:
            auth = f"Bearer {token}"
        return {"Authorization": auth, "Accept": "application/json", "Content-Type": "application/json"}

    def _call(self, ctx, method, path, what, **kwargs):
        return http_call(ctx, method, self._base(ctx) + path, f"Jira {what}", headers=self._headers(ctx), **kwargs)

    def _json(self, response, what):
        try:
            return response.json()
        except ValueError:
            raise DeliveryError(f"Jira {what}: the answer is not JSON (HTTP {response.status_code})",
                                status=response.status_code) from None

    def issue_url(self, ctx, key):
        return f"{self._base(ctx)}/browse/{key}"

    def find_issue(self, ctx, label):
        jql = f'project = "{ctx.params["project_key"]}" AND labels = "{label}" ORDER BY created ASC'
        params = {"jql": jql, "fields": "key", "maxResults": 1}
        path = "/rest/api/3/search/jql" if ctx.settings.get("deployment", "cloud") == "cloud" else "/rest/api/2/search"
        issues = self._json(self._call(ctx, "GET", path, "search", params=params), "search").get("issues") or []
        return issues[0]["key"] if issues else None

    def _render(self, template, ctx):
        try:
            return templating.render(template, template_context(ctx.payload))
        except templating.TemplateFailed as exc:
            raise DeliveryError(str(exc)) from None

    def create_issue(self, ctx, label):
        p = ctx.params
        fields = {
            "project": {"key": p["project_key"]},
            "issuetype": {"name": p.get("issue_type") or "Task"},
            "summary": self._render(p.get("summary_template") or DEFAULT_SUMMARY, ctx).strip()[:255],
            "description": self._render(p.get("description_template") or DEFAULT_DESCRIPTION, ctx),
            "labels": ["ilert", label],
        }
        mapping = p.get("priority_map", {"HIGH": "High", "LOW": "Low"})
        if mapping and mapping.get(ctx.payload["incident"]["priority"]):
            fields["priority"] = {"name": mapping[ctx.payload["incident"]["priority"]]}
        for name, value in (p.get("custom_fields") or {}).items():
            fields[name] = self._render(value, ctx) if isinstance(value, str) else value
        body = self._json(self._call(ctx, "POST", "/rest/api/2/issue", "create issue", json={"fields": fields}),
                          "create issue")
        if not body.get("key"):
            raise DeliveryError("Jira create issue: no issue key in the answer")
        return body["key"]

    def comment(self, ctx, key, text):
        self._call(ctx, "POST", f"/rest/api/2/issue/{key}/comment", "comment", json={"body": text})

    def transition(self, ctx, key, name):
        path = f"/rest/api/2/issue/{key}/transitions"
        transitions = self._json(self._call(ctx, "GET", path, "transitions"), "transitions").get("transitions") or []
        wanted = name.strip().lower()
        match = next((t for t in transitions if t.get("name", "").lower() == wanted
                      or (t.get("to") or {}).get("name", "").lower() == wanted), None)
        if match is None:
            available = ", ".join(t.get("name", "?") for t in transitions) or "none"
            return f"no transition named {name!r} from the issue's status (available: {available})"
        self._call(ctx, "POST", path, "transition", json={"transition": {"id": match["id"]}})
        return None

    # --- the action ----------------------------------------------------------------------------

    def ensure_issue(self, ctx):
        """The issue's key and how we got it: "stored", "found" (by its label: an earlier attempt
        created it but never heard back) or "created" (and stored at once)."""
        if ctx.ref is not None:
            return ctx.ref.ref, "stored"
        label = label_for(ctx)
        key = self.find_issue(ctx, label)
        how = "found"
        if key is None:
            key, how = self.create_issue(ctx, label), "created"
        ctx.ref = ctx.remember(key, url=self.issue_url(ctx, key), data={"label": label})
        return key, how

    def deliver(self, ctx):
        key, how = self.ensure_issue(ctx)
        created = how == "created"
        url = self.issue_url(ctx, key)
        event, incident = ctx.event, ctx.payload["incident"]
        done = [{"created": f"created {key}", "found": f"found {key} (created by an earlier attempt)",
                 "stored": f"issue {key}"}[how]]
        if event in ("created", "manual"):
            if not created and event == "manual":
                self.comment(ctx, key, f"ilert: incident #{incident['number']} is {status_line(incident)}.")
                done.append("commented")
            return Outcome(True, ", ".join(done), ref=key, url=url)
        if ctx.params.get("comment_on_changes", True):
            happened = ctx.payload["event"]["message"] or status_line(incident)
            text = f"ilert: {ctx.payload['event']['label']} — {happened}"
            self.comment(ctx, key, text)
            done.append("commented")
        if event == "resolved" and (ctx.params.get("resolve_transition") or "").strip():
            problem = self.transition(ctx, key, ctx.params["resolve_transition"])
            if problem:
                raise DeliveryError(f"Jira transition: {problem}")
            done.append(f"transitioned ({ctx.params['resolve_transition']})")
        return Outcome(True, ", ".join(done), ref=key, url=url)

    def check(self, ctx):
        body = self._json(self._call(ctx, "GET", "/rest/api/2/myself", "myself"), "myself")
        who = body.get("displayName") or body.get("name") or body.get("emailAddress") or "?"
        return Outcome(True, f"Connected to Jira as {who}.", http_status=200)
