"""The reports' numbers as JSON: GET /api/v1/reports/<report> with the dashboard's query
parameters (docs/reports.md). Bad parameters are a 400 in the API's error shape."""

from django.urls import path
from rest_framework.response import Response
from rest_framework.views import APIView

from . import queries
from .params import TENANT_FILTERS, parse


class ReportView(APIView):
    report = ""
    tenant_filters = {}  # {query parameter: model}, tried by the tenancy sweep

    def get(self, request):
        function, allowed = queries.REPORTS[self.report]
        p = parse(request.query_params, tenant=request.user.tenant, user=request.user, allowed=allowed)
        return Response(function(p))


def _view(name):
    filters = {key: TENANT_FILTERS[key] for key in queries.REPORTS[name][1] if key in TENANT_FILTERS}
    return type(f"{name.title()}ReportView", (ReportView,), {"report": name, "tenant_filters": filters}).as_view()


api_urlpatterns = [path(f"reports/{name}", _view(name), name=f"reports-{name}") for name in queries.REPORTS]
