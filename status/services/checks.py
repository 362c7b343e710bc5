"""Who may change what (docs/permissions.md), and that related objects belong to the tenant.
`by=None` is the system (automation, the maintenance engine): it may do everything."""

from ilert.errors import DomainError, Forbidden


def may_write(by):
    if by is not None and (not by.can_write or not by.is_active):
        raise Forbidden("Your role does not allow this.")


def may_manage(by):
    if by is not None and (not by.is_admin or not by.is_active):
        raise Forbidden("Only admins manage services and status pages.")


def same_tenant(tenant, objects, field):
    for obj in objects:
        if obj.tenant_id != tenant.pk:
            raise DomainError("Unknown object.", field=field)
