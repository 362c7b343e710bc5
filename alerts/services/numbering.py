"""Incident numbers: #1, #2, … per tenant, unique (a unique index on (tenant, number)), with gaps
allowed (a number drawn by an event that then finds a concurrent twin holding its key is skipped).

The counter is a row of its own (alerts.IncidentCounter), made by the tenant's first draw: a draw
is one upsert, `INSERT … ON CONFLICT (tenant_id) DO UPDATE SET last_number = last_number + 1
RETURNING last_number` (PostgreSQL, SQLite ≥ 3.35; before 3.35, which has no RETURNING, an UPDATE
and a SELECT in one transaction). On PostgreSQL an event with a key draws its number in the append
statement that found no open incident (alerts/services/append.py), committed at once: the
transaction that opens the incident then holds no lock on the counter, so a tenant's new incidents
do not queue behind each other's commits. Otherwise the draw runs inside the statement that
INSERTs the incident (`WITH w0 AS (INSERT … counter …) INSERT … ON CONFLICT DO NOTHING`), locked to
the commit. Elsewhere (SQLite: one writer at a time anyway) the number is drawn, then the incident
is inserted in a savepoint.
"""

from django.db import IntegrityError, connections, router, transaction
from django.db.models import F, PositiveBigIntegerField
from django.db.models.expressions import RawSQL

from ilert import statements

from ..models import IncidentCounter


def draw_sql(connection, rows="VALUES (%s, 1)"):
    """The upsert that draws a number: `rows` gives (tenant id, 1) for the first draw, a VALUES
    list or a SELECT (append.py's draws only when its conditions hold, else writes nothing)."""
    quote = connection.ops.quote_name
    table = quote(IncidentCounter._meta.db_table)
    return (f"INSERT INTO {table} (tenant_id, last_number) {rows} ON CONFLICT (tenant_id) "
            f"DO UPDATE SET last_number = {table}.last_number + 1 RETURNING last_number")


class _Draw:
    """The draw as a `before` of statements.insert (PostgreSQL: a CTE the INSERT reads as w0)."""

    def __init__(self, tenant_id):
        self.tenant_id = tenant_id

    def as_sql(self, connection):
        return draw_sql(connection), [self.tenant_id]


def draw(tenant_id, using):
    """The tenant's next incident number, drawn in the caller's transaction."""
    connection = connections[using]
    if not connection.features.can_return_columns_from_insert:  # SQLite before 3.35: no RETURNING
        counters = IncidentCounter.objects.using(using)
        with transaction.atomic(using=using):  # the UPDATE's write lock holds until the SELECT has read
            counters.get_or_create(tenant_id=tenant_id)
            counters.filter(pk=tenant_id).update(last_number=F("last_number") + 1)
            return counters.values_list("last_number", flat=True).get(pk=tenant_id)
    with connection.cursor() as cursor:
        cursor.execute(draw_sql(connection), [tenant_id])
        return cursor.fetchone()[0]


def insert_numbered(incident, number=None):
    """INSERT `incident` with the tenant's next number, or with `number` when the caller drew it
    already (alerts/services/append.py draws it in its own statement, so this transaction never
    locks the counter); False (nothing inserted) when a row that holds its dedup key (a concurrent
    twin) is there first."""
    using = router.db_for_write(type(incident))
    if connections[using].vendor == "postgresql":
        if number is not None:
            incident.number = number
            return bool(statements.insert([incident], skip_conflicts=True))
        incident.number = RawSQL("(SELECT last_number FROM w0)", [], output_field=PositiveBigIntegerField())
        return bool(statements.insert([incident], before=[_Draw(incident.tenant_id)], skip_conflicts=True,
                                      returning=("number",)))
    incident.number = draw(incident.tenant_id, using)
    try:
        with transaction.atomic(using=using):
            incident.save(force_insert=True, using=using)
    except IntegrityError:
        return False
    return True
