"""The product's URLs plus two floors to compare with, loaded only by bench.ingest.settings, never
shipped:

- /bench/bare: a bare DRF endpoint that parses JSON and does one INSERT (the Event API's floor);
- /bench/ping/<key>: a plain Django view doing a heartbeat ping's UPDATE through the ORM and the
  whole middleware (no rate limit, no checks; bench/heartbeat compares with it).
"""

import json

from django.db import connection
from django.http import JsonResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from alerts.integrations.heartbeat import _deadline, _heartbeat_sources
from ilert import clock, secrets
from ilert.urls import urlpatterns as product_urlpatterns


class Bare(APIView):
    authentication_classes = []
    permission_classes = [AllowAny]

    def post(self, request):
        with connection.cursor() as cursor:
            cursor.execute("INSERT INTO bench_bare_event (body) VALUES (%s)", [json.dumps(request.data)])
        return Response({"ok": True}, status=202)


@csrf_exempt
def plain_ping(request, key):
    now = clock.now()
    _heartbeat_sources().filter(key_hash=secrets.lookup_hash(key), heartbeat_overdue=False).update(
        last_ping_at=now, next_expected_at=_deadline(now))
    return JsonResponse({"ok": True}, status=202)


urlpatterns = [path("bench/bare", Bare.as_view()), path("bench/ping/<str:key>", plain_ping), *product_urlpatterns]
