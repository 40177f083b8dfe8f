"""Liveness (no checks, for load balancers) and readiness (database, cache, broker)."""

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

_Status = inline_serializer(
    "HealthStatus", fields={"status": serializers.CharField(), "checks": serializers.DictField(required=False)}
)


class LiveApi(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(responses={200: _Status}, tags=["health"])
    def get(self, request):
        return Response({"status": "ok"})


def _check_database() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return "ok"


def _check_cache() -> str:
    if settings.REDIS_URL:
        from django_redis import get_redis_connection

        get_redis_connection("default").ping()
    else:
        cache.set("health:ping", "1", 5)
    return "ok"


def _check_broker() -> str:
    if not settings.CELERY_BROKER_URL:
        return "eager"
    from videoapp.celery import app

    with app.connection_for_write(url=settings.CELERY_BROKER_URL) as conn:
        conn.ensure_connection(max_retries=1, timeout=1)
    return "ok"


class ReadyApi(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(responses={200: _Status, 503: _Status}, tags=["health"])
    def get(self, request):
        checks = {}
        for name, check in (("database", _check_database), ("cache", _check_cache), ("broker", _check_broker)):
            try:
                checks[name] = check()
            except Exception as exc:  # any failure of a dependency means "not ready"
                checks[name] = f"down: {exc.__class__.__name__}"
        ready = all(not value.startswith("down") for value in checks.values())
        return Response({"status": "ok" if ready else "unavailable", "checks": checks}, status=200 if ready else 503)
