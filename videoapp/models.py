"""Core data: profiles, videos and their media, comments, social actions, the behaviour log."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class Profile(models.Model):
    class AgeRange(models.TextChoices):
        UNDER_18 = "under_18", _("18岁以下")
        AGE_18_24 = "18_24", _("18–24岁")
        AGE_25_34 = "25_34", _("25–34岁")
        AGE_35_44 = "35_44", _("35–44岁")
        AGE_45_PLUS = "45_plus", _("45岁及以上")

    class Gender(models.TextChoices):
        FEMALE = "female", _("女")
        MALE = "male", _("男")
        OTHER = "other", _("其他")

    class Onboarding(models.TextChoices):
        PENDING = "pending", _("未完成")
        DONE = "done", _("已完成")
        SKIPPED = "skipped", _("已跳过")

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="profile")
    display_name = models.CharField(_("昵称"), max_length=64, blank=True)
    avatar = models.ImageField(_("头像"), upload_to="avatars/", blank=True)
    bio = models.CharField(_("简介"), max_length=280, blank=True)
    age_range = models.CharField(_("年龄段"), max_length=16, choices=AgeRange.choices, blank=True)
    gender = models.CharField(_("性别"), max_length=16, choices=Gender.choices, blank=True)
    onboarding_state = models.CharField(
        _("新手引导"), max_length=16, choices=Onboarding.choices, default=Onboarding.PENDING
    )
    external_id = models.CharField(max_length=64, blank=True, db_index=True, help_text="id in an imported data set")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("用户资料")
        verbose_name_plural = _("用户资料")

    def __str__(self) -> str:
        return self.display_name or self.user.get_username()

    @property
    def demographic_group(self) -> str:
        """``age_range:gender`` with ``*`` for what the viewer did not say; hot lists key on it."""
        return f"{self.age_range or '*'}:{self.gender or '*'}"


class VideoQuerySet(models.QuerySet):
    def published(self) -> VideoQuerySet:
        return self.filter(status=Video.Status.PUBLISHED)

    def public(self) -> VideoQuerySet:
        """Published and listed for everyone."""
        return self.published().filter(visibility=Video.Visibility.PUBLIC)

    def visible_to(self, user) -> VideoQuerySet:
        """What ``user`` may open: public and unlisted published videos, plus all of their own."""
        if user is not None and user.is_authenticated:
            if user.is_staff:
                return self.all()
            return self.filter(
                Q(status=Video.Status.PUBLISHED, visibility__in=[Video.Visibility.PUBLIC, Video.Visibility.UNLISTED])
                | Q(owner=user)
            )
        return self.published().filter(visibility__in=[Video.Visibility.PUBLIC, Video.Visibility.UNLISTED])


class Video(models.Model):
    class Status(models.TextChoices):
        PROCESSING = "processing", _("处理中")
        PUBLISHED = "published", _("已发布")
        FAILED = "failed", _("处理失败")

    class Visibility(models.TextChoices):
        PUBLIC = "public", _("公开")
        UNLISTED = "unlisted", _("不公开列出")
        PRIVATE = "private", _("私密")

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="videos")
    title = models.CharField(_("标题"), max_length=200)
    description = models.TextField(_("简介"), blank=True)
    visibility = models.CharField(
        _("可见范围"), max_length=16, choices=Visibility.choices, default=Visibility.PUBLIC
    )
    status = models.CharField(_("状态"), max_length=16, choices=Status.choices, default=Status.PROCESSING)
    failure_reason = models.CharField(_("失败原因"), max_length=500, blank=True)
    # Media: the uploaded original, the web-playable rendition (may be the original) and a poster.
    original = models.FileField(upload_to="videos/original/", blank=True, max_length=300)
    playable = models.FileField(upload_to="videos/playable/", blank=True, max_length=300)
    poster = models.ImageField(upload_to="videos/posters/", blank=True, max_length=300)
    original_name = models.CharField(max_length=255, blank=True)
    size_bytes = models.BigIntegerField(default=0)
    duration_seconds = models.FloatField(null=True, blank=True)
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    # A three-level Chinese category path, e.g. 美食 / 美食教程 / 家常菜.
    category = models.CharField(_("一级分类"), max_length=64, blank=True, db_index=True)
    subcategory = models.CharField(_("二级分类"), max_length=64, blank=True)
    subsubcategory = models.CharField(_("三级分类"), max_length=64, blank=True)
    cover_text = models.CharField(_("封面文字"), max_length=200, blank=True)
    external_id = models.CharField(max_length=64, blank=True, db_index=True, help_text="id in an imported data set")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)
    published_at = models.DateTimeField(null=True, blank=True, db_index=True)

    objects = VideoQuerySet.as_manager()

    class Meta:
        verbose_name = _("视频")
        verbose_name_plural = _("视频")
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["status", "visibility", "-published_at"])]

    def __str__(self) -> str:
        return self.title

    @property
    def has_media(self) -> bool:
        return bool(self.playable)


class Comment(models.Model):
    video = models.ForeignKey(Video, on_delete=models.CASCADE, related_name="comments")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="comments")
    # One level of replies: a reply's parent is always a top-level comment.
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.CASCADE, related_name="replies")
    text = models.TextField(_("评论"), max_length=2000)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("评论")
        verbose_name_plural = _("评论")
        ordering = ["created_at"]

    def __str__(self) -> str:
        return self.text[:40]


class _UserVideoMark(models.Model):
    """A per-user mark on a video that exists at most once (like, favourite, dislike)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    video = models.ForeignKey(Video, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        abstract = True


class Like(_UserVideoMark):
    video = models.ForeignKey(Video, on_delete=models.CASCADE, related_name="likes")

    class Meta:
        verbose_name = _("点赞")
        verbose_name_plural = _("点赞")
        constraints = [models.UniqueConstraint(fields=["user", "video"], name="uniq_like")]


class Favourite(_UserVideoMark):
    video = models.ForeignKey(Video, on_delete=models.CASCADE, related_name="favourites")

    class Meta:
        verbose_name = _("收藏")
        verbose_name_plural = _("收藏")
        constraints = [models.UniqueConstraint(fields=["user", "video"], name="uniq_favourite")]


class Dislike(_UserVideoMark):
    """"Not interested": the video never appears in this viewer's feed again."""

    video = models.ForeignKey(Video, on_delete=models.CASCADE, related_name="dislikes")

    class Meta:
        verbose_name = _("不感兴趣")
        verbose_name_plural = _("不感兴趣")
        constraints = [models.UniqueConstraint(fields=["user", "video"], name="uniq_dislike")]


class Follow(models.Model):
    follower = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="following")
    followee = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="followers")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("关注")
        verbose_name_plural = _("关注")
        constraints = [
            models.UniqueConstraint(fields=["follower", "followee"], name="uniq_follow"),
            models.CheckConstraint(condition=~Q(follower=models.F("followee")), name="no_self_follow"),
        ]


class Event(models.Model):
    """One behaviour event, append-only. Never updated or deleted by the application."""

    class Kind(models.TextChoices):
        IMPRESSION = "impression", _("曝光")
        VIEW = "view", _("观看")
        LIKE = "like", _("点赞")
        FAVOURITE = "favourite", _("收藏")
        COMMENT = "comment", _("评论")
        SHARE = "share", _("分享")
        FOLLOW = "follow", _("关注")
        DISLIKE = "dislike", _("不感兴趣")

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="events"
    )
    session_key = models.CharField(max_length=64, blank=True, help_text="anonymous viewer's session")
    video = models.ForeignKey(Video, null=True, blank=True, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    watch_seconds = models.FloatField(null=True, blank=True)
    watch_ratio = models.FloatField(null=True, blank=True)
    # page, recommendation channel, request id, artefact version...
    context = models.JSONField(default=dict, blank=True)
    event_id = models.UUIDField(default=uuid.uuid4, unique=True, help_text="client id: a resent event is kept once")
    created_at = models.DateTimeField(db_index=True)

    class Meta:
        verbose_name = _("行为事件")
        verbose_name_plural = _("行为事件")
        indexes = [
            models.Index(fields=["user", "created_at"]),
            models.Index(fields=["session_key", "created_at"]),
            models.Index(fields=["video", "kind", "created_at"]),
            models.Index(fields=["kind", "created_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.video_id} by {self.user_id or self.session_key}"
