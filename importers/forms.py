from django import forms

from .spec import KINDS
from .vendors import VENDORS

LABELS = {"pagerduty": "PagerDuty (REST API v2)", "opsgenie": "Opsgenie (REST API v2)",
          "oncall": "Grafana OnCall (public API v1)"}


class ImportForm(forms.Form):
    vendor = forms.ChoiceField(choices=[(v, LABELS.get(v, v)) for v in VENDORS])
    api_key = forms.CharField(
        label="API key", max_length=200, widget=forms.PasswordInput(render_value=False),
        help_text="Read access is enough (see the migration guide). Kept encrypted only while the job runs.")
    base_url = forms.URLField(label="API base URL", required=False, max_length=300, assume_scheme="https",
                              help_text="Empty for the vendor's default (e.g. https://api.eu.opsgenie.com for EU).")
    only = forms.MultipleChoiceField(choices=[(k, k) for k in KINDS], initial=list(KINDS), required=True,
                                     widget=forms.CheckboxSelectMultiple, label="What to import")
    dry_run = forms.BooleanField(required=False, initial=True, label="Only show the plan (dry run)")

    def clean_api_key(self):
        """Vendor keys are printable ASCII without spaces. Anything else cannot travel in a header: the
        job would fail later with a codec's message that names a character of the key."""
        key = self.cleaned_data["api_key"]
        if not all("!" <= c <= "~" for c in key):
            raise forms.ValidationError("An API key is letters, digits and punctuation, without spaces.")
        return key
