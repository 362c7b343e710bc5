"""The reports' numbers as JSON: GET /api/v1/reports/<report> with the dashboard's query
parameters (docs/reports.md). Bad parameters are a 400 in the API's error shape."""

from django.urls import path
from rest_framework.response import Response
from rest_framework.views import APIView

from . import queries
from .params import parse


class ReportView(APIView):
    report = ""

    def get(self, request):
        function, allowed = queries.REPORTS[self.report]
        p = parse(request.query_params, tenant=request.user.tenant, user=request.user, allowed=allowed)
        return Response(function(p))


def _view(name):
    return type(f"{name.title()}ReportView", (ReportView,), {"report": name}).as_view()


api_urlpatterns = [path(f"reports/{name}", _view(name), name=f"reports-{name}") for name in queries.REPORTS]
