from django import forms

from .models import AlertSource, CreationMode, Integration, Priority


class AlertSourceForm(forms.Form):
    name = forms.CharField(max_length=120)
    integration_type = forms.ChoiceField(choices=Integration.choices, label="Integration")
    escalation_policy = forms.ModelChoiceField(queryset=None, required=False, empty_label="— none: nobody is paged —")
    default_priority = forms.ChoiceField(choices=Priority.choices, initial=Priority.HIGH)
    creation_mode = forms.ChoiceField(choices=CreationMode.choices, initial=CreationMode.DEDUPLICATE,
                                      label="Incident creation")
    auto_resolve_minutes = forms.IntegerField(
        required=False, min_value=1, max_value=43200, label="Auto-resolve after (minutes without events)",
        help_text="Empty: incidents stay open until resolved.",
    )

    def __init__(self, *args, policies, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["escalation_policy"].queryset = policies


class AlertSourceEditForm(AlertSourceForm):
    status = forms.ChoiceField(choices=AlertSource.Status.choices)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        del self.fields["integration_type"]


class CommentForm(forms.Form):
    text = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), max_length=5000, label="Add a note")


class MaintenanceForm(forms.Form):
    start = forms.DateTimeField(widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))
    end = forms.DateTimeField(widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))
    description = forms.CharField(max_length=255, required=False)


def _lines(value):
    return [line.strip() for line in (value or "").replace(",", "\n").splitlines() if line.strip()]


class IntegrationSettingsForm(forms.Form):
    """The settings one integration type reads (AlertSource.options and the heartbeat columns).
    Built per type: only the fields of the source's integration appear."""

    FIELDS = {
        "alertmanager": ["group_by"],
        "grafana": ["group_by"],
        "email": ["key_regex", "resolve_regex", "allowed_senders"],
        "sms": ["phone_number", "allowed_senders"],
        "heartbeat": ["heartbeat_interval_seconds", "heartbeat_grace_seconds", "heartbeat_resolve_on_ping"],
    }
    OPTION_FIELDS = ("group_by", "key_regex", "resolve_regex", "allowed_senders", "phone_number")

    group_by = forms.ChoiceField(
        choices=[("fingerprint", "One incident per alert (fingerprint)"),
                 ("groupKey", "One incident per notification group (groupKey)")], label="Incidents")
    key_regex = forms.CharField(required=False, max_length=500, label="Incident key regex",
                                help_text="Group 1 (or the whole match) in the subject, else the body, "
                                          "becomes the incident key. Example: Host (\\S+) is")
    resolve_regex = forms.CharField(required=False, max_length=500, label="Resolve regex",
                                    help_text="Mail whose subject or body matches resolves the incident with the "
                                              "extracted key instead of alerting. Example: ^RECOVERY")
    allowed_senders = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}),
                                      label="Allowed senders", help_text="One per line.")
    phone_number = forms.CharField(required=False, max_length=40, label="Twilio phone number (E.164)",
                                   help_text="The number people text, e.g. +4930123456.")
    heartbeat_interval_seconds = forms.IntegerField(min_value=5, max_value=31 * 86400, label="Interval (seconds)",
                                                    help_text="A ping is expected this often.")
    heartbeat_grace_seconds = forms.IntegerField(min_value=0, max_value=7 * 86400, label="Grace (seconds)",
                                                 help_text="Extra time before an incident opens.")
    heartbeat_resolve_on_ping = forms.BooleanField(required=False, label="The next ping resolves the incident")

    def __init__(self, *args, source, **kwargs):
        self.source = source
        names = self.FIELDS.get(source.integration_type, [])
        options = source.options or {}
        initial = {name: options.get(name, "") for name in self.OPTION_FIELDS}
        initial["group_by"] = options.get("group_by", "fingerprint")
        initial["allowed_senders"] = "\n".join(options.get("allowed_senders", []))
        for name in ("heartbeat_interval_seconds", "heartbeat_grace_seconds", "heartbeat_resolve_on_ping"):
            initial[name] = getattr(source, name)
        super().__init__(*args, initial=initial, **kwargs)
        for name in list(self.fields):
            if name not in names:
                del self.fields[name]
        if source.integration_type == "sms":
            self.fields["allowed_senders"].help_text = "E.164 numbers, one per line; * allows anyone. Empty: nobody."
        elif "allowed_senders" in self.fields:
            self.fields["allowed_senders"].help_text = "Addresses or domains, one per line. Empty: anyone."

    def changes(self):
        """The keyword arguments for alerts.services.update_alert_source."""
        data = self.cleaned_data
        options = dict(self.source.options or {})
        for name in self.OPTION_FIELDS:
            if name in data:
                options[name] = _lines(data[name]) if name == "allowed_senders" else data[name]
        fields = {"options": options}
        for name in ("heartbeat_interval_seconds", "heartbeat_grace_seconds", "heartbeat_resolve_on_ping"):
            if name in data:
                fields[name] = data[name]
        return fields
