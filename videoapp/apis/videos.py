"""API: videos - list and upload, detail/edit/delete, playback with Range, poster."""

from __future__ import annotations

from django.http import HttpResponse
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound, PermissionDenied
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.permissions import AllowAny, IsAuthenticatedOrReadOnly
from rest_framework.response import Response
from rest_framework.views import APIView

from videoapp.apis.accounts import error_responses
from videoapp.apis.social import UserBriefSerializer
from videoapp.models import Video
from videoapp.pagination import StandardPagination
from videoapp.selectors import videos as video_selectors
from videoapp.services import videos as video_services
from videoapp.streaming import ranged_file_response
from videoapp.throttling import _ScopedThrottle
from videoapp.upload import install_upload_handlers

TITLE_MAX_LENGTH = 200
DESCRIPTION_MAX_LENGTH = 5000


def video_stream_url(video: Video) -> str | None:
    """Where a player fetches the video (permission-checked, Range-capable); None without media."""
    return reverse("api-video-stream", args=[video.pk]) if video.playable else None


def video_poster_url(video: Video) -> str:
    """The poster: the JPEG frame, or a generated picture for videos without media."""
    return reverse("api-video-poster", args=[video.pk])


class UploadThrottle(_ScopedThrottle):
    scope = "upload"

    def allow_request(self, request, view) -> bool:
        if request.method != "POST":
            return True
        return super().allow_request(request, view)


class VideoOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    title = serializers.CharField()
    description = serializers.CharField()
    owner = UserBriefSerializer()
    visibility = serializers.CharField()
    status = serializers.CharField()
    failure_reason = serializers.SerializerMethodField()
    category = serializers.CharField()
    subcategory = serializers.CharField()
    subsubcategory = serializers.CharField()
    cover_text = serializers.CharField()
    duration_seconds = serializers.FloatField(allow_null=True)
    width = serializers.IntegerField(allow_null=True)
    height = serializers.IntegerField(allow_null=True)
    has_media = serializers.BooleanField()
    stream_url = serializers.SerializerMethodField()
    poster_url = serializers.SerializerMethodField()
    like_count = serializers.IntegerField()
    favourite_count = serializers.IntegerField()
    comment_count = serializers.IntegerField()
    view_count = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    published_at = serializers.DateTimeField(allow_null=True)
    can_edit = serializers.SerializerMethodField()

    def _can_edit(self, video) -> bool:
        request = self.context.get("request")
        return video_services.video_can_edit(video=video, user=request.user if request else None)

    def get_failure_reason(self, video) -> str:
        # Only the owner (and staff) learn why processing failed.
        return video.failure_reason if self._can_edit(video) else ""

    def get_stream_url(self, video) -> str | None:
        return video_stream_url(video) if video.status == Video.Status.PUBLISHED else None

    def get_poster_url(self, video) -> str:
        return video_poster_url(video)

    def get_can_edit(self, video) -> bool:
        return self._can_edit(video)


class VideoPageSerializer(serializers.Serializer):
    count = serializers.IntegerField()
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = VideoOutputSerializer(many=True)


_PAGE_PARAMETERS = [
    OpenApiParameter("page", OpenApiTypes.INT, OpenApiParameter.QUERY, description="page number, from 1"),
    OpenApiParameter("size", OpenApiTypes.INT, OpenApiParameter.QUERY, description="page size (at most 100)"),
]

_visibility_field = serializers.ChoiceField(
    choices=Video.Visibility.choices,
    error_messages={"invalid_choice": gettext_lazy("无效的可见范围，可选：public、unlisted、private。")},
)


class VideoListCreateApi(APIView):
    """GET: published public videos, paginated, with filters. POST: upload a video (multipart)."""

    permission_classes = [IsAuthenticatedOrReadOnly]
    parser_classes = [MultiPartParser, FormParser]
    throttle_classes = [UploadThrottle]

    class FilterSerializer(serializers.Serializer):
        owner = serializers.IntegerField(required=False, min_value=1, help_text="uploader's user id")
        category = serializers.CharField(required=False, max_length=64, help_text="category at any of the 3 levels")
        q = serializers.CharField(required=False, max_length=100, help_text="words in title or description")
        ordering = serializers.ChoiceField(choices=video_selectors.ORDERINGS, required=False, default="newest")
        mine = serializers.BooleanField(required=False, default=False, help_text="all my videos, any state")

    class InputSerializer(serializers.Serializer):
        file = serializers.FileField(allow_empty_file=True, max_length=10_000, use_url=False)
        title = serializers.CharField(required=False, allow_blank=True, max_length=TITLE_MAX_LENGTH)
        description = serializers.CharField(required=False, allow_blank=True, max_length=DESCRIPTION_MAX_LENGTH)
        visibility = serializers.ChoiceField(
            choices=Video.Visibility.choices, required=False, default=Video.Visibility.PUBLIC,
            error_messages=_visibility_field.error_messages,
        )

    def initialize_request(self, request, *args, **kwargs):
        # Before authentication: the CSRF check of session auth already reads the multipart body.
        if request.method == "POST":
            install_upload_handlers(request)
        return super().initialize_request(request, *args, **kwargs)

    @extend_schema(
        operation_id="v1_videos_list",
        parameters=[FilterSerializer, *_PAGE_PARAMETERS],
        responses={200: VideoPageSerializer, **error_responses(400, 403)},
        tags=["videos"],
    )
    def get(self, request):
        filters = self.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        data = filters.validated_data
        if data.get("mine") and not request.user.is_authenticated:
            raise PermissionDenied(_("请先登录。"))
        queryset = video_selectors.video_list(
            user=request.user,
            owner_id=data.get("owner"),
            category=data.get("category", ""),
            q=data.get("q", ""),
            ordering=data["ordering"],
            mine=data["mine"],
        )
        paginator = StandardPagination()
        page = paginator.paginate_queryset(queryset, request, view=self)
        return paginator.get_paginated_response(
            VideoOutputSerializer(page, many=True, context={"request": request}).data
        )

    @extend_schema(
        request={"multipart/form-data": InputSerializer},
        responses={
            201: VideoOutputSerializer,
            **error_responses(400, 403, 429),
            413: OpenApiResponse(description=str(gettext_lazy("文件超过上传上限"))),
        },
        tags=["videos"],
    )
    def post(self, request):
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        video = video_services.video_create(
            owner=request.user,
            file=data["file"],
            title=data.get("title", ""),
            description=data.get("description", ""),
            visibility=data["visibility"],
        )
        video = video_selectors.video_get_for_viewer(video_id=video.pk, user=request.user)
        return Response(
            VideoOutputSerializer(video, context={"request": request}).data, status=status.HTTP_201_CREATED
        )


class VideoDetailApi(APIView):
    """GET one video; PATCH title/description/visibility and DELETE (owner or staff)."""

    permission_classes = [IsAuthenticatedOrReadOnly]
    parser_classes = [JSONParser, FormParser, MultiPartParser]

    class UpdateSerializer(serializers.Serializer):
        title = serializers.CharField(required=False, max_length=TITLE_MAX_LENGTH)
        description = serializers.CharField(required=False, allow_blank=True, max_length=DESCRIPTION_MAX_LENGTH)
        visibility = serializers.ChoiceField(
            choices=Video.Visibility.choices, required=False, error_messages=_visibility_field.error_messages
        )

    def _editable(self, request, video_id: int) -> Video:
        video = video_selectors.video_get_editable(video_id=video_id, user=request.user)
        if not video_services.video_can_edit(video=video, user=request.user):
            raise PermissionDenied(_("只有上传者或管理员可以修改或删除这个视频。"))
        return video

    @extend_schema(responses={200: VideoOutputSerializer, **error_responses(404)}, tags=["videos"])
    def get(self, request, video_id: int):
        video = video_selectors.video_get_for_viewer(video_id=video_id, user=request.user)
        return Response(VideoOutputSerializer(video, context={"request": request}).data)

    @extend_schema(
        request=UpdateSerializer,
        responses={200: VideoOutputSerializer, **error_responses(400, 403, 404)},
        tags=["videos"],
    )
    def patch(self, request, video_id: int):
        video = self._editable(request, video_id)
        serializer = self.UpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        video_services.video_update(video=video, **serializer.validated_data)
        video = video_selectors.video_get_for_viewer(video_id=video_id, user=request.user)
        return Response(VideoOutputSerializer(video, context={"request": request}).data)

    @extend_schema(request=None, responses={204: None, **error_responses(403, 404)}, tags=["videos"])
    def delete(self, request, video_id: int):
        video_services.video_delete(video=self._editable(request, video_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class IgnoreAcceptNegotiation(BaseContentNegotiation):
    """Media endpoints answer with the file whatever the Accept header says (players send odd ones)."""

    def select_parser(self, request, parsers):
        return parsers[0] if parsers else None

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


_media_errors = error_responses(404)


class VideoStreamApi(APIView):
    """The web-playable MP4 with HTTP Range support (206/416), for owners and staff only when private."""

    permission_classes = [AllowAny]
    content_negotiation_class = IgnoreAcceptNegotiation

    @extend_schema(
        parameters=[
            OpenApiParameter("Range", OpenApiTypes.STR, OpenApiParameter.HEADER, description="bytes=first-last"),
        ],
        responses={
            (200, "video/mp4"): OpenApiTypes.BINARY,
            (206, "video/mp4"): OpenApiTypes.BINARY,
            416: OpenApiResponse(description=str(gettext_lazy("请求的字节范围无效"))),
            **_media_errors,
        },
        tags=["videos"],
    )
    def get(self, request, video_id: int):
        video = video_selectors.video_get_for_viewer(video_id=video_id, user=request.user)
        playable = video_selectors.video_playable_path(video=video)
        if playable is None:
            raise NotFound(_("视频暂不可播放。"))
        return ranged_file_response(request._request, path=playable, content_type="video/mp4")


class VideoPosterApi(APIView):
    """The poster JPEG, or a generated SVG (category colour and cover text) when there is no frame."""

    permission_classes = [AllowAny]
    content_negotiation_class = IgnoreAcceptNegotiation

    @extend_schema(
        responses={(200, "image/jpeg"): OpenApiTypes.BINARY, (200, "image/svg+xml"): OpenApiTypes.STR,
                   **_media_errors},
        tags=["videos"],
    )
    def get(self, request, video_id: int):
        video = video_selectors.video_get_for_viewer(video_id=video_id, user=request.user)
        poster = video_selectors.video_poster_path(video=video)
        if poster is not None:
            return ranged_file_response(request._request, path=poster, content_type="image/jpeg")
        response = HttpResponse(video_selectors.video_poster_svg(video=video), content_type="image/svg+xml")
        # Opened directly, an SVG is a document: forbid scripts and outside resources.
        response["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'"
        response["X-Content-Type-Options"] = "nosniff"
        response["Cache-Control"] = "private, max-age=3600"
        return response


urlpatterns = [
    path("videos/", VideoListCreateApi.as_view(), name="api-videos"),
    path("videos/<int:video_id>/", VideoDetailApi.as_view(), name="api-video-detail"),
    path("videos/<int:video_id>/stream", VideoStreamApi.as_view(), name="api-video-stream"),
    path("videos/<int:video_id>/poster", VideoPosterApi.as_view(), name="api-video-poster"),
]
