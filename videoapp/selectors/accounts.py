"""Reads of users and profiles."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.http import Http404
from django.utils.translation import gettext as _

from videoapp.models import Follow, Video
from videoapp.selectors.social import count_subquery


def user_get_public(*, username: str, viewer: AbstractBaseUser | None = None):
    """An active user by username with ``video_count`` (public videos), ``follower_count``,
    ``following_count`` and ``viewer_follows`` (whether ``viewer`` follows them); 404 when unknown."""
    User = get_user_model()
    user = (
        User.objects.filter(username=username, is_active=True)
        .select_related("profile")
        .annotate(
            video_count=count_subquery(queryset=Video.objects.public(), outer_field="owner"),
            follower_count=count_subquery(queryset=Follow.objects.all(), outer_field="followee"),
            following_count=count_subquery(queryset=Follow.objects.all(), outer_field="follower"),
        )
        .first()
    )
    if user is None:
        raise Http404(_("用户不存在。"))
    user.viewer_follows = bool(
        viewer is not None
        and viewer.is_authenticated
        and Follow.objects.filter(follower=viewer, followee=user).exists()
    )
    return user


def user_get_by_username(*, username: str):
    user = get_user_model().objects.filter(username=username, is_active=True).first()
    if user is None:
        raise Http404(_("用户不存在。"))
    return user
