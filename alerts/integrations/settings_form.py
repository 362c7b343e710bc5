"""The base of an integration's "Integration settings" form on the alert source page. A subclass
declares its fields; each is stored in AlertSource.options under its own name, except those listed
in COLUMNS, which are AlertSource columns (the heartbeat's interval). alerts.services checks and
saves what `changes()` returns, so the API and the page share one validation."""

from django import forms


class LinesField(forms.CharField):
    """A list of strings (allowed senders), edited one per line (commas separate too)."""

    def __init__(self, **kwargs):
        kwargs.setdefault("widget", forms.Textarea(attrs={"rows": 3}))
        super().__init__(**kwargs)

    def prepare_value(self, value):
        return "\n".join(value) if isinstance(value, list) else value

    def to_python(self, value):
        text = super().to_python(value)
        return [line.strip() for line in text.replace(",", "\n").splitlines() if line.strip()]


class SettingsForm(forms.Form):
    COLUMNS = ()  # fields that are AlertSource columns rather than keys of its options

    def __init__(self, *args, source, **kwargs):
        self.source = source
        options = source.options or {}
        initial = {}
        for name, form_field in self.base_fields.items():
            if name in self.COLUMNS:
                initial[name] = getattr(source, name)
            else:
                initial[name] = options.get(name, form_field.initial if form_field.initial is not None else "")
        super().__init__(*args, initial=initial, **kwargs)

    def changes(self):
        """The keyword arguments for alerts.services.update_alert_source."""
        options = dict(self.source.options or {})
        fields = {}
        for name, value in self.cleaned_data.items():
            if name in self.COLUMNS:
                fields[name] = value
            else:
                options[name] = value
        return {"options": options, **fields}
