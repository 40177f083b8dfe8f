"""Rate limits on abuse-prone endpoints; a throttled request gets 429 with ``Retry-After``.

Rates come from ``REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]`` under the scopes ``login``, ``register``,
``comment`` and ``events``.  They are read on every request (DRF's own classes read them once at import),
so a settings override - in tests or at run time - takes effect at once.
"""

from __future__ import annotations

import hashlib

from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle


class ScopedThrottle(SimpleRateThrottle):
    """A fixed scope, its rate read from the current settings."""

    scope: str = ""

    def get_rate(self) -> str | None:
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)

    def _ident_key(self, request) -> str:
        if request.user and request.user.is_authenticated:
            return f"user:{request.user.pk}"
        return f"ip:{self.get_ident(request)}"

    def get_cache_key(self, request, view) -> str | None:
        return self.cache_format % {"scope": self.scope, "ident": self._ident_key(request)}


# The name other modules imported first.
_ScopedThrottle = ScopedThrottle


class LoginIpThrottle(ScopedThrottle):
    """Every login or token attempt from one address counts (slows one host trying many accounts)."""

    scope = "login"

    def get_cache_key(self, request, view) -> str | None:
        return self.cache_format % {"scope": self.scope, "ident": f"ip:{self.get_ident(request)}"}


class LoginFailureThrottle(ScopedThrottle):
    """Failed logins per username and address (slows guessing one account's password).

    Only failures count, so a user who types the password right is never held up by this one;
    the view calls :meth:`record_failure` after a wrong password.
    """

    scope = "login_failure"

    def get_rate(self) -> str | None:
        rates = api_settings.DEFAULT_THROTTLE_RATES
        return rates.get("login_failure") or rates.get("login")

    def get_cache_key(self, request, view) -> str | None:
        data = getattr(request, "data", None)
        # A JSON array or scalar body has no username (and must be a 400 from the view, not a crash here).
        username = str(data.get("username", "")).strip().lower() if hasattr(data, "get") else ""
        if not username:
            return None
        # Hashed: the cache key must not carry user input verbatim (length, characters).
        digest = hashlib.sha256(f"{username}\0{self.get_ident(request)}".encode()).hexdigest()[:32]
        return self.cache_format % {"scope": self.scope, "ident": digest}

    def allow_request(self, request, view) -> bool:
        if self.rate is None:
            return True
        self.key = self.get_cache_key(request, view)
        if self.key is None:
            return True
        self.history = self.cache.get(self.key, [])
        self.now = self.timer()
        while self.history and self.history[-1] <= self.now - self.duration:
            self.history.pop()
        # Check only; failures are recorded by the view.
        return len(self.history) < self.num_requests or self.throttle_failure()

    def record_failure(self, request, view) -> None:
        if self.rate is None:
            return
        key = self.get_cache_key(request, view)
        if key is None:
            return
        now = self.timer()
        history = [moment for moment in self.cache.get(key, []) if moment > now - self.duration]
        history.insert(0, now)
        self.cache.set(key, history, self.duration)


class RegisterThrottle(ScopedThrottle):
    scope = "register"

    def get_cache_key(self, request, view) -> str | None:
        return self.cache_format % {"scope": self.scope, "ident": f"ip:{self.get_ident(request)}"}


class CommentThrottle(ScopedThrottle):
    """Limits writing comments; reading them is free."""

    scope = "comment"

    def allow_request(self, request, view) -> bool:
        if request.method in ("GET", "HEAD", "OPTIONS"):
            return True
        return super().allow_request(request, view)


class EventsThrottle(ScopedThrottle):
    scope = "events"


class _PageRequest:
    """What the throttles read from a DRF request, for a plain Django form view."""

    def __init__(self, request) -> None:
        self.user = request.user
        self.META = request.META
        self.method = request.method
        self.data = request.POST


def page_throttle_wait(request, *, throttles) -> int | None:
    """The API's throttles for a form page: seconds to wait when one refuses ``request``, else None.

    The site's login and sign-up forms post to Django views, not to the API; without this they would
    be an unthrottled way around the API's limits.
    """
    shim = _PageRequest(request)
    for throttle_class in throttles:
        throttle = throttle_class()
        if not throttle.allow_request(shim, None):
            wait = throttle.wait()
            return max(1, int(wait)) if wait is not None else 1
    return None


def page_login_failed(request) -> None:
    """Count a wrong password typed into the login form (same counter as the API's)."""
    LoginFailureThrottle().record_failure(_PageRequest(request), None)
