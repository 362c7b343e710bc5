"""An email backend that keeps messages in the dev outbox (the embedded default)."""

from django.core.mail.backends.base import BaseEmailBackend

from .models import DevMessage


def _tenant_for(addresses):
    from accounts.models import User  # ilert is below accounts; look up lazily

    user = User.objects.filter(email__in=[a.lower() for a in addresses]).select_related("tenant").first()
    return user.tenant if user else None


class EmailBackend(BaseEmailBackend):
    def send_messages(self, email_messages):
        sent = 0
        for message in email_messages:
            html = ""
            for content, mimetype in getattr(message, "alternatives", []):
                if mimetype == "text/html":
                    html = content
            recipients = message.recipients()
            DevMessage.objects.create(
                tenant=_tenant_for(recipients),
                channel="email",
                to=", ".join(recipients),
                subject=message.subject,
                body=message.body,
                html=html,
                meta={"from": message.from_email, "headers": dict(message.extra_headers)},
            )
            sent += 1
        return sent
