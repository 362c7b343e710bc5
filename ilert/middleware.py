"""Request-level guards: bodies are read within MAX_REQUEST_BYTES (413 before anything parses them,
chunked bodies included), and a database that cannot be reached answers 503, never a 500."""

import logging
from io import BytesIO

from django.conf import settings
from django.core.handlers.wsgi import LimitedStream
from django.db import InterfaceError, OperationalError
from django.http import HttpResponse, JsonResponse

log = logging.getLogger(__name__)

# Routes whose clients are programs (the REST API, every intake): their errors are JSON.
JSON_PREFIXES = ("/api/", "/integrations/", "/anymail/")
RETRY_AFTER_SECONDS = 5


class BodySizeLimitMiddleware:
    """413 for a body over DATA_UPLOAD_MAX_MEMORY_SIZE (MAX_REQUEST_BYTES), before anything reads it.

    A chunked body (Transfer-Encoding: chunked, no Content-Length) is read here, up to one byte over
    the limit: the server (gunicorn) decodes the chunks and marks the input as terminated
    (`wsgi.input_terminated`), and Django reads only Content-Length bytes, so without this such a
    body reads as empty. A server that does not decode chunks (Django's runserver) gets 411."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        if _chunked(request):
            if not request.META.get("wsgi.input_terminated"):
                return JsonResponse({"code": "length_required", "message": "This server cannot read chunked "
                                     "request bodies: send a Content-Length."}, status=411)
            body = _read_at_most(request.META["wsgi.input"], limit + 1)
            if len(body) > limit:
                return _too_large(f"more than {limit}", limit)
            # From here on the request reads like one that came with a Content-Length.
            request.META["CONTENT_LENGTH"] = str(len(body))
            request._stream = LimitedStream(BytesIO(body), len(body))
            return self.get_response(request)
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return JsonResponse({"code": "invalid", "message": "Invalid Content-Length header."}, status=400)
        if length > limit:
            return _too_large(length, limit)
        return self.get_response(request)


def _chunked(request):
    encoding = request.META.get("HTTP_TRANSFER_ENCODING", "")
    return "chunked" in encoding.lower() and not request.META.get("CONTENT_LENGTH")


def _read_at_most(stream, size):
    parts, left = [], size
    while left > 0:
        part = stream.read(min(left, 64 * 1024))
        if not part:
            break
        parts.append(part)
        left -= len(part)
    return b"".join(parts)


def _too_large(length, limit):
    return JsonResponse({"code": "too_large", "message": f"Request body is {length} bytes; the limit is {limit}."},
                        status=413)


class DatabaseUnavailableMiddleware:
    """A database error that means "not reachable now" (OperationalError: connection refused, server
    restarting, deadlock, lock or statement timeout; InterfaceError: connection gone) answers 503 with
    Retry-After: JSON on the API and intake routes, so senders retry, and a plain page on the
    dashboard. Errors raised in other middleware reach the 500 handler, which answers the same
    (ilert.views.server_error)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if isinstance(exception, OperationalError | InterfaceError):
            return database_unavailable(request, exception)
        return None


def database_unavailable(request, exception):
    log.warning("database unavailable (%s: %s): %s %s answered 503", exception.__class__.__name__,
                str(exception).strip().splitlines()[0] if str(exception).strip() else "", request.method,
                request.path)
    if request.path.startswith(JSON_PREFIXES):
        response = JsonResponse({"code": "database_unavailable", "message": "The database is not reachable right "
                                 f"now; nothing was stored. Retry in {RETRY_AFTER_SECONDS} s."}, status=503)
    else:
        response = HttpResponse(UNAVAILABLE_PAGE, status=503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


# Plain HTML, no template: rendering the dashboard's templates needs the database.
UNAVAILABLE_PAGE = (
    '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Temporarily unavailable · ilert</title>'
    '</head><body style="font-family:sans-serif;padding:40px"><h1>Temporarily unavailable</h1>'
    "<p>The database is not reachable right now. Please try again in a few seconds.</p></body></html>"
)
