from django import forms

from .models import MAX_REPEATS, MAX_TIMEOUT_MINUTES, NotifyMode


class PolicyForm(forms.Form):
    name = forms.CharField(max_length=120)
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False, max_length=2000)
    repeat_count = forms.IntegerField(min_value=0, max_value=MAX_REPEATS, initial=0, label="Repeat the policy",
                                      help_text="After the last level, start again from level 1 this many times.")
    routing_key = forms.CharField(max_length=120, required=False,
                                  help_text="Events that carry this routingKey use this policy.")


class LevelForm(forms.Form):
    timeout_minutes = forms.IntegerField(min_value=0, max_value=MAX_TIMEOUT_MINUTES, initial=30,
                                         label="Escalate after (minutes)")
    notify_mode = forms.ChoiceField(choices=NotifyMode.choices, initial=NotifyMode.ALL, label="Who")
    users = forms.ModelMultipleChoiceField(queryset=None, required=False, widget=forms.CheckboxSelectMultiple)
    teams = forms.ModelMultipleChoiceField(queryset=None, required=False, widget=forms.CheckboxSelectMultiple)

    schedules = forms.ModelMultipleChoiceField(queryset=None, required=False, widget=forms.CheckboxSelectMultiple,
                                               help_text="Whoever is on call at that moment.")

    def __init__(self, *args, users, teams, schedules, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["users"].queryset = users
        self.fields["teams"].queryset = teams
        self.fields["schedules"].queryset = schedules
