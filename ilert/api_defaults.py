"""Classes the REST_FRAMEWORK settings name. Kept apart from ilert.api because DRF imports them
while its own modules are still loading (importing viewsets here would be circular)."""

from django_filters.rest_framework import DjangoFilterBackend
from rest_framework import permissions
from rest_framework.pagination import PageNumberPagination

from .tenancy import tenant_of

READ_ONLY_ROLE = "stakeholder"


class Pagination(PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500


class RolePermission(permissions.BasePermission):
    """Authenticated users read; writes need one of the view's `write_roles` (stakeholders never write)."""

    message = "Your role does not allow this."

    def has_permission(self, request, view):
        user = request.user
        if not (user and user.is_authenticated and user.is_active):
            return False
        if request.method in permissions.SAFE_METHODS:
            return True
        roles = getattr(view, "write_roles", ("admin", "responder"))
        return user.role in roles and user.role != READ_ONLY_ROLE


class TenantFilterBackend(DjangoFilterBackend):
    """django-filter, with every filter on a related object limited to the request's tenant: another
    tenant's id is an invalid choice exactly like an unknown one (400), so a filter never confirms
    that an object exists elsewhere (docs/architecture.md §3)."""

    def get_filterset(self, request, queryset, view):
        filterset = super().get_filterset(request, queryset, view)
        if filterset is None:
            return None
        tenant = tenant_of(request)
        for field in filterset.form.fields.values():
            choices = getattr(field, "queryset", None)
            if choices is not None and any(f.name == "tenant" for f in choices.model._meta.fields):
                field.queryset = choices.filter(tenant=tenant) if tenant is not None else choices.none()
        return filterset
