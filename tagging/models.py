"""Keyword library, personal tag library, video tags, user interests and the correction audit."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class TagQuerySet(models.QuerySet):
    def usable(self) -> TagQuerySet:
        return self.filter(is_blocked=False, merged_into__isnull=True)

    def onboarding(self) -> TagQuerySet:
        return self.usable().filter(offered_in_onboarding=True).order_by("category", "display_order", "name")


class Tag(models.Model):
    """A canonical tag of the personal tag library (个性化标签库)."""

    name = models.CharField(_("标签"), max_length=64, unique=True, help_text="normalised form")
    category = models.CharField(_("分类"), max_length=64, blank=True, db_index=True)
    offered_in_onboarding = models.BooleanField(_("新手引导可选"), default=False)
    display_order = models.IntegerField(_("显示顺序"), default=0)
    is_blocked = models.BooleanField(_("已屏蔽"), default=False)
    merged_into = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="merged_from"
    )
    usage_count = models.PositiveIntegerField(default=0, help_text="active video tags, refreshed by services")
    created_at = models.DateTimeField(auto_now_add=True)

    objects = TagQuerySet.as_manager()

    class Meta:
        verbose_name = _("标签")
        verbose_name_plural = _("标签库")
        ordering = ["display_order", "name"]

    def __str__(self) -> str:
        return self.name


class KeywordEntry(models.Model):
    """One entry of the keyword library (关键词库) that drives jieba extraction."""

    class Kind(models.TextChoices):
        USER_WORD = "user_word", _("用户词典")
        STOP_WORD = "stop_word", _("停用词")
        SYNONYM = "synonym", _("同义词")
        BLOCKED = "blocked", _("屏蔽词")

    word = models.CharField(_("词"), max_length=64)
    kind = models.CharField(_("类型"), max_length=16, choices=Kind.choices)
    canonical = models.CharField(_("规范词"), max_length=64, blank=True, help_text="for synonyms")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("关键词")
        verbose_name_plural = _("关键词库")
        constraints = [models.UniqueConstraint(fields=["word", "kind"], name="uniq_keyword_kind")]

    def __str__(self) -> str:
        return f"{self.word} ({self.kind})"


class LibraryVersion(models.Model):
    """Bumped on every keyword-library change; extractors reload when it moves."""

    version = models.PositiveIntegerField(default=1)
    updated_at = models.DateTimeField(auto_now=True)


class IdfTable(models.Model):
    """IDF learnt from the site's own titles and descriptions; the newest row is used."""

    document_count = models.PositiveIntegerField()
    idf = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)


class VideoTag(models.Model):
    class Source(models.TextChoices):
        EXTRACTED = "extracted", _("自动提取")
        UPLOADER = "uploader", _("上传者")
        VIEWER = "viewer", _("观众")
        ADMIN = "admin", _("管理员")

    class State(models.TextChoices):
        SUGGESTED = "suggested", _("待确认")
        ACTIVE = "active", _("生效")
        REJECTED = "rejected", _("已拒绝")

    video = models.ForeignKey("videoapp.Video", on_delete=models.CASCADE, related_name="video_tags")
    tag = models.ForeignKey(Tag, on_delete=models.CASCADE, related_name="video_tags")
    source = models.CharField(max_length=16, choices=Source.choices)
    score = models.FloatField(default=1.0)
    state = models.CharField(max_length=16, choices=State.choices, default=State.SUGGESTED)
    added_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("视频标签")
        verbose_name_plural = _("视频标签")
        constraints = [models.UniqueConstraint(fields=["video", "tag"], name="uniq_video_tag")]
        indexes = [models.Index(fields=["tag", "state"]), models.Index(fields=["state", "source"])]

    def __str__(self) -> str:
        return f"{self.video_id}:{self.tag_id}"


class ViewerTagVote(models.Model):
    """A viewer proposing a tag for a video; N distinct viewers activate it."""

    video = models.ForeignKey("videoapp.Video", on_delete=models.CASCADE, related_name="+")
    tag = models.ForeignKey(Tag, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["video", "tag", "user"], name="uniq_viewer_tag_vote")]


class UserInterest(models.Model):
    class Source(models.TextChoices):
        ONBOARDING = "onboarding", _("新手引导")
        BEHAVIOUR = "behaviour", _("行为")
        COMMENT = "comment", _("评论")
        MANUAL = "manual", _("手动")

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="interests")
    tag = models.ForeignKey(Tag, on_delete=models.CASCADE, related_name="interests")
    weight = models.FloatField(default=1.0)
    source = models.CharField(max_length=16, choices=Source.choices)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("用户兴趣")
        verbose_name_plural = _("用户兴趣")
        constraints = [models.UniqueConstraint(fields=["user", "tag", "source"], name="uniq_user_interest")]

    def __str__(self) -> str:
        return f"{self.user_id}:{self.tag_id}={self.weight:.2f}"


class TagCorrection(models.Model):
    """Audit record of one staff correction (后台校正)."""

    class Action(models.TextChoices):
        RENAME = "rename", _("重命名")
        MERGE = "merge", _("合并")
        BLOCK = "block", _("屏蔽")
        APPROVE = "approve", _("批准")
        REJECT = "reject", _("拒绝")
        ADD = "add", _("添加")
        REMOVE = "remove", _("移除")
        KEYWORD = "keyword", _("关键词库")
        REEXTRACT = "reextract", _("重新提取")

    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL)
    action = models.CharField(max_length=16, choices=Action.choices)
    target = models.CharField(max_length=200, help_text="what was corrected")
    before = models.JSONField(default=dict, blank=True)
    after = models.JSONField(default=dict, blank=True)
    rows_changed = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("标签校正记录")
        verbose_name_plural = _("标签校正记录")
        ordering = ["-created_at"]


class CommentKeywords(models.Model):
    """The keywords a comment contributed, written once: makes ``comment_keywords_apply`` idempotent."""

    comment = models.OneToOneField("videoapp.Comment", on_delete=models.CASCADE, related_name="+")
    keywords = models.JSONField(default=list, blank=True, help_text="[[keyword, score], ...]")
    interests_changed = models.PositiveIntegerField(default=0)
    video_tags_changed = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("评论关键词")
        verbose_name_plural = _("评论关键词")
