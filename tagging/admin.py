"""Back office for tags (后台校正): every correction goes through tagging.services.corrections (audited)."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.template.response import TemplateResponse
from django.utils.translation import gettext_lazy as _

from tagging import extraction
from tagging.models import (
    CommentKeywords,
    IdfTable,
    KeywordEntry,
    LibraryVersion,
    Tag,
    TagCorrection,
    UserInterest,
    VideoTag,
    ViewerTagVote,
)
from tagging.services import corrections
from tagging.services.tags import tag_usage_refresh
from videoapp.admin import ReadOnlyAdmin


def _report_error(modeladmin: admin.ModelAdmin, request, error: ValidationError) -> None:
    modeladmin.message_user(request, "; ".join(error.messages), level=messages.ERROR)


class MergeForm(forms.Form):
    target = forms.ModelChoiceField(queryset=Tag.objects.none(), label=_("合并到"))

    def __init__(self, *args, tags: QuerySet[Tag], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["target"].queryset = tags


@admin.register(Tag)
class TagAdmin(admin.ModelAdmin):
    list_display = (
        "name", "category", "usage_count", "offered_in_onboarding", "display_order", "is_blocked", "merged_into",
    )
    list_editable = ("offered_in_onboarding", "display_order")
    list_filter = ("offered_in_onboarding", "is_blocked", ("merged_into", admin.EmptyFieldListFilter), "category")
    search_fields = ("name", "category")
    list_select_related = ("merged_into",)
    ordering = ("-usage_count", "name")
    readonly_fields = ("is_blocked", "merged_into", "usage_count", "created_at")
    actions = ("merge_tags", "block_tags", "approve_suggestions", "refresh_usage")

    def save_model(self, request, obj: Tag, form, change: bool) -> None:
        # A changed name is a rename correction (audited, and the old word becomes a synonym).
        new_name = extraction.normalize_tag(obj.name)
        if change and "name" in form.changed_data:
            old_name = Tag.objects.values_list("name", flat=True).get(pk=obj.pk)
            obj.name = old_name
            super().save_model(request, obj, form, change)
            try:
                corrections.tag_rename(tag=obj, name=new_name, actor=request.user)
            except ValidationError as error:
                _report_error(self, request, error)
            obj.refresh_from_db()
            return
        obj.name = new_name
        super().save_model(request, obj, form, change)

    @admin.action(description=_("合并所选标签…"))
    def merge_tags(self, request, queryset: QuerySet[Tag]):
        if queryset.count() < 2:
            self.message_user(request, _("请至少选择两个标签。"), level=messages.WARNING)
            return None
        form = MergeForm(request.POST if "apply" in request.POST else None, tags=queryset)
        if form.is_valid():
            target = form.cleaned_data["target"]
            try:
                correction = corrections.tag_merge(
                    sources=[t for t in queryset if t.pk != target.pk], target=target, actor=request.user
                )
            except ValidationError as error:
                _report_error(self, request, error)
                return None
            self.message_user(request, _("已合并，影响 %(n)s 行。") % {"n": correction.rows_changed})
            return None
        context = {
            **self.admin_site.each_context(request),
            "title": _("合并标签"),
            "form": form,
            "tags": queryset,
            "opts": self.model._meta,
            "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "tagging/admin_merge.html", context)

    @admin.action(description=_("屏蔽所选标签（从所有视频和兴趣中移除）"))
    def block_tags(self, request, queryset: QuerySet[Tag]) -> None:
        rows = 0
        for tag in queryset:
            rows += corrections.tag_block(tag=tag, actor=request.user).rows_changed
        self.message_user(request, _("已屏蔽，影响 %(n)s 行。") % {"n": rows})

    @admin.action(description=_("批准所选标签的待确认视频标签"))
    def approve_suggestions(self, request, queryset: QuerySet[Tag]) -> None:
        suggested = VideoTag.objects.filter(tag__in=queryset, state=VideoTag.State.SUGGESTED)
        ids = list(suggested.values_list("pk", flat=True))
        if not ids:
            self.message_user(request, _("没有待确认的视频标签。"), level=messages.WARNING)
            return
        correction = corrections.video_tags_set_state(
            video_tag_ids=ids, state=VideoTag.State.ACTIVE, actor=request.user
        )
        self.message_user(request, _("已批准 %(n)s 个视频标签。") % {"n": correction.rows_changed})

    @admin.action(description=_("重新统计使用次数"))
    def refresh_usage(self, request, queryset: QuerySet[Tag]) -> None:
        tag_usage_refresh(tag_ids=queryset.values_list("pk", flat=True))


@admin.register(KeywordEntry)
class KeywordEntryAdmin(admin.ModelAdmin):
    list_display = ("word", "kind", "canonical", "created_by", "created_at")
    list_filter = ("kind",)
    search_fields = ("word", "canonical")
    list_select_related = ("created_by",)
    readonly_fields = ("created_by", "created_at")

    def save_model(self, request, obj: KeywordEntry, form, change: bool) -> None:
        # Through the services: the library version moves (extractors reload) and the change is audited.
        try:
            if change:
                entry = KeywordEntry.objects.get(pk=obj.pk)
                corrections.keyword_correction_update(
                    entry=entry, word=obj.word, kind=obj.kind, canonical=obj.canonical, actor=request.user
                )
            else:
                correction = corrections.keyword_correction_add(
                    word=obj.word, kind=obj.kind, canonical=obj.canonical, actor=request.user
                )
                obj.pk = correction.after["id"]
        except ValidationError as error:
            _report_error(self, request, error)

    def delete_model(self, request, obj: KeywordEntry) -> None:
        corrections.keyword_correction_delete(entry=obj, actor=request.user)

    def delete_queryset(self, request, queryset: QuerySet[KeywordEntry]) -> None:
        for entry in queryset:
            corrections.keyword_correction_delete(entry=entry, actor=request.user)


@admin.register(VideoTag)
class VideoTagAdmin(admin.ModelAdmin):
    list_display = ("video", "tag", "source", "state", "score", "added_by", "updated_at")
    list_filter = ("state", "source")
    search_fields = ("tag__name", "video__title")
    list_select_related = ("video", "tag", "added_by")
    raw_id_fields = ("video", "tag", "added_by")
    actions = ("approve", "reject")

    def _set_state(self, request, queryset: QuerySet[VideoTag], state: str) -> None:
        try:
            correction = corrections.video_tags_set_state(
                video_tag_ids=queryset.values_list("pk", flat=True), state=state, actor=request.user
            )
        except ValidationError as error:
            _report_error(self, request, error)
            return
        self.message_user(request, _("已更新 %(n)s 个视频标签。") % {"n": correction.rows_changed})

    @admin.action(description=_("批准所选视频标签"))
    def approve(self, request, queryset: QuerySet[VideoTag]) -> None:
        self._set_state(request, queryset, VideoTag.State.ACTIVE)

    @admin.action(description=_("拒绝所选视频标签"))
    def reject(self, request, queryset: QuerySet[VideoTag]) -> None:
        self._set_state(request, queryset, VideoTag.State.REJECTED)


@admin.register(TagCorrection)
class TagCorrectionAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "actor", "action", "target", "rows_changed")
    list_filter = ("action",)
    search_fields = ("target",)
    list_select_related = ("actor",)
    date_hierarchy = "created_at"


@admin.register(UserInterest)
class UserInterestAdmin(admin.ModelAdmin):
    list_display = ("user", "tag", "source", "weight", "updated_at")
    list_filter = ("source",)
    search_fields = ("user__username", "tag__name")
    list_select_related = ("user", "tag")
    raw_id_fields = ("user", "tag")


@admin.register(ViewerTagVote)
class ViewerTagVoteAdmin(ReadOnlyAdmin):
    list_display = ("video", "tag", "user", "created_at")
    search_fields = ("tag__name", "user__username")
    list_select_related = ("video", "tag", "user")


@admin.register(IdfTable)
class IdfTableAdmin(ReadOnlyAdmin):
    list_display = ("id", "document_count", "created_at")
    exclude = ("idf",)


@admin.register(LibraryVersion)
class LibraryVersionAdmin(ReadOnlyAdmin):
    list_display = ("version", "updated_at")


@admin.register(CommentKeywords)
class CommentKeywordsAdmin(ReadOnlyAdmin):
    list_display = ("comment", "keywords", "interests_changed", "video_tags_changed", "created_at")
    list_select_related = ("comment",)
