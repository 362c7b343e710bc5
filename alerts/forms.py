from django import forms

from .integrations import registry
from .integrations.settings_form import SettingsForm
from .models import AlertSource, CreationMode, Priority


class AlertSourceForm(forms.Form):
    name = forms.CharField(max_length=120)
    integration_type = forms.ChoiceField(choices=registry.choices, label="Integration")
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


def integration_settings_form(source, data=None):
    """The "Integration settings" form of the source's integration type (alerts.integrations.
    settings_form); a form without fields for a type that has no settings."""
    form_class = registry.get(source.integration_type).settings_form or SettingsForm
    return form_class(data, source=source)
