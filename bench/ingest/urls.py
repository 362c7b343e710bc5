"""The product's URLs plus /bench/bare: a bare DRF endpoint that parses JSON and does one INSERT,
the floor to compare the Event API with. Loaded only by bench.ingest.settings, never shipped."""

import json

from django.db import connection
from django.urls import path
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from ilert.urls import urlpatterns as product_urlpatterns


class Bare(APIView):
    authentication_classes = []
    permission_classes = [AllowAny]

    def post(self, request):
        with connection.cursor() as cursor:
            cursor.execute("INSERT INTO bench_bare_event (body) VALUES (%s)", [json.dumps(request.data)])
        return Response({"ok": True}, status=202)


urlpatterns = [path("bench/bare", Bare.as_view()), *product_urlpatterns]
