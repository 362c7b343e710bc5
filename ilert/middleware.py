"""Refuse oversized request bodies with 413 before anything reads them."""

from django.conf import settings
from django.http import JsonResponse


class BodySizeLimitMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return JsonResponse({"code": "invalid", "message": "Invalid Content-Length header."}, status=400)
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        if length > limit:
            return JsonResponse(
                {"code": "too_large", "message": f"Request body is {length} bytes; the limit is {limit}."},
                status=413,
            )
        return self.get_response(request)
