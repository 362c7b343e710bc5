from django import forms
from django.conf import settings
from django.contrib.auth import forms as auth_forms
from django.contrib.auth.forms import AuthenticationForm
from django.core.mail import EmailMultiAlternatives
from django.template import loader

from ilert import kick
from ilert.devoutbox import mark_account_message

from .models import Role, validate_time_zone


class TimeZoneField(forms.CharField):
    """An IANA zone, typed with the searchable list of every zone (`_field.html` renders the list
    next to it: ilert/templatetags/zones.py)."""

    def __init__(self, **kwargs):
        kwargs.setdefault("label", "Time zone")
        kwargs["max_length"] = 64
        kwargs["validators"] = [*kwargs.get("validators", ()), validate_time_zone]
        kwargs["widget"] = forms.TextInput(attrs={"list": "iana-zones", "autocomplete": "off", "spellcheck": "false"})
        super().__init__(**kwargs)


class SignupForm(forms.Form):
    organisation = forms.CharField(max_length=120, label="Organisation name")
    name = forms.CharField(max_length=120, label="Your name")
    email = forms.EmailField(label="Work email")
    password = forms.CharField(widget=forms.PasswordInput, min_length=10, help_text="At least 10 characters.")
    timezone = TimeZoneField(initial="UTC")


class LoginForm(AuthenticationForm):
    username = forms.EmailField(label="Email", widget=forms.EmailInput(attrs={"autofocus": True}))


class InviteForm(forms.Form):
    email = forms.EmailField()
    name = forms.CharField(max_length=120, required=False)
    role = forms.ChoiceField(choices=Role.choices, initial=Role.RESPONDER)


class UserEditForm(forms.Form):
    name = forms.CharField(max_length=120, required=False)
    role = forms.ChoiceField(choices=Role.choices)
    timezone = TimeZoneField(required=False, help_text="Empty: the organisation's.")


class ProfileForm(forms.Form):
    name = forms.CharField(max_length=120, required=False)
    timezone = TimeZoneField(required=False, help_text="Every time is shown, and time inputs are read, in this "
                                                       "zone. Type to search (e.g. Berlin, New_York). Empty: the "
                                                       "organisation's.")


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
    timezone = TimeZoneField(help_text="Times of members without their own zone, and report days.")


class PasswordResetForm(auth_forms.PasswordResetForm):
    """Django's reset form. The request only queues the work (accounts.tasks.send_password_reset):
    looking the address up and mailing happen in a worker, so a known and an unknown address are
    answered alike and as fast. The mail is an account message (the dev outbox shows it to its
    addressee only)."""

    def save(self, **kwargs):
        from . import tasks  # a cycle: accounts.tasks runs this form

        kick.now(tasks.send_password_reset, self.cleaned_data["email"])

    def send_reset_mails(self):
        """In the worker: Django's lookup of active users with that address, one mail each."""
        super().save(
            domain_override="ilert",
            subject_template_name="emails/password_reset_subject.txt",
            email_template_name="emails/password_reset.txt",
            html_email_template_name="emails/password_reset.html",
            extra_email_context={"site_url": settings.SITE_URL},
        )

    def send_mail(self, subject_template_name, email_template_name, context, from_email, to_email,
                  html_email_template_name=None):
        subject = "".join(loader.render_to_string(subject_template_name, context).splitlines())
        message = EmailMultiAlternatives(subject, loader.render_to_string(email_template_name, context),
                                         from_email, [to_email])
        if html_email_template_name is not None:
            message.attach_alternative(loader.render_to_string(html_email_template_name, context), "text/html")
        mark_account_message(message, context["user"])
        message.send()
