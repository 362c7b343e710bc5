"""Dashboard forms, built from the targets' field declarations (targets/base.py: Field). Secret
fields never render a value: they are empty password/textarea inputs that keep the stored value
when left empty."""

import json

from django import forms

from accounts.models import User

from . import targets
from .models import AUTOMATIC_EVENTS, Connection, Event

SET_PLACEHOLDER = "•••••••• (set — leave empty to keep)"


def _initial(f, value):
    if value is None:
        value = f.default
    if f.type == "json" and value is not None:
        return json.dumps(value, indent=1)
    if f.type == "lines" and isinstance(value, list):
        return "\n".join(value)
    return value


def form_field(f, *, secret=False, is_set=False, value=None):
    attrs = {"placeholder": SET_PLACEHOLDER if is_set else f.placeholder}
    if f.type == "choice":
        return forms.ChoiceField(label=f.label, choices=f.choices, required=False, help_text=f.help,
                                 initial=_initial(f, value))
    if f.type == "bool":
        return forms.BooleanField(label=f.label, required=False, help_text=f.help, initial=_initial(f, value))
    multiline = f.type in ("textarea", "template", "json_template", "json", "lines")
    if secret:
        widget = forms.Textarea(attrs={**attrs, "rows": 3, "autocomplete": "off", "spellcheck": "false"}) \
            if multiline else forms.PasswordInput(attrs={**attrs, "autocomplete": "new-password"}, render_value=False)
        return forms.CharField(label=f.label, required=False, help_text=f.help, widget=widget, strip=False)
    widget = forms.Textarea(attrs={**attrs, "rows": 4 if f.type != "template" else 3, "class": "mono"}) \
        if multiline else forms.TextInput(attrs=attrs)
    return forms.CharField(label=f.label, required=False, help_text=f.help, widget=widget,
                           initial=_initial(f, value), strip=False)


class ConnectorForm(forms.Form):
    """Name, then the kind's settings, then its credentials."""

    name = forms.CharField(max_length=120)

    def __init__(self, kind, *args, connector=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.kind, self.target = kind, targets.get(kind)
        self.connector = connector
        if connector is not None:
            self.fields["name"].initial = connector.name
        current = connector.settings if connector is not None else {}
        set_names = set(connector.credential_names) if connector is not None else set()
        self.setting_names = [f.name for f in self.target.settings_fields]
        self.credential_names = [f.name for f in self.target.credential_fields]
        for f in self.target.settings_fields:
            self.fields[f.name] = form_field(f, value=current.get(f.name))
        for f in self.target.credential_fields:
            self.fields[f.name] = form_field(f, secret=True, is_set=f.name in set_names)
        if connector is not None:
            self.fields["enabled"] = forms.BooleanField(required=False, initial=connector.enabled,
                                                        label="Enabled")

    def service_kwargs(self):
        data = self.cleaned_data
        settings = {}
        for name in self.setting_names:
            value = data.get(name)
            if value not in (None, ""):
                settings[name] = value
        credentials = {name: data[name] for name in self.credential_names if data.get(name)}
        kwargs = {"name": data["name"], "settings": settings, "credentials": credentials}
        if "enabled" in self.fields:
            kwargs["enabled"] = data.get("enabled", False)
        return kwargs

    def add_domain_error(self, exc):
        name = (exc.field or "").split(".")[-1]
        self.add_error(name if name in self.fields else None, exc.message)


class ConnectionForm(forms.Form):
    name = forms.CharField(max_length=120, required=False, help_text="Optional; the connector's name by default.")
    trigger_mode = forms.ChoiceField(choices=Connection.Trigger.choices, initial=Connection.Trigger.AUTOMATIC,
                                     label="Run")
    events = forms.MultipleChoiceField(
        choices=[(e, Event(e).label) for e in AUTOMATIC_EVENTS], required=False,
        widget=forms.CheckboxSelectMultiple, label="On these incident events")

    def __init__(self, connector, *args, connection=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.connector, self.target = connector, targets.get(connector.kind)
        params = connection.params if connection is not None else {}
        self.fields["events"].initial = connection.events if connection is not None else self.target.default_events
        if len(self.target.actions) > 1:
            self.fields["action"] = forms.ChoiceField(choices=list(self.target.actions.items()))
        self.param_names = [f.name for f in self.target.param_fields]
        for f in self.target.param_fields:
            self.fields[f.name] = form_field(f, value=params.get(f.name))
        if connection is not None:
            self.fields["name"].initial = connection.name
            self.fields["trigger_mode"].initial = connection.trigger_mode
            self.fields["enabled"] = forms.BooleanField(required=False, initial=connection.enabled, label="Enabled")

    def service_kwargs(self):
        data = self.cleaned_data
        params = {}
        for f in self.target.param_fields:
            value = data.get(f.name)
            if f.type == "bool":
                params[f.name] = bool(value)
            elif value not in (None, ""):
                params[f.name] = value
        kwargs = {"name": data.get("name", ""), "trigger_mode": data["trigger_mode"], "events": data["events"],
                  "params": params}
        if "action" in self.fields:
            kwargs["action"] = data["action"]
        if "enabled" in self.fields:
            kwargs["enabled"] = data.get("enabled", False)
        return kwargs

    def add_domain_error(self, exc):
        name = (exc.field or "").split(".")[-1]
        self.add_error(name if name in self.fields else None, exc.message)


class SlackIdentityForm(forms.Form):
    slack_user_id = forms.CharField(label="Slack member ID", max_length=32,
                                    help_text="In Slack: the person's profile → ⋮ → Copy member ID (U…).")
    user = forms.ModelChoiceField(queryset=User.objects.none(), label="ilert user")

    def __init__(self, tenant, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["user"].queryset = User.objects.filter(tenant=tenant, is_active=True)
