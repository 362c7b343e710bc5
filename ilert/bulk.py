"""Fast inserts for hot paths: the escalation engine writes thousands of timeline and notification
rows a second in a storm, and Django's per-object machinery (a model instance with every default,
every value prepared through the field API, one SQL parameter per value) costs more than the
database does.

`insert(model, rows)` takes plain dicts ({attname: value}; missing fields get their defaults, as
`Model()` would give them) and returns the new primary keys in order. On PostgreSQL the rows go in
one COPY (ids drawn from the table's sequence first); elsewhere (SQLite in development) through
bulk_create. `instances(model, rows, pks)` gives model objects for rows that callers hand on.
"""

import io
import json
from datetime import datetime

from django.db import connections, models, router

_NOT_GIVEN = object()


def insert(model, rows):
    """INSERT `rows` of `model` in one statement; returns their primary keys in order."""
    if not rows:
        return []
    db = router.db_for_write(model)
    connection = connections[db]
    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    unknown = set().union(*rows) - {f.attname for f in fields}
    if unknown:
        raise TypeError(f"{model.__name__} has no fields {sorted(unknown)}")
    if connection.vendor != "postgresql":
        objs = model.objects.using(db).bulk_create([model(**row) for row in rows])
        return [obj.pk for obj in objs]

    table, pk = model._meta.db_table, model._meta.pk.column
    with connection.cursor() as cursor, connection.wrap_database_errors:  # Django's IntegrityError & co.
        cursor.execute("SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
                       [table, pk, len(rows)])
        pks = [row[0] for row in cursor.fetchall()]
        columns = [(f.attname, _default(f), _copy_text(f)) for f in fields]
        buffer = io.StringIO()
        for pk_value, row in zip(pks, rows, strict=True):
            values = [str(pk_value)]
            for attname, default, text in columns:
                value = row.get(attname, _NOT_GIVEN)
                if value is _NOT_GIVEN:
                    value = default() if callable(default) else default
                values.append(r"\N" if value is None else text(value))
            buffer.write("\t".join(values))
            buffer.write("\n")
        buffer.seek(0)
        quote = connection.ops.quote_name
        cursor.cursor.copy_expert(
            f"COPY {quote(table)} ({quote(pk)}, {', '.join(quote(f.column) for f in fields)}) FROM STDIN", buffer)
    return pks


def instances(model, rows, pks):
    """Model objects for rows just inserted (as loaded from the database, without a query)."""
    db = router.db_for_write(model)
    names = [f.attname for f in model._meta.concrete_fields]
    pk_name = model._meta.pk.attname
    defaults = {f.attname: _default(f) for f in model._meta.concrete_fields if not f.primary_key}
    out = []
    for pk, row in zip(pks, rows, strict=True):
        values = []
        for name in names:
            value = pk if name == pk_name else row.get(name, _NOT_GIVEN)
            if value is _NOT_GIVEN:
                default = defaults[name]
                value = default() if callable(default) else default
            values.append(value)
        out.append(model.from_db(db, names, values))
    return out


def _default(field):
    """The field's default: a value, or a callable for defaults made afresh for every row."""
    if field.has_default() and callable(field.default):
        return field.default
    return field.get_default()


def _escape(text):
    # COPY's text format: backslash, tab, newline and carriage return are escaped.
    return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def _copy_text(field):
    """How a value of `field` is written in COPY's text format."""
    if isinstance(field, models.JSONField):
        return lambda value: _escape(json.dumps(value, cls=field.encoder))
    if isinstance(field, models.BooleanField):
        return lambda value: "t" if value else "f"
    if isinstance(field, models.DateTimeField):
        def timestamp(value):
            if not isinstance(value, datetime) or value.tzinfo is None:
                raise ValueError(f"{field.name}: an aware datetime is required, not {value!r}")
            return value.isoformat()
        return timestamp
    return lambda value: _escape(str(value))
