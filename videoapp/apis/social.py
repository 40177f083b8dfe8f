"""API: comments, likes, favourites, "not interested", follows, and my favourites."""

from __future__ import annotations

from django.urls import path
from drf_spectacular.utils import extend_schema, extend_schema_serializer, inline_serializer
from rest_framework import serializers, status
from rest_framework.permissions import IsAuthenticated, IsAuthenticatedOrReadOnly
from rest_framework.response import Response
from rest_framework.views import APIView

from videoapp.apis.accounts import avatar_url, error_responses, user_profile_or_none
from videoapp.models import Comment
from videoapp.pagination import StandardPagination
from videoapp.selectors.accounts import user_get_by_username, user_get_public
from videoapp.selectors.social import (
    comment_get,
    comment_list,
    favourite_video_list,
    video_get_visible,
    video_social_state,
)
from videoapp.services import social as social_services
from videoapp.services.social import COMMENT_MAX_LENGTH, comment_can_delete
from videoapp.throttling import CommentThrottle


def session_key_of(request) -> str:
    session = getattr(request._request, "session", None)
    return (session.session_key or "") if session is not None else ""


class UserBriefSerializer(serializers.Serializer):
    username = serializers.CharField()
    display_name = serializers.SerializerMethodField()
    avatar = serializers.SerializerMethodField()

    def get_display_name(self, user) -> str:
        profile = user_profile_or_none(user)
        return (profile.display_name if profile else "") or user.username

    def get_avatar(self, user) -> str | None:
        return avatar_url(user_profile_or_none(user))


@extend_schema_serializer(component_name="VideoListItem")
class VideoCardSerializer(serializers.Serializer):
    """A video on a list page; the counts come annotated by the selector (no per-row query)."""

    id = serializers.IntegerField()
    title = serializers.CharField()
    owner = UserBriefSerializer()
    poster = serializers.SerializerMethodField()
    duration_seconds = serializers.FloatField(allow_null=True)
    category = serializers.CharField()
    visibility = serializers.CharField()
    status = serializers.CharField()
    has_media = serializers.BooleanField()
    published_at = serializers.DateTimeField(allow_null=True)
    like_count = serializers.IntegerField()
    favourite_count = serializers.IntegerField()
    comment_count = serializers.IntegerField()

    def get_poster(self, video) -> str:
        from videoapp.apis.videos import video_poster_url

        return video_poster_url(video)


class SocialStateSerializer(serializers.Serializer):
    like_count = serializers.IntegerField()
    favourite_count = serializers.IntegerField()
    comment_count = serializers.IntegerField()
    liked = serializers.BooleanField()
    favourited = serializers.BooleanField()
    disliked = serializers.BooleanField()
    following_owner = serializers.BooleanField()


class _CommentBaseSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    author = UserBriefSerializer()
    text = serializers.CharField()
    parent = serializers.IntegerField(source="parent_id", allow_null=True)
    created_at = serializers.DateTimeField()
    can_delete = serializers.SerializerMethodField()

    def get_can_delete(self, comment: Comment) -> bool:
        # The video owner comes from the context: no query per comment.
        return comment_can_delete(
            comment=comment, user=self.context.get("user"), video_owner_id=self.context.get("video_owner_id")
        )


class CommentReplySerializer(_CommentBaseSerializer):
    pass


class CommentSerializer(_CommentBaseSerializer):
    replies = CommentReplySerializer(many=True, read_only=True)
    reply_count = serializers.IntegerField(required=False)


class CommentListCreateApi(APIView):
    permission_classes = [IsAuthenticatedOrReadOnly]
    throttle_classes = [CommentThrottle]

    @extend_schema_serializer(component_name="CommentCreateInput")
    class InputSerializer(serializers.Serializer):
        text = serializers.CharField(max_length=COMMENT_MAX_LENGTH)
        parent = serializers.IntegerField(required=False, allow_null=True, help_text="comment id to reply to")

    @extend_schema(
        tags=["social"],
        summary="A video's comments, newest first, each with its replies",
        responses={200: CommentSerializer(many=True), **error_responses(404)},
    )
    def get(self, request, video_id: int):
        video = video_get_visible(video_id=video_id, user=request.user)
        paginator = StandardPagination()
        page = paginator.paginate_queryset(comment_list(video=video), request, view=self)
        context = {"user": request.user, "video_owner_id": video.owner_id}
        return paginator.get_paginated_response(CommentSerializer(page, many=True, context=context).data)

    @extend_schema(
        tags=["social"],
        summary="Comment (1-2000 characters); with parent, reply (a reply to a reply joins its top-level thread)",
        request=InputSerializer,
        responses={201: CommentSerializer, **error_responses(400, 403, 404, 429)},
    )
    def post(self, request, video_id: int):
        video = video_get_visible(video_id=video_id, user=request.user)
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        parent_id = serializer.validated_data.get("parent")
        parent = comment_get(comment_id=parent_id, video=video) if parent_id else None
        comment = social_services.comment_create(
            video=video, author=request.user, text=serializer.validated_data["text"], parent=parent,
            session_key=session_key_of(request),
        )
        context = {"user": request.user, "video_owner_id": video.owner_id}
        return Response(CommentSerializer(comment, context=context).data, status=status.HTTP_201_CREATED)


class CommentDeleteApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        tags=["social"],
        summary="Delete a comment (its author, the video owner or staff) with its replies",
        responses={204: None, **error_responses(403, 404)},
    )
    def delete(self, request, comment_id: int):
        social_services.comment_delete(comment=comment_get(comment_id=comment_id), actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class VideoSocialStateApi(APIView):
    permission_classes = [IsAuthenticatedOrReadOnly]

    @extend_schema(
        tags=["social"],
        summary="A video's like/favourite/comment counts and my marks on it",
        responses={200: SocialStateSerializer, **error_responses(404)},
    )
    def get(self, request, video_id: int):
        video = video_get_visible(video_id=video_id, user=request.user)
        return Response(SocialStateSerializer(video_social_state(video=video, user=request.user)).data)


def _mark_api(*, name: str, create, delete, summary: str) -> type[APIView]:
    """One PUT (set) / DELETE (unset) endpoint for a per-user mark; both idempotent, both answer the state."""

    class MarkApi(APIView):
        permission_classes = [IsAuthenticated]

        @extend_schema(
            tags=["social"], summary=f"{summary} (idempotent)", request=None,
            responses={200: SocialStateSerializer, **error_responses(403, 404)},
        )
        def put(self, request, video_id: int):
            video = video_get_visible(video_id=video_id, user=request.user)
            create(user=request.user, video=video, session_key=session_key_of(request))
            return Response(SocialStateSerializer(video_social_state(video=video, user=request.user)).data)

        @extend_schema(
            tags=["social"], summary=f"Undo: {summary} (idempotent)",
            responses={200: SocialStateSerializer, **error_responses(403, 404)},
        )
        def delete(self, request, video_id: int):
            video = video_get_visible(video_id=video_id, user=request.user)
            delete(user=request.user, video=video)
            return Response(SocialStateSerializer(video_social_state(video=video, user=request.user)).data)

    MarkApi.__name__ = MarkApi.__qualname__ = f"{name}Api"
    return MarkApi


LikeApi = _mark_api(
    name="Like", create=social_services.like_create, delete=social_services.like_delete, summary="Like a video"
)
FavouriteApi = _mark_api(
    name="Favourite", create=social_services.favourite_create, delete=social_services.favourite_delete,
    summary="Favourite a video",
)
DislikeApi = _mark_api(
    name="Dislike", create=social_services.dislike_create, delete=social_services.dislike_delete,
    summary="Mark a video 'not interested' (removes my like; the feed no longer shows it)",
)


class FollowApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema_serializer(component_name="FollowInput")
    class InputSerializer(serializers.Serializer):
        video = serializers.IntegerField(required=False, allow_null=True, help_text="the video followed from")

    @extend_schema_serializer(component_name="FollowState")
    class OutputSerializer(serializers.Serializer):
        following = serializers.BooleanField(source="viewer_follows")
        follower_count = serializers.IntegerField()

    @extend_schema(
        tags=["social"], summary="Follow an uploader (idempotent; not yourself)", request=InputSerializer,
        responses={200: OutputSerializer, **error_responses(400, 403, 404)},
    )
    def put(self, request, username: str):
        followee = user_get_by_username(username=username)
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        video_id = serializer.validated_data.get("video")
        video = video_get_visible(video_id=video_id, user=request.user) if video_id else None
        social_services.follow_create(
            follower=request.user, followee=followee, video=video, session_key=session_key_of(request)
        )
        return Response(self.OutputSerializer(user_get_public(username=username, viewer=request.user)).data)

    @extend_schema(
        tags=["social"], summary="Unfollow an uploader (idempotent)",
        responses={200: OutputSerializer, **error_responses(403, 404)},
    )
    def delete(self, request, username: str):
        followee = user_get_by_username(username=username)
        social_services.follow_delete(follower=request.user, followee=followee)
        return Response(self.OutputSerializer(user_get_public(username=username, viewer=request.user)).data)


class MyFavouritesApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        tags=["me"], summary="My favourite videos, most recently favourited first",
        responses={200: inline_serializer("PaginatedFavouriteList", fields={
            "count": serializers.IntegerField(), "next": serializers.URLField(allow_null=True),
            "previous": serializers.URLField(allow_null=True), "results": VideoCardSerializer(many=True),
        }), **error_responses(403)},
    )
    def get(self, request):
        paginator = StandardPagination()
        page = paginator.paginate_queryset(favourite_video_list(user=request.user), request, view=self)
        return paginator.get_paginated_response(VideoCardSerializer(page, many=True).data)


urlpatterns = [
    path("videos/<int:video_id>/comments", CommentListCreateApi.as_view(), name="video-comments"),
    path("comments/<int:comment_id>", CommentDeleteApi.as_view(), name="comment-detail"),
    path("videos/<int:video_id>/social", VideoSocialStateApi.as_view(), name="video-social"),
    path("videos/<int:video_id>/like", LikeApi.as_view(), name="video-like"),
    path("videos/<int:video_id>/favourite", FavouriteApi.as_view(), name="video-favourite"),
    path("videos/<int:video_id>/dislike", DislikeApi.as_view(), name="video-dislike"),
    path("users/<str:username>/follow", FollowApi.as_view(), name="user-follow"),
    path("me/favourites", MyFavouritesApi.as_view(), name="me-favourites"),
]
