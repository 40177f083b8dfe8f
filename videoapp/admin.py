"""Back office for the core app: users with their profiles, videos, comments, marks, follows, the event log."""

from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from recommender.services.feed_queue import servable_refresh_on_commit
from videoapp.apis.authentication import auth_tokens_forget
from videoapp.models import Comment, Dislike, Event, Favourite, Follow, Like, Profile, Video
from videoapp.selectors.social import count_subquery

User = get_user_model()


class ProfileInline(admin.StackedInline):
    model = Profile
    can_delete = False
    fields = ("display_name", "avatar", "bio", "age_range", "gender", "onboarding_state", "external_id")
    readonly_fields = ("external_id",)


# The user admin shows the profile inline; "staff status" there is the admin role.
if admin.site.is_registered(User):
    admin.site.unregister(User)


class ReadOnlyAdmin(admin.ModelAdmin):
    """Browse and search only: no add, change or delete (logs and audit trails)."""

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    inlines = [ProfileInline]
    list_display = ("username", "display_name", "email", "is_staff", "is_active", "date_joined", "last_login")
    list_select_related = ("profile",)

    @admin.display(description=_("昵称"), ordering="profile__display_name")
    def display_name(self, user) -> str:
        profile = getattr(user, "profile", None)
        return profile.display_name if profile else ""

    def save_model(self, request, obj, form, change) -> None:
        super().save_model(request, obj, form, change)
        if not obj.is_active:  # the cached API token must stop working at once
            auth_tokens_forget(user_id=obj.pk)

    def delete_model(self, request, obj) -> None:
        auth_tokens_forget(user_id=obj.pk)
        super().delete_model(request, obj)


@admin.register(Profile)
class ProfileAdmin(admin.ModelAdmin):
    list_display = ("user", "display_name", "age_range", "gender", "onboarding_state", "external_id", "created_at")
    list_filter = ("onboarding_state", "age_range", "gender", "created_at")
    search_fields = ("user__username", "user__email", "display_name", "external_id")
    list_select_related = ("user",)
    raw_id_fields = ("user",)
    readonly_fields = ("created_at",)
    date_hierarchy = "created_at"


@admin.register(Video)
class VideoAdmin(admin.ModelAdmin):
    list_display = (
        "title", "owner", "status", "visibility", "category", "duration_seconds",
        "like_count", "favourite_count", "comment_count", "published_at", "created_at",
    )
    list_filter = ("status", "visibility", "category", "created_at", "published_at")
    search_fields = ("title", "description", "owner__username", "category", "subcategory", "external_id")
    list_select_related = ("owner",)
    raw_id_fields = ("owner",)
    date_hierarchy = "created_at"
    readonly_fields = (
        "size_bytes", "duration_seconds", "width", "height", "original_name", "external_id",
        "created_at", "updated_at", "published_at",
    )
    fieldsets = (
        (None, {"fields": ("owner", "title", "description", "visibility", "status", "failure_reason")}),
        (_("分类"), {"fields": ("category", "subcategory", "subsubcategory", "cover_text")}),
        (_("媒体"), {"fields": (
            "original", "playable", "poster", "original_name", "size_bytes", "duration_seconds", "width", "height",
        )}),
        (_("其他"), {"fields": ("external_id", "created_at", "updated_at", "published_at")}),
    )
    actions = ["make_private", "make_public"]

    def get_queryset(self, request) -> QuerySet[Video]:
        # Counts as subqueries: no query per row on the list page.
        return super().get_queryset(request).annotate(
            like_count=count_subquery(queryset=Like.objects.all()),
            favourite_count=count_subquery(queryset=Favourite.objects.all()),
            comment_count=count_subquery(queryset=Comment.objects.all()),
        )

    @admin.display(description=_("点赞数"), ordering="like_count")
    def like_count(self, video) -> int:
        return video.like_count

    @admin.display(description=_("收藏数"), ordering="favourite_count")
    def favourite_count(self, video) -> int:
        return video.favourite_count

    @admin.display(description=_("评论数"), ordering="comment_count")
    def comment_count(self, video) -> int:
        return video.comment_count

    def save_model(self, request, obj, form, change) -> None:
        super().save_model(request, obj, form, change)
        servable_refresh_on_commit(video_ids=[obj.pk])

    def delete_model(self, request, obj) -> None:
        video_id = obj.pk
        super().delete_model(request, obj)
        servable_refresh_on_commit(video_ids=[video_id])

    def delete_queryset(self, request, queryset) -> None:
        ids = list(queryset.values_list("pk", flat=True))
        super().delete_queryset(request, queryset)
        servable_refresh_on_commit(video_ids=ids)

    def _set_visibility(self, request, queryset, visibility: str) -> None:
        servable_refresh_on_commit(video_ids=list(queryset.values_list("pk", flat=True)))
        updated = queryset.update(visibility=visibility)
        message = ngettext("%(n)d 个视频已更新。", "%(n)d 个视频已更新。", updated) % {"n": updated}
        self.message_user(request, message, messages.SUCCESS)

    @admin.action(description=_("设为私密（下架）"), permissions=["change"])
    def make_private(self, request, queryset):
        self._set_visibility(request, queryset, Video.Visibility.PRIVATE)

    @admin.action(description=_("设为公开"), permissions=["change"])
    def make_public(self, request, queryset):
        self._set_visibility(request, queryset, Video.Visibility.PUBLIC)


@admin.register(Comment)
class CommentAdmin(admin.ModelAdmin):
    list_display = ("short_text", "author", "video", "is_reply", "created_at")
    list_filter = (("parent", admin.EmptyFieldListFilter), "created_at")
    search_fields = ("text", "author__username", "video__title")
    list_select_related = ("author", "video")
    raw_id_fields = ("video", "author", "parent")
    readonly_fields = ("created_at",)
    date_hierarchy = "created_at"

    @admin.display(description=_("评论"))
    def short_text(self, comment) -> str:
        return comment.text[:60]

    @admin.display(description=_("回复"), boolean=True)
    def is_reply(self, comment) -> bool:
        return comment.parent_id is not None


class _MarkAdmin(admin.ModelAdmin):
    list_display = ("user", "video", "created_at")
    list_filter = ("created_at",)
    search_fields = ("user__username", "video__title")
    list_select_related = ("user", "video")
    raw_id_fields = ("user", "video")
    readonly_fields = ("created_at",)
    date_hierarchy = "created_at"


admin.site.register(Like, _MarkAdmin)
admin.site.register(Favourite, _MarkAdmin)
admin.site.register(Dislike, _MarkAdmin)


@admin.register(Follow)
class FollowAdmin(admin.ModelAdmin):
    list_display = ("follower", "followee", "created_at")
    list_filter = ("created_at",)
    search_fields = ("follower__username", "followee__username")
    list_select_related = ("follower", "followee")
    raw_id_fields = ("follower", "followee")
    readonly_fields = ("created_at",)
    date_hierarchy = "created_at"


@admin.register(Event)
class EventAdmin(ReadOnlyAdmin):
    """The behaviour log is append-only: browse and search it, never add, edit or delete."""

    list_display = (
        "created_at", "kind", "user", "session_key", "video", "watch_seconds", "watch_ratio", "channel", "page",
    )
    list_filter = ("kind", "created_at")
    search_fields = ("user__username", "session_key", "video__title", "event_id")
    list_select_related = ("user", "video")
    date_hierarchy = "created_at"
    # The log has millions of rows: no exact COUNT(*) on every page.
    show_full_result_count = False
    list_per_page = 100

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in self.model._meta.fields]

    @admin.display(description=_("推荐通道"))
    def channel(self, event) -> str:
        return str((event.context or {}).get("channel", ""))

    @admin.display(description=_("页面"))
    def page(self, event) -> str:
        return str((event.context or {}).get("page", ""))
