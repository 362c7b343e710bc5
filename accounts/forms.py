from django import forms
from django.contrib.auth.forms import AuthenticationForm

from .models import Role, validate_time_zone


class SignupForm(forms.Form):
    organisation = forms.CharField(max_length=120, label="Organisation name")
    name = forms.CharField(max_length=120, label="Your name")
    email = forms.EmailField(label="Work email")
    password = forms.CharField(widget=forms.PasswordInput, min_length=10, help_text="At least 10 characters.")
    timezone = forms.CharField(max_length=64, initial="UTC", validators=[validate_time_zone], label="Time zone")


class LoginForm(AuthenticationForm):
    username = forms.EmailField(label="Email", widget=forms.EmailInput(attrs={"autofocus": True}))


class InviteForm(forms.Form):
    email = forms.EmailField()
    name = forms.CharField(max_length=120, required=False)
    role = forms.ChoiceField(choices=Role.choices, initial=Role.RESPONDER)


class UserEditForm(forms.Form):
    name = forms.CharField(max_length=120, required=False)
    role = forms.ChoiceField(choices=Role.choices)
    timezone = forms.CharField(max_length=64, required=False, validators=[validate_time_zone])


class ProfileForm(forms.Form):
    name = forms.CharField(max_length=120, required=False)
    timezone = forms.CharField(max_length=64, required=False, validators=[validate_time_zone],
                               help_text="Times are shown in this zone. Empty: the organisation's.")


class SetPasswordForm(forms.Form):
    password = forms.CharField(widget=forms.PasswordInput, min_length=10)
    password_again = forms.CharField(widget=forms.PasswordInput, label="Password, again")

    def clean(self):
        data = super().clean()
        if data.get("password") and data.get("password") != data.get("password_again"):
            raise forms.ValidationError("The two passwords differ.")
        return data


class TeamForm(forms.Form):
    name = forms.CharField(max_length=120)
    description = forms.CharField(widget=forms.Textarea, required=False, max_length=2000)
    members = forms.ModelMultipleChoiceField(queryset=None, required=False, widget=forms.CheckboxSelectMultiple)

    def __init__(self, *args, users, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["members"].queryset = users


class ApiKeyForm(forms.Form):
    name = forms.CharField(max_length=120, help_text="What uses this key, e.g. 'Terraform' or 'CI'.")


class TenantSettingsForm(forms.Form):
    name = forms.CharField(max_length=120)
    timezone = forms.CharField(max_length=64, validators=[validate_time_zone])
