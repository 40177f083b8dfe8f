"""Helpers shared by the page views."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.core.paginator import Page, Paginator
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _

PAGE_SIZE = 20


def staff_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Anonymous visitors go to the login page; signed-in non-staff get a 403 with a clear message."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if not request.user.is_staff:
            raise PermissionDenied(_("只有管理员可以访问后台。"))
        return view(request, *args, **kwargs)

    return wrapper


def paginate(request: HttpRequest, items, *, per_page: int = PAGE_SIZE) -> Page:
    """A page of ``items`` from ``?page=`` (bad or too large numbers give the nearest valid page)."""
    return Paginator(items, per_page).get_page(request.GET.get("page"))


def safe_next(request: HttpRequest, default: str = "/") -> str:
    from django.utils.http import url_has_allowed_host_and_scheme

    candidate = request.POST.get("next") or request.GET.get("next") or ""
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return default
