"""Content-Security-Policy on every HTML response.

Pages load scripts only from this origin; the few inline ``<script>`` blocks carry a per-request
nonce (``{{ request.csp_nonce }}`` in templates), so an injected ``<script>`` or event-handler
attribute never runs even if escaping were ever missed.  Inline styles stay allowed: a style cannot
run code, and several templates use style attributes.  A view that sets its own policy (the SVG
poster, which is stricter) keeps it.
"""

from __future__ import annotations

import secrets


def csp_policy(*, nonce: str) -> str:
    # Swagger UI at /api/docs/ needs nothing more: its assets come from drf-spectacular-sidecar and its
    # bootstrap script is a separate same-origin file (SpectacularSwaggerSplitView).
    return "; ".join([
        "default-src 'self'",
        f"script-src 'self' 'nonce-{nonce}'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data: blob:",
        "media-src 'self' blob:",
        "connect-src 'self'",
        "font-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ])


class ContentSecurityPolicyMiddleware:
    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request):
        request.csp_nonce = secrets.token_urlsafe(16)
        response = self.get_response(request)
        if "Content-Security-Policy" not in response:
            response["Content-Security-Policy"] = csp_policy(nonce=request.csp_nonce)
        return response


class DatabaseUnavailableMiddleware:
    """While the database is unreachable (restart, failover), answer 503 with Retry-After, not a 500 page.

    Django reconnects on the next request (``CONN_HEALTH_CHECKS``), so the site recovers by itself.
    """

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        import logging

        from django.db import InterfaceError, OperationalError
        from django.http import HttpResponse, JsonResponse
        from django.utils.translation import gettext

        if not isinstance(exception, OperationalError | InterfaceError):
            return None
        logging.getLogger("videoapp.database").error("database unavailable: %s", exception)
        message = gettext("服务暂时不可用，请稍后再试。")
        if request.path.startswith("/api/"):
            response = JsonResponse({"detail": message}, status=503)
        else:
            response = HttpResponse(message, status=503, content_type="text/plain; charset=utf-8")
        response["Retry-After"] = "5"
        return response


class NulByteMiddleware:
    """Requests carrying NUL bytes in the query string or cookies.

    PostgreSQL text cannot hold NUL, so such a value reaching a query (a filter, a session key) would
    end in a database error.  A cookie with NUL cannot be one the site set: it is dropped, as if the
    client had sent none.  A query parameter with NUL is the client's mistake: 400 with a message.
    """

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request):
        for name in [name for name, value in request.COOKIES.items() if "\x00" in name or "\x00" in value]:
            del request.COOKIES[name]
        if "\x00" in request.META.get("QUERY_STRING", "") or any(
            "\x00" in key or any("\x00" in value for value in values) for key, values in request.GET.lists()
        ):
            from django.http import JsonResponse
            from django.utils.translation import gettext as _

            return JsonResponse({"detail": _("请求参数里不能有 NUL 字符。")}, status=400)
        return self.get_response(request)
