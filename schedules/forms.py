"""Dashboard forms. They check shapes only; the services check the rules."""

from django import forms
from django.utils.html import format_html, format_html_join

from accounts.forms import TimeZoneField

from .models import Layer, Schedule


class OrderedUsersWidget(forms.Widget):
    """One <select name="users"> per place in the rotation, in order, plus empty ones to add more.
    The browser posts them in document order, so the order of the rotation is kept."""

    extra = 3

    def __init__(self, attrs=None):
        super().__init__(attrs)
        self.choices = []

    def value_from_datadict(self, data, files, name):
        values = data.getlist(name) if hasattr(data, "getlist") else data.get(name) or []
        return [v for v in values if v not in (None, "")]

    def render(self, name, value, attrs=None, renderer=None):
        value = [str(v.pk if hasattr(v, "pk") else v) for v in (value or [])]
        slots = value + [""] * max(self.extra, 1)
        selects = []
        for index, selected in enumerate(slots, start=1):
            options = format_html('<option value="">{}</option>', "— nobody —") + format_html_join(
                "", '<option value="{}"{}>{}</option>',
                ((pk, " selected" if str(pk) == selected else "", label) for pk, label in self.choices),
            )
            selects.append(format_html(
                '<li><span class="muted small">{}.</span> '
                '<select name="{}" aria-label="Rotation place {}">{}</select></li>',
                index, name, index, options,
            ))
        return format_html(
            '<ol class="ordered-users" id="{}" data-ordered-users>{}</ol>'
            '<button type="button" class="btn small" data-add-slot="{}">+ Add a place</button>',
            (attrs or {}).get("id", f"id_{name}"), format_html_join("", "{}", ((s,) for s in selects)),
            (attrs or {}).get("id", f"id_{name}"),
        )


class OrderedUsersField(forms.Field):
    widget = OrderedUsersWidget

    def __init__(self, *, users, **kwargs):
        super().__init__(**kwargs)
        self.users = {str(u.pk): u for u in users}
        self.widget.choices = [(u.pk, u.display_name) for u in users]

    def to_python(self, value):
        out = []
        for pk in value or []:
            user = self.users.get(str(pk))
            if user is None:
                raise forms.ValidationError("Choose users of this organisation.")
            out.append(user)
        return out

    def validate(self, value):
        if self.required and not value:
            raise forms.ValidationError("Add at least one user to the rotation.")


class WallDateTimeField(forms.DateTimeField):
    """A date-time as typed: naive, a wall-clock time in a zone the view knows."""

    def to_python(self, value):
        result = super().to_python(value)
        return None if result is None else result.replace(tzinfo=None)


class ScheduleForm(forms.Form):
    name = forms.CharField(max_length=120)
    timezone = TimeZoneField(help_text="Type to search (e.g. Berlin). Handoffs and restrictions use it.")
    kind = forms.ChoiceField(choices=Schedule.Kind.choices, initial=Schedule.Kind.RECURRING)
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False, max_length=2000)
    team = forms.ModelChoiceField(queryset=None, required=False, empty_label="No team")

    def __init__(self, *args, teams, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["team"].queryset = teams


class LayerForm(forms.Form):
    name = forms.CharField(max_length=120, required=False)
    users = OrderedUsersField(users=[], label="Rotation order")
    start_date = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}), label="Rotation start",
                                 help_text="Date of the first handoff.")
    handoff_time = forms.TimeField(widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
                                   label="Handoff time", help_text="Wall clock in the schedule's zone.")
    length_count = forms.IntegerField(min_value=1, initial=1, label="Every")
    length_unit = forms.ChoiceField(choices=Layer.Unit.choices, initial=Layer.Unit.WEEKS, label="Unit")
    end = WallDateTimeField(required=False, widget=forms.DateTimeInput(attrs={"type": "datetime-local"},
                                                                       format="%Y-%m-%dT%H:%M"),
                              label="Ends (optional)", help_text="The layer covers nobody from then on.")
    restrictions = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3, "placeholder": "18:00-08:00\nMon 09:00 - Fri 17:00"}),
        required=False,
        help_text="Optional. One window per line: 18:00-08:00 (every day, may cross midnight) or "
                  "Mon 09:00 - Fri 17:00 (every week). Outside them the layer covers nobody.",
    )

    def __init__(self, *args, users, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["users"] = OrderedUsersField(users=list(users), label="Rotation order",
                                                 help_text="Who takes turns, in order.")
        self.fields["users"].initial = self.initial.get("users")


def _zoned(label):
    return WallDateTimeField(label=label, widget=forms.DateTimeInput(attrs={"type": "datetime-local"},
                                                                       format="%Y-%m-%dT%H:%M"))


class _ShiftTimesForm(forms.Form):
    """Who and when, the times read as wall clock in the schedule's zone (issue 15: inputs are read in
    the schedule's zone, whoever types them), the zone named beside each field."""

    user = forms.ModelChoiceField(queryset=None, empty_label=None, label="Who")
    start = _zoned("From")
    end = _zoned("Until")

    def __init__(self, *args, users, zone, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["user"].queryset = users
        for name in ("start", "end"):
            self.fields[name].label = f"{self.fields[name].label} ({zone})"
            self.fields[name].help_text = f"Wall clock in the schedule's zone, {zone}."


class OverrideForm(_ShiftTimesForm):
    pass


class ShiftForm(_ShiftTimesForm):
    pass


class ImportForm(forms.Form):
    file = forms.FileField(label="iCalendar file (.ics)")
    replace = forms.BooleanField(required=False, label="Replace all existing shifts")
