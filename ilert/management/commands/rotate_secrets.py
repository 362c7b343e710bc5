"""python manage.py rotate_secrets — re-encrypt every stored secret with the newest key.

Rotation: put a new Fernet key first in ENCRYPTION_KEYS (keep the old ones after it), restart,
run this command, then drop the old keys. Every model field named `*_encrypted` is covered.
"""

from django.apps import apps
from django.core.management.base import BaseCommand, CommandError
from django.db import models, transaction

from ilert import secrets


def encrypted_fields():
    for model in apps.get_models():
        for field in model._meta.get_fields():
            if isinstance(field, models.TextField) and field.name.endswith("_encrypted"):
                yield model, field.name


class Command(BaseCommand):
    help = "Re-encrypt all stored secrets with the first key of ENCRYPTION_KEYS."

    def handle(self, *args, **options):
        total, unreadable = 0, []
        for model, name in encrypted_fields():
            rows = model.objects.exclude(**{name: ""}).values_list("pk", name)
            with transaction.atomic():
                for pk, token in rows.iterator():
                    try:
                        rotated = secrets.rotate(token)
                    except ValueError:
                        unreadable.append(f"{model._meta.label}#{pk}.{name}")
                        continue
                    model.objects.filter(pk=pk).update(**{name: rotated})
                    total += 1
        self.stdout.write(f"Re-encrypted {total} secret{'s' if total != 1 else ''} with the newest key.")
        if unreadable:
            raise CommandError(
                f"{len(unreadable)} secrets cannot be decrypted with ENCRYPTION_KEYS (add the old key back): "
                + ", ".join(unreadable[:20])
            )
