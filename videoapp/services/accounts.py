"""Accounts and profiles: registration, API tokens, profile edits."""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib.auth import get_user_model, password_validation
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _
from PIL import Image, UnidentifiedImageError
from rest_framework.authtoken.models import Token

from videoapp.models import Profile, Video

AVATAR_MAX_BYTES = 5 * 1024 * 1024
AVATAR_FORMATS = {"JPEG": "jpg", "PNG": "png", "GIF": "gif", "WEBP": "webp"}
# Fields of the profile a user may edit through :func:`profile_update`.
PROFILE_EDITABLE_FIELDS = ("display_name", "bio", "age_range", "gender", "avatar")


def profile_get_or_create(*, user: AbstractBaseUser) -> Profile:
    """The user's profile; users made outside registration (createsuperuser, imports) get one on first use."""
    profile, _created = Profile.objects.get_or_create(user=user)
    return profile


@transaction.atomic
def user_register(*, username: str, password: str, email: str = "", display_name: str = ""):
    """Create a user with a pending-onboarding profile; Django's password validators apply."""
    User = get_user_model()
    username = User.normalize_username(username.strip())
    email = User.objects.normalize_email(email.strip()) if email else ""
    if not username:
        raise ValidationError({"username": [_("请填写用户名。")]})
    if User.objects.filter(username__iexact=username).exists():
        raise ValidationError({"username": [_("该用户名已被注册。")]})
    if email and User.objects.filter(email__iexact=email).exists():
        raise ValidationError({"email": [_("该邮箱已被注册。")]})
    user = User(username=username, email=email)
    try:
        password_validation.validate_password(password, user=user)
    except ValidationError as exc:
        raise ValidationError({"password": exc.messages})
    user.set_password(password)
    try:
        with transaction.atomic():
            user.save()
    except IntegrityError:  # a concurrent registration of the same name won the race
        raise ValidationError({"username": [_("该用户名已被注册。")]})
    Profile.objects.create(
        user=user, display_name=(display_name or "").strip()[:64], onboarding_state=Profile.Onboarding.PENDING
    )
    return user


def auth_token_get_or_create(*, user: AbstractBaseUser) -> Token:
    """The user's API token (one per user, created on first request)."""
    token, _created = Token.objects.get_or_create(user=user)
    return token


def auth_token_delete(*, user: AbstractBaseUser) -> None:
    from videoapp.apis.authentication import auth_tokens_forget

    auth_tokens_forget(user_id=user.pk)
    Token.objects.filter(user=user).delete()


def avatar_validate(*, file: UploadedFile) -> str:
    """Check that ``file`` is a real image within the size cap; return the extension of its real format."""
    if file.size is not None and file.size > AVATAR_MAX_BYTES:
        raise ValidationError({"avatar": [_("头像不能超过 5 MB。")]})
    try:
        file.seek(0)
        with Image.open(file) as image:
            image_format = image.format
            image.verify()
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError, SyntaxError):
        raise ValidationError({"avatar": [_("头像必须是有效的图片文件（JPEG、PNG、GIF 或 WebP）。")]})
    finally:
        file.seek(0)
    if image_format not in AVATAR_FORMATS:
        raise ValidationError({"avatar": [_("头像必须是有效的图片文件（JPEG、PNG、GIF 或 WebP）。")]})
    return AVATAR_FORMATS[image_format]


def _choice_validate(*, field: str, value: str, choices: list[str]) -> str:
    value = (value or "").strip()
    if value and value not in choices:
        raise ValidationError({field: [_("“%(value)s”不是有效的选项，可选：%(choices)s。") % {
            "value": value, "choices": "、".join(choices)}]})
    return value


def _owner_cards_invalidate_on_commit(*, user_id: int) -> None:
    """The uploader's name is on every card of their videos: the feed's cached cards go on commit."""
    from recommender.services.feed_queue import card_invalidate_on_commit

    card_invalidate_on_commit(video_ids=list(Video.objects.filter(owner_id=user_id).values_list("pk", flat=True)))


@transaction.atomic
def profile_update(*, profile: Profile, data: dict[str, Any]) -> Profile:
    """Apply the given editable fields; ``avatar=None`` removes the avatar.  Old avatar files are deleted."""
    unknown = set(data) - set(PROFILE_EDITABLE_FIELDS)
    if unknown:
        raise ValidationError({name: [_("该字段不可修改。")] for name in sorted(unknown)})
    changed: list[str] = []
    if "display_name" in data:
        display_name = (data["display_name"] or "").strip()
        if len(display_name) > 64:
            raise ValidationError({"display_name": [_("昵称不能超过 64 个字符。")]})
        profile.display_name = display_name
        changed.append("display_name")
        _owner_cards_invalidate_on_commit(user_id=profile.user_id)
    if "bio" in data:
        bio = (data["bio"] or "").strip()
        if len(bio) > 280:
            raise ValidationError({"bio": [_("简介不能超过 280 个字符。")]})
        profile.bio = bio
        changed.append("bio")
    if "age_range" in data:
        profile.age_range = _choice_validate(
            field="age_range", value=data["age_range"], choices=Profile.AgeRange.values
        )
        changed.append("age_range")
    if "gender" in data:
        profile.gender = _choice_validate(field="gender", value=data["gender"], choices=Profile.Gender.values)
        changed.append("gender")
    old_avatar_name = profile.avatar.name if profile.avatar else ""
    if "avatar" in data:
        upload = data["avatar"]
        if upload:
            extension = avatar_validate(file=upload)
            # A random name: the uploaded name is user input and must not decide the path.
            profile.avatar.save(f"{uuid.uuid4().hex}.{extension}", upload, save=False)
        else:
            profile.avatar = ""
        changed.append("avatar")
    if changed:
        profile.save(update_fields=changed)
    new_avatar_name = profile.avatar.name if profile.avatar else ""
    if "avatar" in data and old_avatar_name and old_avatar_name != new_avatar_name:
        storage = profile.avatar.storage
        transaction.on_commit(lambda: storage.delete(old_avatar_name))
    return profile
