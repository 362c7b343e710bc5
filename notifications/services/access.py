"""Who may change whose notification settings."""

from ilert.errors import Forbidden


def can_manage(actor, user):
    """A user edits their own contact methods and rules; admins may edit anyone's in the tenant."""
    if actor is None or not actor.is_active or actor.tenant_id != user.tenant_id or not actor.can_write:
        return False
    return actor.pk == user.pk or actor.is_admin


def check_can_manage(actor, user):
    if not can_manage(actor, user):
        raise Forbidden("You may only change your own notification settings.")

