from django import forms

from accounts.forms import TimeZoneField
from alerts.models import AlertSource
from uptime.models import UptimeMonitor

from .models import Service, ServiceGroup, ServiceStatus, StatusIncident, StatusPage

STATUS_CHOICES = ServiceStatus.choices
AUTOMATION = [("", "Only link (no automation)")] + STATUS_CHOICES


class PageForm(forms.ModelForm):
    logo_url = forms.URLField(label="Logo URL", required=False, assume_scheme="https", max_length=500)
    services = forms.ModelMultipleChoiceField(queryset=Service.objects.none(), required=False,
                                              widget=forms.CheckboxSelectMultiple)
    links_text = forms.CharField(
        label="Links", required=False, widget=forms.Textarea(attrs={"rows": 3}),
        help_text="One per line: Label | https://…")
    domains_text = forms.CharField(
        label="Allowed email domains", required=False,
        help_text="Audience pages: addresses at these domains may get a login link by email (comma-separated).")

    class Meta:
        model = StatusPage
        fields = ["name", "slug", "visibility", "published", "description", "time_zone", "custom_domain",
                  "logo_url", "brand_color", "background_color", "text_color"]
        field_classes = {"time_zone": TimeZoneField}
        widgets = {"brand_color": forms.TextInput(attrs={"type": "color"}),
                   "background_color": forms.TextInput(attrs={"type": "color"}),
                   "text_color": forms.TextInput(attrs={"type": "color"})}

    def __init__(self, *args, tenant, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["services"].queryset = Service.objects.filter(tenant=tenant)
        self.fields["slug"].required = False
        if self.instance.pk:
            self.fields["services"].initial = list(self.instance.services.all())
            self.fields["links_text"].initial = "\n".join(f"{x['label']} | {x['url']}" for x in self.instance.links)
            self.fields["domains_text"].initial = ", ".join(self.instance.allowed_email_domains)

    def clean_links_text(self):
        links = []
        for line in self.cleaned_data["links_text"].splitlines():
            if line.strip():
                label, _, url = line.partition("|")
                links.append({"label": label.strip(), "url": url.strip()})
        return links

    def clean_domains_text(self):
        return [d.strip() for d in self.cleaned_data["domains_text"].split(",") if d.strip()]

    def values(self):
        data = dict(self.cleaned_data)
        data["links"] = data.pop("links_text")
        data["allowed_email_domains"] = data.pop("domains_text")
        return data


class ServiceForm(forms.ModelForm):
    class Meta:
        model = Service
        fields = ["name", "description", "group", "order"]

    def __init__(self, *args, tenant, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["group"].queryset = ServiceGroup.objects.filter(tenant=tenant)


class StatusForm(forms.Form):
    status = forms.ChoiceField(choices=STATUS_CHOICES)


class GroupForm(forms.ModelForm):
    class Meta:
        model = ServiceGroup
        fields = ["name", "description", "order"]


class SourceLinkForm(forms.Form):
    alert_source = forms.ModelChoiceField(queryset=AlertSource.objects.none())
    status_while_open = forms.ChoiceField(choices=AUTOMATION, required=False,
                                          label="While an incident of the source is open")
    restore_on_resolve = forms.BooleanField(required=False, initial=True, label="Restore when it resolves")

    def __init__(self, *args, tenant, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["alert_source"].queryset = AlertSource.objects.filter(tenant=tenant)


class MonitorLinkForm(forms.Form):
    monitor = forms.ModelChoiceField(queryset=UptimeMonitor.objects.none())
    status_while_down = forms.ChoiceField(choices=AUTOMATION, required=False, label="While the monitor is down")
    restore_on_resolve = forms.BooleanField(required=False, initial=True, label="Restore when it is up again")

    def __init__(self, *args, tenant, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["monitor"].queryset = UptimeMonitor.objects.filter(tenant=tenant)


class IncidentForm(forms.Form):
    title = forms.CharField(max_length=255)
    message = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}))
    status = forms.ChoiceField(choices=[(s, s.title()) for s in StatusIncident.INCIDENT_STATUSES[:3]])
    impact = forms.ChoiceField(choices=StatusIncident.Impact.choices[:4], initial="minor")
    services = forms.ModelMultipleChoiceField(queryset=Service.objects.none(), required=False,
                                              widget=forms.CheckboxSelectMultiple, label="Affected services")
    service_impact = forms.ChoiceField(choices=STATUS_CHOICES, initial=ServiceStatus.PARTIAL,
                                       label="Status of the affected services")

    def __init__(self, *args, tenant, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["services"].queryset = Service.objects.filter(tenant=tenant)


class MaintenanceForm(forms.Form):
    title = forms.CharField(max_length=255)
    message = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}))
    scheduled_for = forms.DateTimeField(widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
                                        help_text="UTC")
    scheduled_until = forms.DateTimeField(widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
                                          help_text="UTC")
    services = forms.ModelMultipleChoiceField(queryset=Service.objects.none(), required=False,
                                              widget=forms.CheckboxSelectMultiple)
    auto_transition = forms.BooleanField(required=False, initial=True, label="Start and end on its own")
    silence_sources = forms.BooleanField(required=False, label="Maintenance windows on the linked alert sources")

    def __init__(self, *args, tenant, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["services"].queryset = Service.objects.filter(tenant=tenant)


class UpdateForm(forms.Form):
    status = forms.ChoiceField(choices=StatusIncident.Status.choices)
    message = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}))


class SubscriptionsForm(forms.Form):
    services = forms.ModelMultipleChoiceField(queryset=Service.objects.none(), required=False,
                                              widget=forms.CheckboxSelectMultiple, label="Email me about")

    def __init__(self, *args, tenant, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["services"].queryset = Service.objects.filter(tenant=tenant)
