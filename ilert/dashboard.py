"""Helpers for dashboard views: tenant-scoped object loading and role checks.

`tenant_object(Model)` marks a view that takes a primary key in its URL; the tenancy sweep test
reads the mark to try every such URL with another tenant's objects.
"""

from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.urls import NoReverseMatch, reverse

from .tenancy import get_for_tenant


def tenant_object(model, *, kwarg="pk", queryset=None):
    """Load `kwarg` as an object of the request's tenant (404 otherwise) and pass it as `obj`."""

    def decorator(view):
        @login_required
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            pk = kwargs.pop(kwarg)
            source = queryset() if callable(queryset) else model.objects.all()
            obj = get_for_tenant(source, request.tenant, pk=pk)
            return view(request, obj, *args, **kwargs)

        wrapper.tenant_model = model
        wrapper.tenant_kwarg = kwarg
        return wrapper

    return decorator


def require_roles(*roles):
    """Refuse POSTs (and every method, with `always`) from users without one of `roles`."""

    def decorator(view):
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            if request.method == "POST" and request.user.role not in roles:
                raise PermissionDenied("Your role does not allow this.")
            return view(request, *args, **kwargs)

        return wrapper

    return decorator


can_write = require_roles("admin", "responder")
admin_only = require_roles("admin")


def token_addressed(view):
    """Mark a view whose URL carries a secret token, not a tenant object's id (invitations, feeds,
    ingestion keys). The tenancy sweep accepts such URLs; everything else with an id must use
    `tenant_object`."""
    view.token_addressed = True
    return view


def url_or_none(name, *args):
    """The URL of `name`, or None when no installed app defines it (pages of later apps plug in
    by URL name; docs/architecture.md §2)."""
    try:
        return reverse(name, args=args) if name else None
    except NoReverseMatch:
        return None


def panel_urls(names, *args):
    """The URLs of those panels (URL names) that exist, in order."""
    return [url for url in (url_or_none(name, *args) for name in names) if url]
