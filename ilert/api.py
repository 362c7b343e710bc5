"""The shared shape of the management API: errors, pagination, permissions, the tenant base viewset.

Every error answers JSON of one shape:
    {"code": "invalid", "message": "email: Enter a valid email address.", "fields": {"email": [...]}}
`fields` only appears for validation errors.
"""

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions, viewsets
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from .errors import DomainError
from .tenancy import tenant_of


def _flatten(detail, prefix=""):
    """Turn DRF's nested error detail into {"field.sub": ["message", ...]}."""
    out = {}
    if isinstance(detail, dict):
        for key, value in detail.items():
            if isinstance(key, int):  # DRF reports list items by index
                name = f"{prefix}[{key}]"
            else:
                name = f"{prefix}.{key}" if prefix else str(key)
            out.update(_flatten(value, name))
    elif isinstance(detail, list):
        if all(not isinstance(item, (dict, list)) for item in detail):
            out[prefix or "non_field_errors"] = [str(item) for item in detail]
        else:
            for index, item in enumerate(detail):
                out.update(_flatten(item, f"{prefix}[{index}]"))
    else:
        out[prefix or "non_field_errors"] = [str(detail)]
    return out


def error_body(code, message, fields=None):
    body = {"code": code, "message": message}
    if fields:
        body["fields"] = fields
    return body


def exception_handler(exc, context):
    if isinstance(exc, DomainError):
        fields = {exc.field: [exc.message]} if exc.field else None
        message = f"{exc.field}: {exc.message}" if exc.field else exc.message
        return Response(error_body(exc.code, message, fields), status=exc.status)
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(exc.message_dict if hasattr(exc, "error_dict") else exc.messages)
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()

    response = drf_exception_handler(exc, context)
    if response is None:
        return None  # a real bug: let it surface as a 500 and be fixed
    if isinstance(exc, exceptions.ValidationError):
        fields = _flatten(exc.detail)
        first_field, messages = next(iter(fields.items()))
        summary = messages[0] if first_field == "non_field_errors" else f"{first_field}: {messages[0]}"
        response.data = error_body("invalid", summary, fields)
    else:
        detail = exc.detail if isinstance(exc, exceptions.APIException) else str(exc)
        code = getattr(detail, "code", None) or getattr(exc, "default_code", "error")
        response.data = error_body(str(code), str(detail))
    return response


class TenantViewSet(viewsets.GenericViewSet):
    """Base for every /api/v1/ resource. Subclasses read through their app's selectors, starting from
    `self.tenant`, and write through their app's services."""

    write_roles = ("admin", "responder")

    @property
    def tenant(self):
        return tenant_of(self.request)

    def get_queryset(self):
        return super().get_queryset().filter(tenant=self.tenant)
