"""Token authentication with the key -> user lookup cached in Redis, for hot read-only endpoints.

DRF's ``TokenAuthentication`` reads the token and its user from the database on every request; on
the feed that query was a large part of a steady-state answer.  Here the user's identity fields
are kept in Redis for ``AUTH_TOKEN_CACHE_SECONDS`` (300) under a hash of the key; logging out
(``auth_token_delete``) and deactivating or deleting the user in the admin drop the entry at once.
A user deactivated some other way keeps read access to these endpoints for at most that long.
Used only by read-only endpoints (the feed): the user object is built from the cached fields, not
loaded, so it must never be saved.
"""

from __future__ import annotations

import hashlib
import json
import logging

from django.conf import settings
from django.contrib.auth import get_user_model
from drf_spectacular.drainage import set_override
from rest_framework.authentication import TokenAuthentication

logger = logging.getLogger(__name__)

_FIELDS = ("id", "username", "is_active", "is_staff", "is_superuser")


def token_cache_key(key: str) -> str:
    """Where ``key`` is cached: the value is "<user id>|<user fields JSON>" (the feed's serve script
    in ``recommender.services.feed_queue`` reads the id straight from it)."""
    return "auth:tok:" + hashlib.sha256(key.encode()).hexdigest()


def _client():
    from django_redis import get_redis_connection

    return get_redis_connection("default")


def auth_tokens_forget(*, user_id: int) -> None:
    """Drop every token of the user from the cache (deactivated, deleted, logged out)."""
    from rest_framework.authtoken.models import Token

    for key in Token.objects.filter(user_id=user_id).values_list("key", flat=True):
        auth_token_forget(key=key)


def auth_token_forget(*, key: str) -> None:
    """Drop a token from the cache (on logout; the database row is deleted by the caller)."""
    if not settings.REDIS_URL:
        return
    try:
        _client().delete(token_cache_key(key))
    except Exception as exc:  # the entry expires on its own
        logger.warning("token cache: could not drop a token (%s)", exc.__class__.__name__)


def cached_token_user(key: str):
    """The active user of token ``key`` from the cache (built from the cached fields, not loaded:
    read-only use), or None when it is not cached (then authenticate the ordinary way)."""
    if not settings.REDIS_URL:
        return None
    try:
        raw = _client().get(token_cache_key(key))
    except Exception:
        return None
    if not raw:
        return None
    user = get_user_model()(**json.loads(raw.split(b"|", 1)[1]))
    user._state.adding, user._state.db = False, "default"
    return user


class CachedTokenAuthentication(TokenAuthentication):
    def authenticate_credentials(self, key):
        if not settings.REDIS_URL:
            return super().authenticate_credentials(key)
        user = cached_token_user(key)
        if user is not None:
            return user, key
        cache_key = token_cache_key(key)
        user, token = super().authenticate_credentials(key)
        try:
            _client().set(cache_key, f"{user.pk}|" + json.dumps({f: getattr(user, f) for f in _FIELDS}),
                          ex=int(getattr(settings, "AUTH_TOKEN_CACHE_SECONDS", 300)))
        except Exception:
            pass
        return user, token


# In the OpenAPI schema it is the same "tokenAuth" scheme as DRF's (same header, same tokens).
set_override(CachedTokenAuthentication, "suppress_collision_warning", True)
