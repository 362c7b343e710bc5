"""Tenant-scoped reads of connectors, connections and invocations (404 across tenants)."""


from .models import Connection, ConnectionInvocation, Connector, SlackIdentity


def connectors(tenant):
    return Connector.objects.filter(tenant=tenant)


def connections(tenant):
    return Connection.objects.filter(tenant=tenant).select_related("connector", "alert_source")


def connections_of_source(source):
    return connections(source.tenant).filter(alert_source=source)


def invocations(tenant):
    return ConnectionInvocation.objects.filter(tenant=tenant).select_related(
        "connection", "connection__connector", "requested_by")


def invocations_of_incident(incident):
    return invocations(incident.tenant).filter(incident=incident)


def invocations_of_connection(connection):
    return invocations(connection.tenant).filter(connection=connection)


def slack_identities(tenant):
    return SlackIdentity.objects.filter(tenant=tenant).select_related("user")
