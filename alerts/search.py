"""The incident list's search (issue 15): full text over summary, details, custom details, labels and
incident key. On PostgreSQL one tsvector expression, indexed by a GIN index on exactly that
expression (migration 0008), queried with websearch syntax ("disk -staging", "\"db-1\""); elsewhere
(SQLite in development) a case-insensitive substring match over the same fields. "#12" or "12" also
finds incident number 12."""

from django.db import connection
from django.db.models import BooleanField, Q, TextField
from django.db.models.expressions import RawSQL
from django.db.models.functions import Cast

# The index and the query must use this very expression, or PostgreSQL does not use the index.
DOCUMENT = ("to_tsvector('simple'::regconfig, coalesce({t}summary, '') || ' ' || coalesce({t}incident_key, '') "
            "|| ' ' || coalesce({t}details, '') || ' ' || coalesce({t}custom_details::text, '') || ' ' "
            "|| coalesce({t}labels::text, ''))")
INDEX_NAME = "alerts_incident_search"
CREATE_INDEX = f"CREATE INDEX IF NOT EXISTS {INDEX_NAME} ON alerts_incident USING gin ({DOCUMENT.format(t='')})"
DROP_INDEX = f"DROP INDEX IF EXISTS {INDEX_NAME}"


def _number(text):
    digits = text[1:] if text.startswith("#") else text
    return int(digits) if digits.isascii() and digits.isdigit() and len(digits) < 18 else None


def search(queryset, text):
    text = (text or "").strip()[:200]
    if not text:
        return queryset
    number = _number(text)
    by_number = Q(number=number) if number is not None else Q(pk__in=[])
    if connection.vendor == "postgresql":
        # constant SQL; the user's text is a query parameter
        matches = RawSQL(f"{DOCUMENT.format(t='alerts_incident.')} @@ websearch_to_tsquery('simple', %s)", [text],  # noqa: S611
                         output_field=BooleanField())
        return queryset.filter(Q(matches) | by_number)
    queryset = queryset.annotate(_custom_text=Cast("custom_details", TextField()),
                                 _labels_text=Cast("labels", TextField()))
    return queryset.filter(Q(summary__icontains=text) | Q(details__icontains=text) | Q(incident_key__icontains=text)
                           | Q(_custom_text__icontains=text) | Q(_labels_text__icontains=text) | by_number)
