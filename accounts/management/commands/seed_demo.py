"""Create (or refresh) the demo organisation that the embedded run prints a login for.

Each domain app may add demo data with a `demo.seed(tenant, admin)` function in `<app>/demo.py`.
"""

import secrets
from importlib import import_module
from importlib.util import find_spec

from django.core.management.base import BaseCommand
from django.db import transaction

from accounts import services
from accounts.models import Tenant, User
from ilert.urls import DOMAIN_APPS

DEMO_TENANT = "Demo"
DEMO_EMAIL = "demo@example.com"


class Command(BaseCommand):
    help = "Create the demo tenant and its admin; print the login."

    def add_arguments(self, parser):
        parser.add_argument("--password", help="Use this password (default: keep the saved one or make one).")
        parser.add_argument("--password-file", help="Where the demo password is kept between runs.")

    def handle(self, *args, password=None, password_file=None, **options):
        if password is None and password_file:
            try:
                with open(password_file) as handle:
                    password = handle.read().strip() or None
            except FileNotFoundError:
                password = None
        password = password or secrets.token_urlsafe(9)
        with transaction.atomic():
            user = User.objects.filter(email=DEMO_EMAIL).first()
            if user is None:
                tenant, user = services.create_tenant(
                    DEMO_TENANT, admin_email=DEMO_EMAIL, admin_name="Demo Admin", password=password,
                    timezone="Europe/Berlin",
                )
                for app_name in DOMAIN_APPS:
                    if find_spec(f"{app_name}.demo"):
                        import_module(f"{app_name}.demo").seed(tenant, user)
            else:
                user.set_password(password)
                user.is_active = True
                user.save(update_fields=["password", "is_active"])
                tenant = Tenant.objects.get(pk=user.tenant_id)
        if password_file:
            with open(password_file, "w") as handle:
                handle.write(password)
        self.stdout.write(f"Demo organisation {tenant.name!r}: log in as {DEMO_EMAIL} / {password}")
