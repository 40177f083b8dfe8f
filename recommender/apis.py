"""API: feed, related videos, hot list, suggested uploaders.

Every response says which source served it (``personalised``: the current artefacts; ``stale``:
an old or previous artefact version; ``fallback``: hot lists or the latest uploads because the
artefacts are unavailable) and why; each item carries its channel, a reason and the artefact version.
"""

from django.http import Http404, HttpResponse
from django.urls import path
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.authentication import SessionAuthentication
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from recommender.services import feed as feed_services
from videoapp.apis.authentication import CachedTokenAuthentication
from videoapp.models import Video


class _OwnerSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    display_name = serializers.CharField()


class _CountsSerializer(serializers.Serializer):
    likes = serializers.IntegerField()
    favourites = serializers.IntegerField()
    comments = serializers.IntegerField()


class VideoCardSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    title = serializers.CharField()
    poster_url = serializers.CharField()
    owner = _OwnerSerializer()
    category = serializers.CharField(allow_blank=True)
    duration_seconds = serializers.FloatField(allow_null=True)
    published_at = serializers.CharField(allow_null=True)
    counts = _CountsSerializer()


class RecommendedItemSerializer(serializers.Serializer):
    video = VideoCardSerializer()
    channel = serializers.CharField(help_text="itemcf, usercf, ease, tf, content, hot_group, hot, fresh, latest")
    reason = serializers.CharField()
    artefact_version = serializers.CharField(allow_blank=True)
    realtime = serializers.BooleanField(help_text="recalled from the viewer's engagement of the last seconds")


class SuggestedUserSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    display_name = serializers.CharField()
    follower_count = serializers.IntegerField()
    video_count = serializers.IntegerField()
    reason = serializers.CharField()


class RecommendationListSerializer(serializers.Serializer):
    source = serializers.ChoiceField(choices=["personalised", "stale", "fallback"])
    why = serializers.CharField()
    degraded = serializers.ListField(child=serializers.CharField(), help_text="what was missing, stale or down")
    artefact_versions = serializers.DictField(child=serializers.CharField())
    request_id = serializers.CharField()
    page = serializers.IntegerField()
    size = serializers.IntegerField()
    exposure_filter = serializers.CharField(allow_blank=True)
    cold_start = serializers.BooleanField()
    results = RecommendedItemSerializer(many=True)
    suggested_users = SuggestedUserSerializer(many=True)


def _serialize(result: feed_services.FeedResult) -> dict:
    return feed_services.feed_result_dict(result)


def _session_key(request) -> str | None:
    if request.user.is_authenticated:
        return None
    # An anonymous viewer is one session: create it so that pages and exposures follow them.
    if not request.session.session_key:
        request.session.save()
    return request.session.session_key


_ERRORS = {400: OpenApiResponse(description=_("参数无效"))}


def _fast_int(raw: str | None, field: serializers.IntegerField) -> int | None:
    """``raw`` as the serializer ``field`` would accept it (its default, bounds), else None."""
    if raw is None:
        return field.default
    if not raw.isascii() or not raw.isdigit() or len(raw) > 9:
        return None
    value = int(raw)
    return value if field.min_value <= value <= field.max_value else None


class FeedApi(APIView):
    # Read-only and the hottest endpoint: the token lookup is cached (videoapp.apis.authentication).
    authentication_classes = [SessionAuthentication, CachedTokenAuthentication]
    permission_classes = [AllowAny]

    def dispatch(self, request, *args, **kwargs):
        """A token-authenticated viewer whose served queue is current is answered straight from it,
        before DRF's request wrapping, negotiation and serializers (they cost more than the answer);
        anything else - no token or not cached yet, unusual parameters or Accept, a queue to
        rebuild - takes the ordinary DRF path below, which validates and answers every case."""
        body = self._fast_answer(request)
        if body is not None:
            return HttpResponse(body, content_type="application/json")
        return super().dispatch(request, *args, **kwargs)

    def _fast_answer(self, request) -> bytes | None:
        header = request.META.get("HTTP_AUTHORIZATION", "")
        accept = request.META.get("HTTP_ACCEPT", "")
        if request.method != "GET" or not header.startswith("Token ") or (
            accept and "json" not in accept and "*/*" not in accept
        ):
            return None
        raw: dict[str, str] = {}
        for part in request.META.get("QUERY_STRING", "").split("&"):
            if part:
                key, _, value = part.partition("=")
                if key not in ("page", "size") or key in raw:
                    return None
                raw[key] = value
        fields = self.InputSerializer._declared_fields
        page = _fast_int(raw.get("page"), fields["page"])
        size = _fast_int(raw.get("size"), fields["size"])
        if page is None or size is None:
            return None
        return feed_services.feed_answer_from_queue(token=header[6:].strip(), page=page, size=size)

    class InputSerializer(serializers.Serializer):
        page = serializers.IntegerField(min_value=1, max_value=1000, default=1)
        size = serializers.IntegerField(min_value=1, max_value=50, default=20)

    @extend_schema(parameters=[InputSerializer], responses={200: RecommendationListSerializer, **_ERRORS},
                   tags=["recommendations"], summary=_("个性化推荐流"))
    def get(self, request):
        params = self.InputSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        # Bytes, not a Response: a steady-state answer comes out of Redis as ready JSON (feed_answer).
        body = feed_services.feed_answer(user=request.user, session_key=_session_key(request), **params.validated_data)
        return HttpResponse(body, content_type="application/json")


class RelatedApi(APIView):
    permission_classes = [AllowAny]

    class InputSerializer(serializers.Serializer):
        size = serializers.IntegerField(min_value=1, max_value=50, default=20)

    @extend_schema(parameters=[InputSerializer],
                   responses={200: RecommendationListSerializer, 404: OpenApiResponse(description=_("视频不存在")),
                              **_ERRORS},
                   tags=["recommendations"], summary=_("相关视频"))
    def get(self, request, video_id: int):
        params = self.InputSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        video = Video.objects.visible_to(request.user).filter(id=video_id).first()
        if video is None:
            raise Http404(_("视频不存在"))
        result = feed_services.related_list(video=video, user=request.user, session_key=_session_key(request),
                                            **params.validated_data)
        return Response(_serialize(result))


class HotApi(APIView):
    permission_classes = [AllowAny]

    class InputSerializer(serializers.Serializer):
        category = serializers.CharField(required=False, allow_blank=True, max_length=64)
        size = serializers.IntegerField(min_value=1, max_value=50, default=20)

    @extend_schema(parameters=[InputSerializer], responses={200: RecommendationListSerializer, **_ERRORS},
                   tags=["recommendations"], summary=_("热门"))
    def get(self, request):
        params = self.InputSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        result = feed_services.hot_list(category=params.validated_data.get("category") or None,
                                        size=params.validated_data["size"])
        return Response(_serialize(result))


class SuggestedUsersApi(APIView):
    permission_classes = [AllowAny]

    class InputSerializer(serializers.Serializer):
        size = serializers.IntegerField(min_value=1, max_value=50, default=10)

    class OutputSerializer(serializers.Serializer):
        results = SuggestedUserSerializer(many=True)

    @extend_schema(parameters=[InputSerializer], responses={200: OutputSerializer, **_ERRORS},
                   tags=["recommendations"], summary=_("推荐关注的创作者"))
    def get(self, request):
        params = self.InputSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        users = feed_services.suggested_users(user=request.user, limit=params.validated_data["size"])
        return Response(self.OutputSerializer({"results": users}).data)


urlpatterns = [
    path("feed", FeedApi.as_view(), name="feed"),
    path("videos/<int:video_id>/related", RelatedApi.as_view(), name="video-related"),
    path("hot", HotApi.as_view(), name="hot"),
    path("users/suggested", SuggestedUsersApi.as_view(), name="users-suggested"),
]
