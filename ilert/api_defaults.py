"""Classes the REST_FRAMEWORK settings name. Kept apart from ilert.api because DRF imports them
while its own modules are still loading (importing viewsets here would be circular)."""

from rest_framework import permissions
from rest_framework.pagination import PageNumberPagination

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
