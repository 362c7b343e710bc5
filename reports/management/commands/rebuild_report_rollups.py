"""Recompute the report facts and daily roll-ups from the other apps' tables (docs/reports.md)."""

import time

from django.core.management.base import BaseCommand, CommandError

from accounts.models import Tenant
from reports import rollups


class Command(BaseCommand):
    help = "Rebuild the reports' incident facts and daily roll-ups (all tenants, or one)."

    def add_arguments(self, parser):
        parser.add_argument("--tenant", help="the slug of one organisation")

    def handle(self, *args, tenant=None, **options):
        tenants = Tenant.objects.all().order_by("pk")
        if tenant:
            tenants = tenants.filter(slug=tenant)
            if not tenants.exists():
                raise CommandError(f"No organisation with the slug {tenant!r}.")
        for item in tenants:
            started = time.monotonic()
            count = rollups.rebuild(item)
            self.stdout.write(f"{item.slug}: {count} incidents in {time.monotonic() - started:.1f} s")
