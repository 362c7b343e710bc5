"""Row-level tenancy (docs/architecture.md §3): one abstract model, one middleware, one related-field check.

Every tenant-owned row carries `tenant`. A request resolves its tenant once (session user or API
key user) as `request.tenant`; every queryset a view or viewset uses starts from it, and objects of
another tenant answer 404, never 403.
"""

from django.db import models
from django.http import Http404
from rest_framework import serializers


def tenant_key(db_index=True):
    """TenantOwned's `tenant`. A model redeclares it with db_index=False where an index of its own
    would only cost writes: on tables written for every event, incident or message whose queries
    by tenant go through a composite index that starts with tenant_id, or that are only ever read
    by another key (each index is one more B-tree entry per insert and per non-HOT update)."""
    return models.ForeignKey("accounts.Tenant", on_delete=models.CASCADE, related_name="+", db_index=db_index)


class TenantOwned(models.Model):
    tenant = tenant_key()

    class Meta:
        abstract = True


def tenant_of(request):
    """The tenant of the authenticated user of a Django or DRF request (API key or session)."""
    user = getattr(request, "user", None)
    return user.tenant if user is not None and user.is_authenticated else None


class TenantMiddleware:
    """Sets request.tenant for the dashboard (session users). The API uses tenant_of(request)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.tenant = tenant_of(request)
        return self.get_response(request)


def get_for_tenant(queryset, tenant, **lookup):
    """The object of `tenant` matching `lookup`, or Http404 (also for other tenants' objects)."""
    if tenant is None:
        raise Http404
    try:
        return queryset.get(tenant=tenant, **lookup)
    except (queryset.model.DoesNotExist, ValueError, TypeError):
        raise Http404 from None


class TenantRelatedField(serializers.PrimaryKeyRelatedField):
    """A primary-key field that only accepts objects of the requesting user's tenant.

    Another tenant's id is reported exactly like a missing one, so nothing is confirmed to exist.
    """

    def get_queryset(self):
        queryset = super().get_queryset()
        request = self.context.get("request")
        tenant = tenant_of(request) if request is not None else None
        if tenant is None:
            return queryset.none()
        return queryset.filter(tenant=tenant)
