"""Several writes in one round trip to PostgreSQL, with the SQL Django itself would write.

The ingest hot path changes an incident and appends to its timeline on every event: as separate
statements each is a round trip, and on a busy two-core machine the round trips, not the work,
are what an event costs. On PostgreSQL `insert(objs, before=[...])` sends
`WITH w0 AS (UPDATE …), w1 AS (UPDATE …) INSERT … RETURNING id` (data-modifying CTEs always run,
in the same snapshot); elsewhere (SQLite in development) the same writes go one by one.
"""

from django.db import IntegrityError, connections, router, transaction
from django.db.models import Q
from django.db.models.constants import OnConflict
from django.db.models.sql import InsertQuery, UpdateQuery


class Update:
    """`UPDATE <model> SET values WHERE filters`, to run with an insert. Any `before` of insert()
    is such an object: as_sql(connection) gives its statement, run(using) runs it alone outside
    PostgreSQL (one only ever passed on PostgreSQL may leave run out). One with RETURNING is read by
    the insert's values as RawSQL("(SELECT column FROM w<n>)"), n its place in `before`
    (alerts/services/numbering.py's draw of an incident number)."""

    def __init__(self, model, values, **filters):
        self.model, self.values, self.filters = model, values, filters

    def as_sql(self, connection):
        query = UpdateQuery(self.model)
        query.add_update_values(self.values)
        query.add_q(Q(**self.filters))
        return query.get_compiler(connection=connection).as_sql()

    def run(self, using):
        return self.model._base_manager.using(using).filter(**self.filters).update(**self.values)


def insert(objs, *, before=(), skip_conflicts=False, returning=()):
    """INSERT `objs` (model instances of one model, saved by nobody yet) after running the
    `before` updates, in one statement where the database allows it. Sets each object's pk and
    returns the objects written: with `skip_conflicts`, an object that hits a unique constraint
    (a concurrent twin) is skipped (ON CONFLICT DO NOTHING) and left without a pk. `returning`:
    more fields whose stored values are read back onto the objects (values computed by SQL)."""
    model = type(objs[0])
    using = router.db_for_write(model)
    connection = connections[using]
    fields = [f for f in model._meta.concrete_fields if not f.generated and f is not model._meta.auto_field]
    query = InsertQuery(model, on_conflict=OnConflict.IGNORE if skip_conflicts else None)
    query.insert_values(fields, objs)
    compiler = query.get_compiler(connection=connection)
    compiler.returning_fields = [model._meta.pk, *(model._meta.get_field(name) for name in returning)]
    [(insert_sql, insert_params)] = compiler.as_sql()
    if connection.vendor != "postgresql" or len(objs) > 1 and skip_conflicts:
        for update in before:
            update.run(using)
        return _insert_each(objs, using) if skip_conflicts else _bulk(model, objs, using)
    parts, params = [], []
    for n, update in enumerate(before):
        sql, update_params = update.as_sql(connection)
        parts.append(f"w{n} AS ({sql})")
        params.extend(update_params)
    sql = (f"WITH {', '.join(parts)} " if parts else "") + insert_sql
    with connection.cursor() as cursor, connection.wrap_database_errors:
        cursor.execute(sql, [*params, *insert_params])
        rows = cursor.fetchall()
    if skip_conflicts and not rows:
        return []
    for obj, row in zip(objs, rows, strict=True):
        obj.pk = row[0]
        for name, value in zip(returning, row[1:], strict=True):
            setattr(obj, name, value)
        obj._state.adding, obj._state.db = False, using
    return objs


def _bulk(model, objs, using):
    return model._base_manager.using(using).bulk_create(objs)


def _insert_each(objs, using):
    """Outside PostgreSQL (SQLite writes one at a time): each object in a savepoint of its own."""
    written = []
    for obj in objs:
        try:
            with transaction.atomic(using=using):
                obj.save(force_insert=True, using=using)
        except IntegrityError:
            continue
        written.append(obj)
    return written
