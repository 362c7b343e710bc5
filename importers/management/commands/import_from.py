"""python manage.py import_from {pagerduty,opsgenie,oncall} --tenant SLUG --api-key … [--base-url …]
[--dry-run] [--only users,teams,schedules,policies,integrations]

Prints the plan (or what was done), everything that cannot be mapped exactly, what to paste into
each sending tool, and every difference between the vendor's on-call view and ours for the next
30 days. The API key is read from the option or, safer, from IMPORT_API_KEY in the environment."""

import os

from django.core.management.base import BaseCommand, CommandError

from accounts.models import Role, Tenant, User
from ilert import netguard
from importers import services
from importers.client import VendorError
from importers.spec import KINDS
from importers.vendors import VENDORS, adapter_for


class Command(BaseCommand):
    help = "Import users, teams, schedules, escalation policies and integrations from another on-call tool."

    def add_arguments(self, parser):
        parser.add_argument("vendor", choices=list(VENDORS))
        parser.add_argument("--tenant", required=True, help="the organisation's slug")
        parser.add_argument("--api-key", default=None, help="the vendor's API key (or set IMPORT_API_KEY)")
        parser.add_argument("--base-url", default=None, help="e.g. https://api.eu.opsgenie.com")
        parser.add_argument("--dry-run", action="store_true", help="print the plan, change nothing")
        parser.add_argument("--only", default=",".join(KINDS), help="comma-separated: " + ",".join(KINDS))

    def handle(self, *args, **options):
        tenant = Tenant.objects.filter(slug=options["tenant"]).first()
        if tenant is None:
            raise CommandError(f"No organisation with the slug {options['tenant']!r}.")
        key = options["api_key"] or os.environ.get("IMPORT_API_KEY", "")
        if not key:
            raise CommandError("Give the vendor's API key with --api-key or IMPORT_API_KEY.")
        only = [kind.strip() for kind in options["only"].split(",") if kind.strip()]
        unknown = sorted(set(only) - set(KINDS))
        if unknown:
            raise CommandError(f"--only: unknown {', '.join(unknown)}; choose from {', '.join(KINDS)}.")
        by = User.objects.filter(tenant=tenant, role=Role.ADMIN, is_active=True).order_by("pk").first()
        try:
            adapter = adapter_for(options["vendor"], key, options["base_url"])
            report = services.run(tenant, adapter, dry_run=options["dry_run"], only=only, by=by)
        except (VendorError, netguard.BlockedTarget) as exc:
            raise CommandError(str(exc)) from None
        self.print_report(report)

    def print_report(self, report):
        out = self.stdout.write
        out(("Plan (dry run: nothing was changed)" if report.dry_run else "Import") + f" from {report.vendor}:")
        for step in report.steps:
            out("  " + step.line())
        out(f"{report.count('create')} to create, {report.count('update')} to update, {report.count('skip')} "
            f"unchanged or linked, {report.count('fail')} not imported"
            + (f"; waited out {report.retries} rate limit answers" if report.retries else ""))
        if report.notes:
            out("Cannot map exactly:")
            for note in report.notes:
                out(f"  {note.kind} {note.name or note.vendor_id}: {note.reason}")
        pastes = [step for step in report.steps if step.paste]
        if pastes:
            out("Point your senders here:")
            for step in pastes:
                paste = step.paste
                out(f"  {step.name}: {paste['url']}  key {paste['key']}  ({paste['how']})")
        for name in report.compared:
            differences = report.differences.get(name) or []
            if differences:
                out(f"On call in {name!r} differs from {report.vendor} in the next {services.COMPARE_DAYS} days:")
                for difference in differences:
                    out("  " + difference.line())
            else:
                out(f"On call in {name!r}: the same as {report.vendor} for the next {services.COMPARE_DAYS} days.")
