"""A fast multi-row INSERT for hot paths (the escalation engine writes tens of thousands of timeline
and notification rows in a storm).

`insert(objs)` does what `bulk_create(objs)` does for plain rows (it sets each object's pk), but
prepares values per column instead of through the whole field API for every value: most columns
hold ints and strings that need no preparing at all. On PostgreSQL it is one INSERT … RETURNING per
call (psycopg2's execute_values); elsewhere (SQLite in development) it is bulk_create.
"""

from datetime import datetime

from django.db import connections, models, router

# Columns whose values go to the driver unchanged when they are None or of this type (exactly, for
# ints: a bool is an int to Python, not to PostgreSQL). Strings include TextChoices members.
_PLAIN = {
    models.CharField: str, models.TextField: str, models.EmailField: str, models.SlugField: str,
    models.URLField: str, models.IntegerField: int, models.BigIntegerField: int, models.SmallIntegerField: int,
    models.PositiveIntegerField: int, models.PositiveSmallIntegerField: int, models.PositiveBigIntegerField: int,
    models.BooleanField: bool, models.DateTimeField: datetime,
}


def insert(objs):
    """INSERT `objs` (instances of one model, not yet saved) and set their primary keys."""
    if not objs:
        return objs
    model = type(objs[0])
    db = router.db_for_write(model)
    connection = connections[db]
    if connection.vendor != "postgresql":
        model.objects.using(db).bulk_create(objs)
        return objs

    from psycopg2.extras import execute_values

    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    auto = [f for f in fields if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False)]
    for obj in objs:
        for field in auto:
            field.pre_save(obj, True)
    columns = [(f.attname, _converter(f, connection)) for f in fields]
    rows = [tuple(convert(getattr(obj, attname)) for attname, convert in columns) for obj in objs]
    # Only names from the model's metadata, quoted; the values go as parameters.
    sql = "INSERT INTO {} ({}) VALUES %s RETURNING {}".format(  # noqa: S608
        connection.ops.quote_name(model._meta.db_table),
        ", ".join(connection.ops.quote_name(f.column) for f in fields),
        connection.ops.quote_name(model._meta.pk.column),
    )
    with connection.cursor() as cursor, connection.wrap_database_errors:  # Django's IntegrityError & co.
        ids = execute_values(cursor.cursor, sql, rows, page_size=len(rows), fetch=True)
    for obj, (pk,) in zip(objs, ids, strict=True):
        obj.pk = pk
        obj._state.adding, obj._state.db = False, db
    return objs


def _converter(field, connection):
    def prepare(value):
        return field.get_db_prep_save(value, connection=connection)

    if isinstance(field, models.ForeignKey):
        plain = int if field.target_field.get_internal_type() in ("AutoField", "BigAutoField") else None
    else:
        plain = _PLAIN.get(type(field))
    if plain is str:
        return lambda value: value if value is None or isinstance(value, str) else prepare(value)
    if plain is datetime:  # an aware datetime is what psycopg2 wants; a naive one gets Django's warning
        return lambda value: value if value is None or getattr(value, "tzinfo", None) is not None else prepare(value)
    if plain is not None:
        return lambda value: value if value is None or type(value) is plain else prepare(value)
    return prepare
