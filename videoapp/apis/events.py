"""API: the behaviour beacon (batches of impressions and view progress) and my watch history.

The beacon is called by pages with session auth.  Logged-in sessions must pass the CSRF check: send the
token in the ``X-CSRFToken`` header (``fetch(..., {keepalive: true})``), or - because
``navigator.sendBeacon`` cannot set headers - as ``"csrf_token"`` in the JSON body, which may be sent as
``text/plain``.  Anonymous sessions need no token (there is no login to ride on).  See docs/events.md.
"""

from __future__ import annotations

import json
import math
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.urls import path
from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.authentication import SessionScheme
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_serializer, inline_serializer
from rest_framework import serializers, status
from rest_framework.authentication import SessionAuthentication, TokenAuthentication
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from videoapp.apis.accounts import error_responses
from videoapp.apis.social import VideoCardSerializer
from videoapp.models import Event, Video
from videoapp.pagination import StandardPagination
from videoapp.selectors.events import video_list_by_ids, viewed_video_history
from videoapp.services.events import EventInput, event_bulk_record
from videoapp.throttling import EventsThrottle

BEACON_KINDS = (Event.Kind.IMPRESSION, Event.Kind.VIEW, Event.Kind.SHARE)
MAX_WATCH_SECONDS = 24 * 3600
# A watch ratio above 1 is a replay; above this it is a broken client, not a viewer.
MAX_WATCH_RATIO = 100.0
# A client may resend events it could not deliver, but not from the far past or the future.
MAX_EVENT_AGE = timedelta(days=30)
MAX_CLOCK_SKEW = timedelta(minutes=5)
CONTEXT_MAX_KEYS = 16
CONTEXT_MAX_STRING = 200


class PlainTextJSONParser(JSONParser):
    """``navigator.sendBeacon`` with a string body sends ``text/plain``; the body is still JSON."""

    media_type = "text/plain"


class BeaconSessionAuthentication(SessionAuthentication):
    """Session auth whose CSRF token may also come in the body (``csrf_token``), for ``sendBeacon``."""

    def enforce_csrf(self, request):
        header = settings.CSRF_HEADER_NAME
        if not request._request.META.get(header):
            try:
                body = json.loads(request._request.body or b"null")
            except (ValueError, RequestDataTooBig):
                body = None
            if isinstance(body, dict) and isinstance(body.get("csrf_token"), str):
                request._request.META[header] = body["csrf_token"]
        return super().enforce_csrf(request)


class BeaconSessionScheme(SessionScheme):
    """The beacon's session auth is documented like DRF's (cookie ``sessionid``)."""

    target_class = "videoapp.apis.events.BeaconSessionAuthentication"
    name = "beaconCookieAuth"


class BeaconContextSerializer(serializers.Serializer):
    """Known keys are typed; other flat scalar keys are kept as sent (bounded in number and size)."""

    page = serializers.CharField(required=False, allow_blank=True, max_length=64)
    channel = serializers.CharField(required=False, allow_blank=True, max_length=64)
    request_id = serializers.CharField(required=False, allow_blank=True, max_length=64)
    position = serializers.IntegerField(required=False, min_value=0, max_value=10_000)

    def to_internal_value(self, data):
        if not isinstance(data, dict):
            raise serializers.ValidationError(_("context 必须是对象。"))
        if len(data) > CONTEXT_MAX_KEYS:
            raise serializers.ValidationError(_("context 最多 %(n)d 个键。") % {"n": CONTEXT_MAX_KEYS})
        known = super().to_internal_value(data)
        extra = {}
        for key, value in data.items():
            if key in self.fields:
                continue
            if not isinstance(key, str) or len(key) > 40:
                raise serializers.ValidationError(_("context 的键必须是不超过 40 个字符的字符串。"))
            if isinstance(value, str):
                value = value[:CONTEXT_MAX_STRING]
            elif isinstance(value, float) and not math.isfinite(value):
                raise serializers.ValidationError({key: [_("必须是有限的数。")]})
            elif value is not None and not isinstance(value, bool | int | float):
                raise serializers.ValidationError({key: [_("context 的值只能是字符串、数字、布尔值或 null。")]})
            extra[key] = value
        return {**extra, **known}


class BeaconItemSerializer(serializers.Serializer):
    event_id = serializers.UUIDField(required=False, help_text="client-made UUID; a resent event is kept once")
    video = serializers.IntegerField(min_value=1)
    kind = serializers.ChoiceField(choices=[(kind.value, kind.label) for kind in BEACON_KINDS])
    watch_seconds = serializers.FloatField(required=False, allow_null=True, min_value=0, max_value=MAX_WATCH_SECONDS)
    watch_ratio = serializers.FloatField(required=False, allow_null=True, min_value=0, max_value=MAX_WATCH_RATIO)
    context = BeaconContextSerializer(required=False)
    occurred_at = serializers.DateTimeField(required=False, help_text="client time; server time when absent")

    def validate(self, attrs):
        seconds, ratio = attrs.get("watch_seconds"), attrs.get("watch_ratio")
        for name in ("watch_seconds", "watch_ratio"):
            if attrs.get(name) is not None and not math.isfinite(attrs[name]):
                raise serializers.ValidationError({name: [_("必须是有限的数。")]})
        if attrs["kind"] == Event.Kind.VIEW and seconds is None and ratio is None:
            raise serializers.ValidationError(_("观看事件需要 watch_seconds 或 watch_ratio。"))
        if attrs["kind"] != Event.Kind.VIEW and (seconds is not None or ratio is not None):
            raise serializers.ValidationError(_("只有观看事件（view）可以带 watch_seconds / watch_ratio。"))
        occurred_at = attrs.get("occurred_at")
        if occurred_at is not None:
            now = timezone.now()
            if occurred_at > now + MAX_CLOCK_SKEW:
                raise serializers.ValidationError({"occurred_at": [_("时间不能在将来。")]})
            if occurred_at < now - MAX_EVENT_AGE:
                raise serializers.ValidationError({"occurred_at": [_("事件太旧（超过 30 天）。")]})
        return attrs


class BeaconApi(APIView):
    authentication_classes = [BeaconSessionAuthentication, TokenAuthentication]
    permission_classes = [AllowAny]
    throttle_classes = [EventsThrottle]
    parser_classes = [JSONParser, PlainTextJSONParser]

    @extend_schema_serializer(component_name="BeaconBatch")
    class InputSerializer(serializers.Serializer):
        events = BeaconItemSerializer(many=True)
        csrf_token = serializers.CharField(required=False, help_text="for sendBeacon, which cannot send headers")

    @extend_schema_serializer(component_name="BeaconResult")
    class OutputSerializer(serializers.Serializer):
        accepted = serializers.IntegerField(help_text="valid items, including resent ones already stored")
        duplicates = serializers.IntegerField(help_text="accepted items already stored (a resend)")
        rejected = serializers.ListField(
            child=inline_serializer(
                "BeaconRejection", fields={"index": serializers.IntegerField(), "errors": serializers.JSONField()}
            )
        )

    @extend_schema(
        tags=["events"],
        summary="Record a batch of impressions / views / shares; bad items are rejected with reasons",
        request={"application/json": InputSerializer, "text/plain": InputSerializer},
        responses={
            200: OutputSerializer,
            400: OpenApiResponse(OutputSerializer, description="no item accepted, or a malformed batch"),
            **error_responses(403, 429),
        },
    )
    def post(self, request):
        try:
            payload = request.data
        except ParseError as exc:  # malformed JSON: the documented batch-error shape, not DRF's bare detail
            return self._batch_error(str(exc.detail))
        items = payload.get("events") if isinstance(payload, dict) else payload
        if not isinstance(items, list) or not items:
            return self._batch_error(_("请求体应为 {\"events\": [...]}，且至少包含一个事件。"))
        if len(items) > settings.BEACON_MAX_ITEMS:
            return self._batch_error(_("一次最多提交 %(n)d 个事件。") % {"n": settings.BEACON_MAX_ITEMS})
        valid: list[tuple[int, dict]] = []
        rejected: list[dict] = []
        for index, item in enumerate(items):
            serializer = BeaconItemSerializer(data=item)
            if serializer.is_valid():
                valid.append((index, serializer.validated_data))
            else:
                rejected.append({"index": index, "errors": serializer.errors})
        visible = set(
            Video.objects.visible_to(request.user)
            .filter(pk__in={data["video"] for _index, data in valid})
            .values_list("pk", flat=True)
        )
        accepted: list[EventInput] = []
        for index, data in valid:
            if data["video"] not in visible:
                rejected.append({"index": index, "errors": {"video": [_("视频不存在或无权查看。")]}})
                continue
            accepted.append(self._event_input(data))
        rejected.sort(key=lambda rejection: rejection["index"])
        if not accepted:
            body = {"detail": _("没有可接受的事件。"), "accepted": 0, "duplicates": 0, "rejected": rejected}
            return Response(body, status=status.HTTP_400_BAD_REQUEST)
        result = event_bulk_record(user=request.user, session_key=self._session_key(request), events=accepted)
        body = {"accepted": len(accepted), "duplicates": result.duplicates, "rejected": rejected}
        return Response(self.OutputSerializer(body).data)

    @staticmethod
    def _batch_error(message: str) -> Response:
        body = {"detail": message, "errors": {"events": [message]}, "accepted": 0, "duplicates": 0, "rejected": []}
        return Response(body, status=status.HTTP_400_BAD_REQUEST)

    @staticmethod
    def _event_input(data: dict) -> EventInput:
        optional = {"event_id": data["event_id"]} if data.get("event_id") else {}
        return EventInput(
            video_id=data["video"], kind=data["kind"], watch_seconds=data.get("watch_seconds"),
            watch_ratio=data.get("watch_ratio"), context=dict(data.get("context") or {}),
            created_at=data.get("occurred_at"), **optional,
        )

    @staticmethod
    def _session_key(request) -> str:
        """The caller's session key; an anonymous viewer without a session gets one (and its cookie)."""
        session = request._request.session
        if not session.session_key and not (request.auth is not None and request.user.is_authenticated):
            session["anonymous_viewer"] = True  # marks the session modified, so the cookie is sent
            session.save()
        return session.session_key or ""


class MyHistoryApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema_serializer(component_name="HistoryVideo")
    class OutputSerializer(VideoCardSerializer):
        last_viewed_at = serializers.DateTimeField()

    @extend_schema(
        tags=["me"], summary="Videos I viewed, most recent first (one row per video)",
        responses={200: inline_serializer("PaginatedHistoryList", fields={
            "count": serializers.IntegerField(), "next": serializers.URLField(allow_null=True),
            "previous": serializers.URLField(allow_null=True), "results": OutputSerializer(many=True),
        }), **error_responses(403)},
    )
    def get(self, request):
        paginator = StandardPagination()
        rows = paginator.paginate_queryset(viewed_video_history(user=request.user), request, view=self)
        videos = video_list_by_ids(video_ids=[row["video_id"] for row in rows])
        last_viewed = {row["video_id"]: row["last_viewed_at"] for row in rows}
        for video in videos:
            video.last_viewed_at = last_viewed[video.pk]
        return paginator.get_paginated_response(self.OutputSerializer(videos, many=True).data)


urlpatterns = [
    path("events/beacon", BeaconApi.as_view(), name="events-beacon"),
    path("me/history", MyHistoryApi.as_view(), name="me-history"),
]
