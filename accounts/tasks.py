"""Celery entry points of the accounts app: thin, they call forms and services."""

import logging

from celery import shared_task

from ilert.devoutbox import EmailNotConfigured

from .forms import PasswordResetForm

log = logging.getLogger(__name__)


@shared_task(name="accounts.tasks.send_password_reset")
def send_password_reset(email):
    """Mail a reset link to every active user with this address (none: nothing, silently)."""
    form = PasswordResetForm({"email": email})
    if not form.is_valid():
        return
    try:
        form.send_reset_mails()
    except EmailNotConfigured:  # said at start, on /readyz and to admins; nothing to retry
        log.error("password reset not sent: no email provider is configured")
