"""Twilio webhook signatures (X-Twilio-Signature), checked with twilio's RequestValidator. Which
account token to check with is each app's business; how to check is here, once.

Twilio signs exactly the URL it called: that is request.build_absolute_uri() when the proxy
headers are right (TRUST_X_FORWARDED_PROTO behind TLS), and SITE_URL + path otherwise."""

from django.conf import settings
from twilio.request_validator import SIGNATURE_SETTINGS_HEADER, RequestValidator, get_signature_algorithm


def signed_by(request, auth_token):
    """True when the request carries a valid signature made with `auth_token`."""
    signature = request.headers.get("X-Twilio-Signature", "")
    if not auth_token or not signature:
        return False
    validator = RequestValidator(auth_token)
    algorithm = get_signature_algorithm(request.headers.get(SIGNATURE_SETTINGS_HEADER))
    urls = {request.build_absolute_uri(), settings.SITE_URL + request.get_full_path()}
    return any(validator.validate(url, request.POST, signature, algorithm) for url in urls)
