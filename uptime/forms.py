from django import forms

from .checks import KINDS
from .models import CheckType, DnsRecordType, HttpMethod, KeywordMode

COMMON = ["name", "check_type", "target", "port", "interval_seconds", "timeout_seconds", "retries",
          "escalation_policy"]


def _by_type(fields):
    """{field: "the kinds that use it"} for the fields shown only for some kinds (each kind's module
    names its OPTIONS; the page hides the others; the server ignores nothing), in form order."""
    kinds_of = {name: " ".join(kind for kind, module in KINDS.items() if name in module.OPTIONS) for name in fields}
    return {name: kinds for name, kinds in kinds_of.items() if kinds}


class MonitorForm(forms.Form):
    name = forms.CharField(max_length=120)
    check_type = forms.ChoiceField(choices=CheckType.choices, label="Check")
    target = forms.CharField(
        max_length=2048, widget=forms.TextInput(attrs={"placeholder": "https://shop.example.com/health"}),
        help_text="HTTP: the URL. TCP, ping, TLS: a host name or IP. DNS: the name to resolve.",
    )
    port = forms.IntegerField(required=False, min_value=1, max_value=65535, help_text="TCP: required. TLS: 443.")
    interval_seconds = forms.IntegerField(initial=60, min_value=30, max_value=86400, label="Interval (seconds)",
                                          help_text="30 seconds to 1 day.")
    timeout_seconds = forms.IntegerField(initial=10, min_value=1, max_value=30, label="Timeout (seconds)")
    retries = forms.IntegerField(initial=2, min_value=0, max_value=10, label="Retries before down",
                                 help_text="Failed checks in a row tolerated before an incident opens.")
    escalation_policy = forms.ModelChoiceField(queryset=None, required=False,
                                               empty_label="— none: incidents open, nobody is paged —")
    http_method = forms.ChoiceField(choices=HttpMethod.choices, initial="GET", label="Method")
    expected_status = forms.CharField(initial="200-299", max_length=100, label="Expected status codes",
                                      help_text="Codes and ranges, e.g. 200-299,301.")
    http_headers = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}), label="Headers",
                                   help_text="One per line: Name: value. Stored values are shown as •••••••• "
                                             "(leave them so to keep them; enter them again when the "
                                             "target changes).")
    http_body = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}), label="Request body",
                                max_length=64 * 1024)
    follow_redirects = forms.BooleanField(required=False, initial=True)
    keyword = forms.CharField(required=False, max_length=500, help_text="Case-sensitive; empty: no keyword check.")
    keyword_mode = forms.ChoiceField(choices=KeywordMode.choices, initial="present", label="The keyword")
    max_response_ms = forms.IntegerField(required=False, min_value=1, label="Maximum response time (ms)")
    verify_tls = forms.BooleanField(required=False, initial=True, label="Verify the certificate chain and host name")
    tls_expiry_days = forms.IntegerField(initial=14, min_value=1, max_value=365, label="Alert days before expiry")
    dns_record_type = forms.ChoiceField(choices=DnsRecordType.choices, initial="A", label="Record type")
    dns_expected = forms.CharField(required=False, max_length=500, label="Expected value",
                                   help_text="Optional: one of the answers must equal this.")
    dns_server = forms.CharField(required=False, max_length=100, label="Nameserver",
                                 help_text="Optional IP[:port]; empty: the system resolver.")

    def __init__(self, *args, policies, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["escalation_policy"].queryset = policies
        for name, kinds in BY_TYPE.items():
            self.fields[name].widget.attrs["data-check-types"] = kinds

    def clean_http_headers(self):
        headers = {}
        for line in (self.cleaned_data.get("http_headers") or "").splitlines():
            if not line.strip():
                continue
            name, sep, value = line.partition(":")
            if not sep or not name.strip():
                raise forms.ValidationError(f"“{line.strip()}” is not “Name: value”.")
            headers[name.strip()] = value.strip()
        return headers

    def common(self):
        return [self[name] for name in COMMON]

    def specific(self):
        return [(self[name], kinds) for name, kinds in BY_TYPE.items()]

    @staticmethod
    def initial_for(monitor):
        initial = {name: getattr(monitor, name) for name in MonitorForm.base_fields if hasattr(monitor, name)}
        initial["http_headers"] = "\n".join(f"{k}: {v}" for k, v in monitor.masked_headers.items())
        return initial


BY_TYPE = _by_type(MonitorForm.base_fields)
