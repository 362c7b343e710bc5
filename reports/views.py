"""Dashboard pages /reports/<report>/: filters in the URL, SVG charts, ?export=csv. Every role of
the organisation may read them (docs/permissions.md)."""

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_safe

from accounts.models import Team, User
from alerts.models import AlertSource, Priority
from escalation.models import EscalationPolicy

from . import charts, export, queries
from .params import GROUPS, TENANT_FILTERS, ParamError, parse

TITLES = {"response": "Response", "noise": "Noise", "people": "People", "delivery": "Delivery"}


@login_required
@require_safe
def index(request):
    return redirect("reports:response")


def _options(tenant):
    return {
        "sources": AlertSource.objects.filter(tenant=tenant).only("pk", "name"),
        "policies": EscalationPolicy.objects.filter(tenant=tenant).only("pk", "name"),
        "teams": Team.objects.filter(tenant=tenant).only("pk", "name"),
        "users": User.objects.filter(tenant=tenant).only("pk", "name", "email"),
        "priorities": Priority.values,
        "groups": [g for g in GROUPS if g],
    }


def _page(request, name):
    function, allowed = queries.REPORTS[name]
    context = {"name": name, "title": TITLES[name], "titles": TITLES, "allowed": allowed,
               "query": request.GET, **_options(request.tenant)}
    try:
        p = parse(request.GET, tenant=request.tenant, user=request.user, allowed=allowed)
    except ParamError as error:
        context["error"] = error
        return render(request, "reports/report.html", context, status=400)
    data = function(p)
    if request.GET.get("export") == "csv":
        response = HttpResponse(export.to_csv(name, data), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{name}-{p.first}-{p.last}.csv"'
        return response
    context.update(p=p, data=data, csv_query=p.query(export="csv"))
    if "trend" in data:
        context["incidents_chart"] = charts.incidents_chart(data["trend"])
        context["times_chart"] = charts.times_chart(data["trend"])
    if name == "delivery":
        context["replies_chart"] = charts.share_bars([(r["channel"], r["accepted"]) for r in data["replies"]])
    return render(request, f"reports/{name}.html", context)


@login_required
@require_safe
def response_report(request):
    return _page(request, "response")


@login_required
@require_safe
def noise_report(request):
    return _page(request, "noise")


@login_required
@require_safe
def people_report(request):
    return _page(request, "people")


@login_required
@require_safe
def delivery_report(request):
    return _page(request, "delivery")


# The tenancy sweep tries every object filter of a read route with another tenant's id.
for _view, _name in ((response_report, "response"), (noise_report, "noise"), (people_report, "people"),
                     (delivery_report, "delivery")):
    _view.tenant_filters = {key: TENANT_FILTERS[key] for key in queries.REPORTS[_name][1] if key in TENANT_FILTERS}
