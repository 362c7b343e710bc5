"""python manage.py create_tenant NAME --admin-email EMAIL [--password PASSWORD] [--api-key]

For self-hosters' automation. With --api-key, the new key's secret is printed alone on the last line.
"""

from django.core.management.base import BaseCommand, CommandError

from accounts import services
from ilert.errors import DomainError


class Command(BaseCommand):
    help = "Create a tenant with its first admin (and, on request, an API key for that admin)."

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("--admin-email", required=True)
        parser.add_argument("--admin-name", default="")
        parser.add_argument("--password", help="Without it, the admin gets an invitation email to set one.")
        parser.add_argument("--timezone", default="UTC")
        parser.add_argument("--api-key", action="store_true", help="Also create an API key; print its secret last.")

    def handle(self, *args, name, admin_email, admin_name, password, timezone, api_key, **options):
        try:
            tenant, admin = services.create_tenant(
                name, admin_email=admin_email, admin_name=admin_name, password=password, timezone=timezone
            )
        except DomainError as exc:
            raise CommandError(exc.message) from None
        self.stdout.write(f"Created tenant {tenant.name!r} (slug {tenant.slug}) with admin {admin.email}.")
        if password is None:
            services.send_invitation(admin)
            self.stdout.write(f"Invitation to set a password sent to {admin.email}.")
        if api_key:
            _key, secret = services.create_api_key(admin, name="create_tenant")
            self.stdout.write("API key (shown once):")
            self.stdout.write(secret)
