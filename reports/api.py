"""The reports' numbers as JSON: GET /api/v1/reports/<report> with the dashboard's query
parameters (docs/reports.md). Bad parameters are a 400 in the API's error shape."""

from django.urls import path
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from . import queries
from .params import GROUPS, TENANT_FILTERS, parse


class ReportView(APIView):
    report = ""
    tenant_filters = {}  # {query parameter: model}, tried by the tenancy sweep

    @extend_schema(parameters=[
        OpenApiParameter("from", OpenApiTypes.DATE, description="first day, in the reader's zone"),
        OpenApiParameter("to", OpenApiTypes.DATE, description="last day (inclusive)"),
        OpenApiParameter("tz", str, description="IANA zone of the days (default: the reader's)"),
        OpenApiParameter("group", str, enum=[g for g in GROUPS if g]),
        OpenApiParameter("bucket", str, enum=["day", "week"]),
        *[OpenApiParameter(name, int, description="only for reports that take it") for name in TENANT_FILTERS],
        OpenApiParameter("priority", str, enum=["HIGH", "LOW"]),
    ], responses=OpenApiTypes.OBJECT, description="See docs/reports.md for what every figure measures.")
    def get(self, request):
        function, allowed = queries.REPORTS[self.report]
        p = parse(request.query_params, tenant=request.user.tenant, user=request.user, allowed=allowed)
        return Response(function(p))


def _view(name):
    filters = {key: TENANT_FILTERS[key] for key in queries.REPORTS[name][1] if key in TENANT_FILTERS}
    return type(f"{name.title()}ReportView", (ReportView,), {"report": name, "tenant_filters": filters}).as_view()


api_urlpatterns = [path(f"reports/{name}", _view(name), name=f"reports-{name}") for name in queries.REPORTS]
