"""Incident numbers: #1, #2, … per tenant, unique (a unique index on (tenant, number)), with gaps
allowed (a number drawn by an event that then finds a concurrent twin holding its key is skipped).

On PostgreSQL an event with a key draws its number in the append statement that found no open
incident (alerts/services/append.py), committed at once: the transaction that opens the incident
then holds no lock on the tenant's counter row, so a tenant's new incidents do not queue behind
each other's commits. Otherwise the counter is bumped inside the statement that INSERTs the
incident (`WITH n AS (UPDATE … RETURNING) INSERT … ON CONFLICT DO NOTHING`), locked to the commit.
Elsewhere (SQLite: one writer at a time anyway) the counter is bumped and read, then the incident
is inserted in a savepoint.
"""

from django.db import IntegrityError, connections, router, transaction
from django.db.models import F, PositiveBigIntegerField
from django.db.models.expressions import RawSQL

from accounts.models import Tenant
from ilert import statements


def insert_numbered(incident, number=None):
    """INSERT `incident` with the tenant's next number, or with `number` when the caller drew it
    already (alerts/services/append.py draws it in its own statement, so this transaction never
    locks the counter); False (nothing inserted) when a row that holds its dedup key (a concurrent
    twin) is there first."""
    if connections[router.db_for_write(type(incident))].vendor == "postgresql":
        if number is not None:
            incident.number = number
            return bool(statements.insert([incident], skip_conflicts=True))
        incident.number = RawSQL("(SELECT last_incident_number FROM w0)", [], output_field=PositiveBigIntegerField())
        counter = statements.Update(Tenant, {"last_incident_number": F("last_incident_number") + 1},
                                    returning="last_incident_number", pk=incident.tenant_id)
        return bool(statements.insert([incident], before=[counter], skip_conflicts=True, returning=("number",)))
    Tenant.objects.filter(pk=incident.tenant_id).update(last_incident_number=F("last_incident_number") + 1)
    incident.number = Tenant.objects.values_list("last_incident_number", flat=True).get(pk=incident.tenant_id)
    try:
        with transaction.atomic():
            incident.save(force_insert=True)
    except IntegrityError:
        return False
    return True
