"""Filters shared by the API's resources."""

from datetime import UTC

import django_filters
from django import forms
from django_filters.fields import IsoDateTimeField


class UTCDateTimeField(IsoDateTimeField):
    """An ISO 8601 instant, turned into UTC before it reaches the database: PostgreSQL refuses UTC
    offsets beyond ±15:59, and an instant that cannot be expressed in UTC is a 400, not a 500."""

    def to_python(self, value):
        parsed = super().to_python(value)
        if parsed is None or parsed.tzinfo is None:
            return parsed
        try:
            return parsed.astimezone(UTC)
        except (OverflowError, ValueError):
            raise forms.ValidationError("Out of range once converted to UTC.") from None


class UTCDateTimeFilter(django_filters.IsoDateTimeFilter):
    field_class = UTCDateTimeField
