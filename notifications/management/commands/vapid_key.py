"""Print a new VAPID private key for WEBPUSH_VAPID_PRIVATE_KEY (docs/push.md), or with --public the
public key browsers subscribe with now. The new key is printed once, to be put in the environment
of every process (web and workers); it is not stored anywhere by this command."""

import base64

from cryptography.hazmat.primitives.asymmetric import ec
from django.core.management.base import BaseCommand

from notifications import vapid


class Command(BaseCommand):
    help = "Print a new VAPID private key (base64url) for WEBPUSH_VAPID_PRIVATE_KEY, or the current public key."

    def add_arguments(self, parser):
        parser.add_argument("--public", action="store_true", help="print the public key in use instead")

    def handle(self, *args, public=False, **options):
        if public:
            self.stdout.write(vapid.public_key())
            return
        raw = ec.generate_private_key(ec.SECP256R1()).private_numbers().private_value.to_bytes(32, "big")
        self.stdout.write(base64.urlsafe_b64encode(raw).rstrip(b"=").decode())
