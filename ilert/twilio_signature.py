"""Twilio webhook signatures (X-Twilio-Signature), checked with twilio's RequestValidator. Which
account token to check with is each app's business; how to check is here, once.

Twilio signs exactly the URL it called: that is request.build_absolute_uri() when the proxy
headers are right (TRUST_X_FORWARDED_PROTO behind TLS), and SITE_URL + path otherwise.

Every Twilio webhook view is wrapped in `webhook`: from there on request.POST holds the form
parameters without NUL (0x00) characters (PostgreSQL text cannot hold them, and even a lookup
with one fails, ilert/pgtext.py), while the signature is still checked over what Twilio sent."""

from functools import wraps

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpResponse, QueryDict
from twilio.request_validator import SIGNATURE_SETTINGS_HEADER, RequestValidator, get_signature_algorithm

from .pgtext import without_nul

_SIGNED = "twilio_signed_params"  # the request attribute holding the parameters as Twilio sent them


def webhook(view):
    """A Twilio webhook view: request.POST without NUL characters (see the module docstring); a
    body over DATA_UPLOAD_MAX_MEMORY_SIZE is 413."""

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        try:
            sent = request.POST
        except RequestDataTooBig:
            return HttpResponse("Request body too large.", status=413, content_type="text/plain")
        clean = QueryDict(mutable=True)
        for key, values in sent.lists():
            for value in values:
                clean.appendlist(without_nul(key), without_nul(value))
        clean._mutable = False
        setattr(request, _SIGNED, sent)
        request.POST = clean
        return view(request, *args, **kwargs)

    return wrapped


def signed_by(request, auth_token):
    """True when the request carries a valid signature made with `auth_token`."""
    signature = request.headers.get("X-Twilio-Signature", "")
    if not auth_token or not signature:
        return False
    validator = RequestValidator(auth_token)
    algorithm = get_signature_algorithm(request.headers.get(SIGNATURE_SETTINGS_HEADER))
    urls = {request.build_absolute_uri(), settings.SITE_URL + request.get_full_path()}
    params = getattr(request, _SIGNED, request.POST)
    return any(validator.validate(url, params, signature, algorithm) for url in urls)
