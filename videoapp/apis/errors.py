"""One error shape for the whole API: ``{"detail": "...", "errors": {field: [messages]}}``."""

from django.core.exceptions import SuspiciousOperation
from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import exceptions
from rest_framework.views import exception_handler as drf_exception_handler


def exception_handler(exc, context):
    # Services raise Django's ValidationError; the API turns it into a 400, never a 500.
    # Django's guards on request bodies (too many fields or files, too big) are the client's fault: a JSON 400.
    if isinstance(exc, SuspiciousOperation):
        exc = exceptions.ParseError(str(exc) or None)
    if isinstance(exc, DjangoValidationError):
        if hasattr(exc, "message_dict"):
            exc = exceptions.ValidationError(exc.message_dict)
        else:
            exc = exceptions.ValidationError({"detail": exc.messages})
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    data = response.data
    if isinstance(exc, exceptions.ValidationError):
        if isinstance(data, list):
            data = {"non_field_errors": data}
        first = next(iter(data.values()), [""]) if isinstance(data, dict) else data
        message = first[0] if isinstance(first, list) and first else str(first)
        response.data = {"detail": str(message), "errors": data}
    return response


def api_aware_not_found(request, exception):
    """404 for an unknown URL: the API's JSON error shape under /api/, Django's page elsewhere.

    A malformed id (``/api/v1/videos/abc/``) matches no route; an API client must still get JSON.
    """
    from django.http import JsonResponse
    from django.utils.translation import gettext
    from django.views.defaults import page_not_found

    if request.path.startswith("/api/"):
        return JsonResponse({"detail": gettext("未找到。")}, status=404)
    return page_not_found(request, exception)
