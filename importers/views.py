"""Dashboard: start an import (plan or run) and follow its job. Admins only."""

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect, render
from django.views.decorators.http import require_safe

from ilert.dashboard import tenant_object
from ilert.netguard import BlockedTarget, check_url

from . import jobs
from .forms import ImportForm
from .models import ImportJob


def _admin(request):
    if not request.user.is_authenticated or not request.user.is_admin:
        raise PermissionDenied("Only admins import organisations.")


def start(request):
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    _admin(request)
    form = ImportForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            if data["base_url"]:
                check_url(data["base_url"])
        except BlockedTarget as exc:
            form.add_error("base_url", str(exc))
        else:
            job = jobs.start(request.tenant, by=request.user, vendor=data["vendor"], api_key=data["api_key"],
                             base_url=data["base_url"], only=data["only"], dry_run=data["dry_run"])
            return redirect("importers:job", pk=job.pk)
    recent = ImportJob.objects.filter(tenant=request.tenant)[:10]
    return render(request, "importers/start.html", {"form": form, "jobs": recent})


@require_safe
@tenant_object(ImportJob)
def job(request, obj):
    _admin(request)
    template = "importers/_progress.html" if request.headers.get("HX-Request") else "importers/job.html"
    steps = obj.report.get("steps") or []
    form = ImportForm(initial={"vendor": obj.vendor, "base_url": obj.base_url, "only": obj.only.split(","),
                               "dry_run": False})
    return render(request, template, {"job": obj, "steps": steps, "form": form,
                                      "pastes": [s for s in steps if s.get("paste")]})
