"""Fast inserts for hot paths: the escalation engine writes thousands of timeline and notification
rows a second in a storm, and Django's per-object machinery (a model instance with every default,
every value prepared through the field API, one SQL parameter per value) costs more than the
database does.

`insert(model, rows)` takes plain dicts ({attname: value}; missing fields get their defaults, as
`Model()` would give them) and returns the new primary keys in order. On PostgreSQL the rows go in
one `INSERT … SELECT FROM unnest(arrays)` (ids drawn from the table's sequence first): the driver
turns each column into one array in C, and a value shared by every row (the same message, the same
instant, a default) is sent once. Elsewhere (SQLite in development) they go through bulk_create.
`instance(model, row, pk)` gives the model object for a row that a caller hands on.

`update(model, objs, fields)` is QuerySet.bulk_update in one `UPDATE … FROM unnest(arrays)` on
PostgreSQL: Django's builds a CASE with a WHEN per row for each field, and resolving those
expressions cost more of the notification worker's time than anything else in it (py-spy under
bench/notify: a quarter of the time it held the GIL, recording sent messages).
"""

import json
from datetime import datetime

from django.db import connections, models, router

_NOT_GIVEN = object()


def insert(model, rows, *, skip_existing=None):
    """INSERT `rows` of `model` in one statement; returns their primary keys in order.

    With `skip_existing` (a field under a unique constraint), a row whose value is already stored
    (or taken by a concurrent transaction that commits) is skipped: None in its place."""
    if not rows:
        return []
    db = router.db_for_write(model)
    connection = connections[db]
    fields = _fields(model, rows)
    if connection.vendor != "postgresql":
        return _bulk_create(model, db, rows, skip_existing)

    table, pk = model._meta.db_table, model._meta.pk
    quote = connection.ops.quote_name
    with connection.cursor() as cursor, connection.wrap_database_errors:  # Django's IntegrityError & co.
        cursor.execute("SELECT nextval(%s::regclass) FROM generate_series(1, %s)",
                       [_sequence(cursor, table, pk.column), len(rows)])
        pks = [row[0] for row in cursor.fetchall()]
        selected, arrays, shared, params = _columns(connection, pk, pks, fields, rows)
        # The shared values come first in the statement (the SELECT list), then the arrays.
        names = ", ".join(quote(c) for c in [pk.column, *(f.column for f in fields)])
        aliases = ", ".join(f"u{n}" for n in range(len(arrays)))
        # Identifiers come from the model; every value is a parameter.
        sql = (f"INSERT INTO {quote(table)} ({names}) SELECT {', '.join(selected)} "  # noqa: S608
               f"FROM unnest({', '.join(arrays)}) AS u({aliases})")
        if skip_existing is None:
            cursor.execute(sql, [*shared, *params])
            return pks
        column = model._meta.get_field(skip_existing).column
        cursor.execute(f"{sql} ON CONFLICT ({quote(column)}) DO NOTHING RETURNING {quote(pk.column)}",
                       [*shared, *params])
        written = {row[0] for row in cursor.fetchall()}
    return [value if value in written else None for value in pks]


def update(model, objs, fields):
    """Write `fields` (names) of the model instances `objs`, each row its own values, in one
    statement. Returns the number of rows written. Unlike bulk_update, the objects must be saved
    ones with distinct primary keys, and a value too long for its column is refused (DataError),
    not cut."""
    if not objs:
        return 0
    db = router.db_for_write(model)
    connection = connections[db]
    fields = [model._meta.get_field(name) for name in fields]
    if connection.vendor != "postgresql":
        return model.objects.using(db).bulk_update(objs, [field.name for field in fields])
    _check_kinds(model, fields)
    pk, quote = model._meta.pk, connection.ops.quote_name
    rows = [{field.attname: getattr(obj, field.attname) for field in fields} for obj in objs]
    selected, arrays, shared, params = _columns(connection, pk, [obj.pk for obj in objs], fields, rows)
    sets = ", ".join(f"{quote(field.column)} = {value}" for field, value in zip(fields, selected[1:], strict=True))
    aliases = ", ".join(f"u{n}" for n in range(len(arrays)))
    # Identifiers come from the model; every value is a parameter.
    sql = (f"UPDATE {quote(model._meta.db_table)} SET {sets} FROM unnest({', '.join(arrays)}) "  # noqa: S608
           f"AS u({aliases}) WHERE {quote(model._meta.db_table)}.{quote(pk.column)} = u.u0")
    with connection.cursor() as cursor, connection.wrap_database_errors:
        cursor.execute(sql, [*shared, *params])
        return cursor.rowcount


def _fields(model, rows):
    """The model's fields but its primary key, checked against what the rows give."""
    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    unknown = set().union(*rows) - {f.attname for f in fields}
    if unknown:
        raise TypeError(f"{model.__name__} has no fields {sorted(unknown)}")
    _check_kinds(model, fields)
    return fields


def _check_kinds(model, fields):
    unsupported = sorted({f.name for f in fields if _kind(f) not in _TEXT_FORMS})
    if unsupported:  # their text form in an array literal is not what PostgreSQL reads
        raise TypeError(f"ilert.bulk cannot write {model.__name__}.{', '.join(unsupported)}")


def _columns(connection, pk, pks, fields, rows):
    """The SELECT list (a column of the unnest, or a value every row shares), the arrays unnested,
    the shared values' parameters (in the order they appear) and the arrays' parameters."""
    selected, arrays, params = ["u0"], [f"%s::{pk.db_type(connection)}[]"], [_array_literal(pk, pks)]
    shared = []
    for field in fields:
        values = _column(field, rows)
        cast = _cast(field, connection)
        if values[0] is values[-1] and len({id(value) for value in values}) == 1:  # one object: sent once
            selected.append(f"%s::{cast}")
            shared.append(_prepare(field, values[:1])[0])
        else:
            selected.append(f"u{len(arrays)}")
            arrays.append(f"%s::{cast}[]")
            params.append(_array_literal(field, _prepare(field, values)))
    return selected, arrays, shared, params


_SEQUENCES = {}


def _sequence(cursor, table, column):
    """The table's id sequence, looked up once (per row, the lookup costs three times the nextval)."""
    key = (cursor.db.alias, table, column)
    if key not in _SEQUENCES:
        cursor.execute("SELECT pg_get_serial_sequence(%s, %s)", [table, column])
        _SEQUENCES[key] = cursor.fetchone()[0]
    return _SEQUENCES[key]


def _bulk_create(model, db, rows, skip_existing):
    """Elsewhere (SQLite: one writer at a time, so what exists cannot change under us)."""
    skip = [False] * len(rows)
    if skip_existing is not None:
        attname = model._meta.get_field(skip_existing).attname
        values = [row.get(attname) for row in rows]
        taken = set(model.objects.using(db).filter(**{f"{attname}__in": values}).values_list(attname, flat=True))
        for n, value in enumerate(values):
            skip[n] = value in taken
            taken.add(value)  # the first of two equal rows is the one written
    objs = iter(model.objects.using(db).bulk_create([model(**row) for row, s in zip(rows, skip, strict=True) if not s]))
    return [None if s else next(objs).pk for s in skip]


def instance(model, row, pk):
    """The model object for a row just inserted (as loaded from the database, without a query)."""
    names, values = [], []
    for field in model._meta.concrete_fields:
        value = pk if field.primary_key else row.get(field.attname, _NOT_GIVEN)
        if value is _NOT_GIVEN:
            default = _default(field)
            value = default() if callable(default) else default
        names.append(field.attname)
        values.append(value)
    return model.from_db(router.db_for_write(model), names, values)


def _default(field):
    """The field's default: a value, or a callable for defaults made afresh for every row."""
    if field.has_default() and callable(field.default):
        return field.default
    return field.get_default()


def _column(field, rows):
    """The field's value for every row; a missing one is the default (made afresh per row if callable)."""
    default = _default(field)
    if not callable(default):
        return [row.get(field.attname, default) for row in rows]
    return [default() if value is _NOT_GIVEN else value
            for value in (row.get(field.attname, _NOT_GIVEN) for row in rows)]


_INTEGERS = {"AutoField", "BigAutoField", "SmallAutoField", "IntegerField", "BigIntegerField", "SmallIntegerField",
             "PositiveIntegerField", "PositiveBigIntegerField", "PositiveSmallIntegerField"}
# Fields whose values' str() is what PostgreSQL reads back (JSON is dumped first, see _prepare).
_TEXT_FORMS = _INTEGERS | {"CharField", "TextField", "SlugField", "EmailField", "URLField", "BooleanField",
                           "DateTimeField", "DateField", "DecimalField", "UUIDField", "JSONField"}


def _kind(field):
    return (field.target_field if field.is_relation else field).get_internal_type()


def _cast(field, connection):
    """The type a column's values are cast to. Not varchar(n): an explicit cast cuts a long value
    silently; as text, the INSERT refuses it, as Django's own writes do."""
    db_type = field.db_type(connection)
    return "text" if db_type.startswith("varchar") else db_type


def _array_literal(field, values):
    """A column as one PostgreSQL array literal ('{1,2}', '{"a","b"}'). The driver would send a list
    as ARRAY[...], an expression the server parses element by element: about 2 µs per value here."""
    if _kind(field) in _INTEGERS:
        return "{" + ",".join("NULL" if value is None else str(int(value)) for value in values) + "}"
    return "{" + ",".join(
        "NULL" if value is None else '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'
        for value in values) + "}"


def _prepare(field, values):
    """Values as the driver should send them: JSON as text (cast to jsonb by the statement), and
    datetimes checked to be aware (a naive one would be read in the session's time zone)."""
    if isinstance(field, models.JSONField):
        texts = {}  # one dump per distinct object: rows often share their data
        for value in values:
            if id(value) not in texts:
                texts[id(value)] = None if value is None else json.dumps(value, cls=field.encoder)
        return [texts[id(value)] for value in values]
    if isinstance(field, models.DateTimeField):
        for value in values:
            if value is not None and (not isinstance(value, datetime) or value.tzinfo is None):
                raise ValueError(f"{field.name}: an aware datetime is required, not {value!r}")
    return values
