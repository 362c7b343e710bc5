from django import forms

from alerts.models import Priority

from . import channels
from .models import ContactMethod


def _typed_channels():
    # Web Push devices are added by the browser itself ("Enable push on this device").
    return [(channel.name, channel.label) for channel in channels.REGISTERED if not channel.self_registered]


class ContactMethodForm(forms.Form):
    kind = forms.ChoiceField(choices=_typed_channels, label="Type")
    address = forms.CharField(max_length=1024, label="Address",
                              help_text="Email address, phone number in international format (+49 151 …), or the "
                                        "Firebase registration token of a device.")
    platform = forms.ChoiceField(choices=[("", "—")] + list(ContactMethod.Platform.choices), required=False,
                                 label="Platform (push)")
    device_name = forms.CharField(max_length=120, required=False, label="Device name (push)")


class CodeForm(forms.Form):
    code = forms.CharField(max_length=12)


class ContactMethodSettingsForm(forms.Form):
    throttle_max = forms.IntegerField(
        min_value=0, max_value=100, required=False,
        help_text="At most this many messages per window (0: no throttle; empty: default).")
    throttle_minutes = forms.IntegerField(min_value=1, max_value=1440, required=False)
    bundle_seconds = forms.IntegerField(min_value=0, max_value=3600, required=False,
                                        help_text="Pages within this many seconds of the last are bundled (0: never).")


class RuleForm(forms.Form):
    priority = forms.ChoiceField(choices=Priority.choices)
    contact_method = forms.ModelChoiceField(queryset=ContactMethod.objects.none())
    delay_minutes = forms.IntegerField(min_value=0, max_value=1440, initial=0, label="after (minutes)")

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["contact_method"].queryset = ContactMethod.objects.filter(user=user)


class PreferencesForm(forms.Form):
    notify_on_accept = forms.BooleanField(required=False, label="Tell me when someone else accepts my incident")
    notify_on_resolve = forms.BooleanField(required=False, label="Tell me when someone else resolves my incident")
    shift_reminders = forms.BooleanField(required=False, label="Remind me before my on-call shift starts")
    reminder_minutes = forms.IntegerField(min_value=5, max_value=1440, initial=60, label="Minutes before")
    notice_contact_method = forms.ModelChoiceField(queryset=ContactMethod.objects.none(), required=False,
                                                   label="Send notices and reminders to",
                                                   empty_label="a push device, else email")

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["notice_contact_method"].queryset = ContactMethod.objects.filter(user=user)


class ProvidersForm(forms.Form):
    twilio_account_sid = forms.CharField(max_length=64, required=False, label="Twilio Account SID")
    twilio_auth_token = forms.CharField(max_length=128, required=False, label="Twilio auth token",
                                        widget=forms.PasswordInput(render_value=False),
                                        help_text="Write-only: leave empty to keep the stored token.")
    twilio_from_number = forms.CharField(max_length=32, required=False, label="Twilio number (E.164)")
    firebase_credentials = forms.CharField(required=False, label="Firebase service-account JSON",
                                           widget=forms.Textarea(attrs={"rows": 4}),
                                           help_text="Write-only: leave empty to keep the stored credentials.")
    clear_twilio = forms.BooleanField(required=False, label="Remove our Twilio account (use the platform's)")
    clear_firebase = forms.BooleanField(required=False, label="Remove our Firebase credentials")
