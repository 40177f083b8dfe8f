"""API: tags, a video's tags, onboarding, interests, and the staff correction endpoints (/admin/tags/...)."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from django.urls import path
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field, inline_serializer
from rest_framework import permissions, serializers, status
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

from tagging import selectors
from tagging.models import KeywordEntry, Tag, TagCorrection, VideoTag
from tagging.services import corrections
from tagging.services import interests as interest_services
from tagging.services import tags as tag_services
from videoapp.models import Profile, Video
from videoapp.pagination import StandardPagination

# --- shared pieces ------------------------------------------------------------------------------


class ErrorSerializer(serializers.Serializer):
    detail = serializers.CharField()
    errors = serializers.DictField(required=False)


ERRORS_400 = {400: ErrorSerializer}
# Ids beyond a 64-bit signed integer cannot exist; refusing them keeps the database driver from overflowing (500).
DB_MAX_ID = 2**63 - 1
ERRORS_AUTH = {403: ErrorSerializer}
ERRORS_404 = {404: ErrorSerializer}
ERRORS_STAFF = {400: ErrorSerializer, 403: ErrorSerializer}


@extend_schema_field({"oneOf": [{"type": "integer"}, {"type": "string"}], "description": "tag id or name"})
class TagRefField(serializers.Field):
    """A tag given by id (number) or by name (string)."""

    def to_internal_value(self, data):
        if isinstance(data, int) and not isinstance(data, bool):
            return data
        if isinstance(data, str) and data.strip():
            return data
        raise serializers.ValidationError(_("标签必须是名称或编号。"))

    def to_representation(self, value):
        return value


class TagOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = Tag
        fields = ["id", "name", "category", "usage_count"]


class VideoTagOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    tag_id = serializers.IntegerField()
    name = serializers.CharField(source="tag.name")
    source = serializers.CharField()
    state = serializers.CharField()
    score = serializers.FloatField()
    votes = serializers.IntegerField(default=0)


def _paginated(*, request, view, queryset, serializer_class, extra: dict | None = None) -> Response:
    paginator = StandardPagination()
    page = paginator.paginate_queryset(queryset, request, view=view)
    response = paginator.get_paginated_response(serializer_class(page, many=True).data)
    if extra:
        response.data.update(extra)
    return response


def _paginated_schema(name: str, item) -> serializers.Serializer:
    return inline_serializer(
        name=name,
        fields={
            "count": serializers.IntegerField(),
            "next": serializers.URLField(allow_null=True),
            "previous": serializers.URLField(allow_null=True),
            "results": item(many=True),
        },
    )


def _visible_video(request, video_id: int) -> Video:
    return get_object_or_404(Video.objects.visible_to(request.user), pk=video_id)


def _video_tags_response(request, video: Video) -> Response:
    rows = selectors.video_tag_list(video=video, user=request.user)
    return Response(VideoTagOutputSerializer(rows, many=True).data)


# --- tags -------------------------------------------------------------------------------------------


class TagListApi(APIView):
    permission_classes = [permissions.AllowAny]

    @extend_schema(
        parameters=[OpenApiParameter("q", str, description="name prefix")],
        responses={200: _paginated_schema("PaginatedTagList", TagOutputSerializer)},
        summary="Search usable tags by prefix, most used first",
        operation_id="tags_list",
    )
    def get(self, request):
        qs = selectors.tag_list(q=request.query_params.get("q", ""))
        return _paginated(request=request, view=self, queryset=qs, serializer_class=TagOutputSerializer)


class TagDetailApi(APIView):
    permission_classes = [permissions.AllowAny]

    class VideoOutputSerializer(serializers.Serializer):
        id = serializers.IntegerField()
        title = serializers.CharField()
        owner = serializers.CharField(source="owner.username")
        category = serializers.CharField()
        published_at = serializers.DateTimeField()

    @extend_schema(
        responses={
            200: inline_serializer(
                name="TagDetail",
                fields={
                    "tag": TagOutputSerializer(),
                    "count": serializers.IntegerField(),
                    "next": serializers.URLField(allow_null=True),
                    "previous": serializers.URLField(allow_null=True),
                    "results": VideoOutputSerializer(many=True),
                },
            ),
            **ERRORS_404,
        },
        summary="A tag (merged names lead to the canonical tag) and its published public videos",
    )
    def get(self, request, name: str):
        tag = selectors.tag_get_by_name(name=name)
        return _paginated(
            request=request, view=self, queryset=selectors.tag_video_list(tag=tag),
            serializer_class=self.VideoOutputSerializer, extra={"tag": TagOutputSerializer(tag).data},
        )


class VideoTagsApi(APIView):
    """GET: a video's tags. POST: a viewer proposes tags (rate-limited, scope ``tag``)."""

    permission_classes = [permissions.IsAuthenticatedOrReadOnly]
    throttle_scope = "tag"

    class InputSerializer(serializers.Serializer):
        tags = serializers.ListField(child=serializers.CharField(max_length=100), min_length=1, max_length=20)

    def get_throttles(self):
        if self.request.method == "POST":
            return [ScopedRateThrottle()]
        return []

    @extend_schema(responses={200: VideoTagOutputSerializer(many=True), **ERRORS_404}, summary="A video's tags")
    def get(self, request, video_id: int):
        return _video_tags_response(request, _visible_video(request, video_id))

    @extend_schema(
        request=InputSerializer,
        responses={200: VideoTagOutputSerializer(many=True), **ERRORS_400, **ERRORS_AUTH, **ERRORS_404,
                   429: ErrorSerializer},
        summary="Propose tags for a video (active after N distinct viewers or staff approval)",
    )
    def post(self, request, video_id: int):
        video = _visible_video(request, video_id)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        tag_services.video_tags_viewer_add(video=video, user=request.user, names=data.validated_data["tags"])
        return _video_tags_response(request, video)


class VideoTagsConfirmApi(APIView):
    permission_classes = [permissions.IsAuthenticated]

    class InputSerializer(serializers.Serializer):
        accept = serializers.ListField(child=serializers.CharField(max_length=100), required=False, default=list)
        reject = serializers.ListField(child=serializers.CharField(max_length=100), required=False, default=list)
        add = serializers.ListField(
            child=serializers.CharField(max_length=100), required=False, default=list, max_length=30
        )

    @extend_schema(
        request=InputSerializer,
        responses={200: VideoTagOutputSerializer(many=True), **ERRORS_400, **ERRORS_AUTH, **ERRORS_404},
        summary="The uploader accepts, rejects or adds tags on their video",
    )
    def post(self, request, video_id: int):
        video = _visible_video(request, video_id)
        if video.owner_id != request.user.pk and not request.user.is_staff:
            return Response({"detail": _("只有上传者可以确认标签。")}, status=status.HTTP_403_FORBIDDEN)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        tag_services.video_tags_confirm(video=video, user=request.user, **data.validated_data)
        return _video_tags_response(request, video)


# --- onboarding and interests ------------------------------------------------------------------------


class OnboardingTagsApi(APIView):
    permission_classes = [permissions.AllowAny]

    class OutputSerializer(serializers.Serializer):
        category = serializers.CharField()
        tags = TagOutputSerializer(many=True)

    @extend_schema(responses={200: OutputSerializer(many=True)}, summary="Tags offered in onboarding, by category")
    def get(self, request):
        return Response(self.OutputSerializer(selectors.onboarding_tag_groups(), many=True).data)


class OnboardingApi(APIView):
    permission_classes = [permissions.IsAuthenticated]

    class InputSerializer(serializers.Serializer):
        tags = serializers.ListField(child=TagRefField(), required=False, default=list, max_length=50)
        age_range = serializers.ChoiceField(choices=Profile.AgeRange.choices, required=False, allow_blank=True)
        gender = serializers.ChoiceField(choices=Profile.Gender.choices, required=False, allow_blank=True)
        skip = serializers.BooleanField(required=False, default=False)

    class OutputSerializer(serializers.Serializer):
        onboarding_state = serializers.CharField()
        age_range = serializers.CharField()
        gender = serializers.CharField()
        interests = serializers.ListField(child=serializers.CharField())

    @extend_schema(
        request=InputSerializer,
        responses={200: OutputSerializer, **ERRORS_400, **ERRORS_AUTH},
        summary="Finish or skip onboarding: chosen tags seed the interests",
    )
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        profile = interest_services.onboarding_complete(user=request.user, **data.validated_data)
        names = [
            ui.tag.name
            for ui in selectors.user_interest_list(user=request.user).filter(source="onboarding")
        ]
        return Response(
            self.OutputSerializer(
                {"onboarding_state": profile.onboarding_state, "age_range": profile.age_range,
                 "gender": profile.gender, "interests": names}
            ).data
        )


class InterestOutputSerializer(serializers.Serializer):
    tag_id = serializers.IntegerField()
    name = serializers.CharField(source="tag.name")
    weight = serializers.FloatField()
    source = serializers.CharField()
    updated_at = serializers.DateTimeField()


class MyInterestsApi(APIView):
    permission_classes = [permissions.IsAuthenticated]

    class InputSerializer(serializers.Serializer):
        class ItemSerializer(serializers.Serializer):
            tag = TagRefField()
            weight = serializers.FloatField(required=False, default=1.0, min_value=0.01, max_value=10.0)

        interests = ItemSerializer(many=True, max_length=100)

    @extend_schema(responses={200: InterestOutputSerializer(many=True), **ERRORS_AUTH}, summary="My interests")
    def get(self, request):
        return Response(InterestOutputSerializer(selectors.user_interest_list(user=request.user), many=True).data)

    @extend_schema(
        request=InputSerializer,
        responses={200: InterestOutputSerializer(many=True), **ERRORS_400, **ERRORS_AUTH},
        summary="Replace my manual interests (onboarding, behaviour and comment interests are kept)",
    )
    def put(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        pairs = [(item["tag"], item["weight"]) for item in data.validated_data["interests"]]
        interest_services.user_interests_set(user=request.user, interests=pairs)
        return Response(InterestOutputSerializer(selectors.user_interest_list(user=request.user), many=True).data)


# --- staff correction ----------------------------------------------------------------------------------


class CorrectionOutputSerializer(serializers.ModelSerializer):
    actor = serializers.CharField(source="actor.username", default=None)

    class Meta:
        model = TagCorrection
        fields = ["id", "actor", "action", "target", "before", "after", "rows_changed", "created_at"]


class StaffApi(APIView):
    permission_classes = [permissions.IsAdminUser]


def _correction_response(correction: TagCorrection, code: int = status.HTTP_200_OK) -> Response:
    return Response(CorrectionOutputSerializer(correction).data, status=code)


class AdminTagListApi(StaffApi):
    class OutputSerializer(serializers.ModelSerializer):
        class Meta:
            model = Tag
            fields = ["id", "name", "category", "usage_count", "is_blocked", "merged_into", "offered_in_onboarding",
                      "display_order"]

    @extend_schema(
        parameters=[OpenApiParameter("q", str, description="name prefix")],
        responses={200: _paginated_schema("PaginatedAdminTagList", OutputSerializer), **ERRORS_AUTH},
        summary="Every tag, including blocked and merged ones (staff)",
    )
    def get(self, request):
        qs = Tag.objects.select_related("merged_into").order_by("-usage_count", "name")
        q = request.query_params.get("q", "")
        if q:
            qs = qs.filter(name__startswith=tag_services.extraction.normalize_tag(q))
        return _paginated(request=request, view=self, queryset=qs, serializer_class=self.OutputSerializer)


class AdminTagRenameApi(StaffApi):
    class InputSerializer(serializers.Serializer):
        name = serializers.CharField(max_length=100)

    @extend_schema(request=InputSerializer, responses={200: CorrectionOutputSerializer, **ERRORS_STAFF, **ERRORS_404},
                   summary="Rename a tag")
    def post(self, request, tag_id: int):
        tag = get_object_or_404(Tag, pk=tag_id)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        correction = corrections.tag_rename(tag=tag, name=data.validated_data["name"], actor=request.user)
        return _correction_response(correction)


class AdminTagMergeApi(StaffApi):
    class InputSerializer(serializers.Serializer):
        sources = serializers.ListField(child=TagRefField(), min_length=1, max_length=100)
        target = TagRefField()

    @extend_schema(request=InputSerializer, responses={200: CorrectionOutputSerializer, **ERRORS_STAFF},
                   summary="Merge tags into a canonical tag")
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        sources = _existing_tags(data.validated_data["sources"], field="sources")
        target = _existing_tags([data.validated_data["target"]], field="target")[0]
        return _correction_response(corrections.tag_merge(sources=sources, target=target, actor=request.user))


def _existing_tags(refs, *, field: str) -> list[Tag]:
    """Staff name tags exactly (blocked and merged ones included); unknown ones are a 400."""
    found, missing = [], []
    for ref in refs:
        if isinstance(ref, int):
            tag = Tag.objects.filter(pk=ref).first()
        else:
            tag = Tag.objects.filter(name=tag_services.extraction.normalize_tag(ref)).first()
        (found.append(tag) if tag is not None else missing.append(str(ref)))
    if missing:
        raise serializers.ValidationError(
            {field: [_("未知的标签：%(names)s") % {"names": "、".join(missing)}], "invalid_tags": missing}
        )
    return found


class AdminTagBlockApi(StaffApi):
    @extend_schema(request=None, responses={200: CorrectionOutputSerializer, **ERRORS_STAFF, **ERRORS_404},
                   summary="Block a tag: removed everywhere and never suggested again")
    def post(self, request, tag_id: int):
        tag = get_object_or_404(Tag, pk=tag_id)
        return _correction_response(corrections.tag_block(tag=tag, actor=request.user))


class AdminVideoTagListApi(StaffApi):
    class OutputSerializer(VideoTagOutputSerializer):
        video_id = serializers.IntegerField()
        video_title = serializers.CharField(source="video.title")

    @extend_schema(
        parameters=[OpenApiParameter("state", str, enum=VideoTag.State.values),
                    OpenApiParameter("source", str, enum=VideoTag.Source.values)],
        responses={200: _paginated_schema("PaginatedVideoTagReviewList", OutputSerializer), **ERRORS_400,
                   **ERRORS_AUTH},
        summary="Video tags to review (default: suggested)",
    )
    def get(self, request):
        state = request.query_params.get("state") or VideoTag.State.SUGGESTED
        source = request.query_params.get("source", "")
        if state not in VideoTag.State.values or (source and source not in VideoTag.Source.values):
            raise serializers.ValidationError({"state": [_("未知的状态或来源。")]})
        qs = selectors.video_tag_review_list(state=state, source=source)
        return _paginated(request=request, view=self, queryset=qs, serializer_class=self.OutputSerializer)


class _VideoTagIdsInput(serializers.Serializer):
    ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=DB_MAX_ID), min_length=1, max_length=1000)


class AdminVideoTagApproveApi(StaffApi):
    @extend_schema(request=_VideoTagIdsInput, responses={200: CorrectionOutputSerializer, **ERRORS_STAFF},
                   summary="Approve video tags in bulk")
    def post(self, request):
        data = _VideoTagIdsInput(data=request.data)
        data.is_valid(raise_exception=True)
        return _correction_response(corrections.video_tags_set_state(
            video_tag_ids=data.validated_data["ids"], state=VideoTag.State.ACTIVE, actor=request.user))


class AdminVideoTagRejectApi(StaffApi):
    @extend_schema(request=_VideoTagIdsInput, responses={200: CorrectionOutputSerializer, **ERRORS_STAFF},
                   summary="Reject video tags in bulk")
    def post(self, request):
        data = _VideoTagIdsInput(data=request.data)
        data.is_valid(raise_exception=True)
        return _correction_response(corrections.video_tags_set_state(
            video_tag_ids=data.validated_data["ids"], state=VideoTag.State.REJECTED, actor=request.user))


class _VideosTagsInput(serializers.Serializer):
    video_ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=DB_MAX_ID), min_length=1, max_length=500)
    tags = serializers.ListField(child=serializers.CharField(max_length=100), min_length=1, max_length=50)


class AdminVideosAddTagsApi(StaffApi):
    @extend_schema(request=_VideosTagsInput, responses={200: CorrectionOutputSerializer, **ERRORS_STAFF},
                   summary="Add tags to one or many videos")
    def post(self, request):
        data = _VideosTagsInput(data=request.data)
        data.is_valid(raise_exception=True)
        return _correction_response(corrections.video_tags_admin_add(
            video_ids=data.validated_data["video_ids"], names=data.validated_data["tags"], actor=request.user))


class AdminVideosRemoveTagsApi(StaffApi):
    @extend_schema(request=_VideosTagsInput, responses={200: CorrectionOutputSerializer, **ERRORS_STAFF},
                   summary="Remove tags from one or many videos")
    def post(self, request):
        data = _VideosTagsInput(data=request.data)
        data.is_valid(raise_exception=True)
        return _correction_response(corrections.video_tags_admin_remove(
            video_ids=data.validated_data["video_ids"], names=data.validated_data["tags"], actor=request.user))


class AdminReextractApi(StaffApi):
    class InputSerializer(serializers.Serializer):
        video_ids = serializers.ListField(
            child=serializers.IntegerField(min_value=1, max_value=DB_MAX_ID), min_length=1, max_length=500)

    @extend_schema(request=InputSerializer, responses={200: CorrectionOutputSerializer, **ERRORS_STAFF},
                   summary="Re-run tag extraction for chosen videos")
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        return _correction_response(
            corrections.videos_reextract(video_ids=data.validated_data["video_ids"], actor=request.user)
        )


class KeywordOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = KeywordEntry
        fields = ["id", "word", "kind", "canonical", "created_at"]


class KeywordInputSerializer(serializers.Serializer):
    word = serializers.CharField(max_length=100)
    kind = serializers.ChoiceField(choices=KeywordEntry.Kind.choices)
    canonical = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")


class AdminKeywordListApi(StaffApi):
    @extend_schema(
        parameters=[OpenApiParameter("kind", str, enum=KeywordEntry.Kind.values),
                    OpenApiParameter("q", str, description="word prefix")],
        responses={200: _paginated_schema("PaginatedKeywordList", KeywordOutputSerializer), **ERRORS_AUTH},
        summary="The keyword library",
    )
    def get(self, request):
        params = request.query_params
        qs = selectors.keyword_entry_list(kind=params.get("kind", ""), q=params.get("q", ""))
        return _paginated(request=request, view=self, queryset=qs, serializer_class=KeywordOutputSerializer)

    @extend_schema(request=KeywordInputSerializer, responses={201: CorrectionOutputSerializer, **ERRORS_STAFF},
                   summary="Add a keyword-library entry (takes effect without a restart)")
    def post(self, request):
        data = KeywordInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        correction = corrections.keyword_correction_add(actor=request.user, **data.validated_data)
        return _correction_response(correction, status.HTTP_201_CREATED)


class AdminKeywordDetailApi(StaffApi):
    @extend_schema(request=KeywordInputSerializer, responses={200: CorrectionOutputSerializer, **ERRORS_STAFF,
                                                              **ERRORS_404},
                   summary="Change a keyword-library entry")
    def put(self, request, entry_id: int):
        entry = get_object_or_404(KeywordEntry, pk=entry_id)
        data = KeywordInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        return _correction_response(corrections.keyword_correction_update(entry=entry, actor=request.user,
                                                                          **data.validated_data))

    @extend_schema(request=None, responses={200: CorrectionOutputSerializer, **ERRORS_AUTH, **ERRORS_404},
                   summary="Delete a keyword-library entry")
    def delete(self, request, entry_id: int):
        entry = get_object_or_404(KeywordEntry, pk=entry_id)
        return _correction_response(corrections.keyword_correction_delete(entry=entry, actor=request.user))


class AdminTagCorrectionListApi(StaffApi):
    @extend_schema(
        parameters=[OpenApiParameter("action", str, enum=TagCorrection.Action.values)],
        responses={200: _paginated_schema("PaginatedTagCorrectionList", CorrectionOutputSerializer), **ERRORS_AUTH},
        summary="The audit list of tag corrections, newest first",
    )
    def get(self, request):
        qs = selectors.tag_correction_list(action=request.query_params.get("action", ""))
        return _paginated(request=request, view=self, queryset=qs, serializer_class=CorrectionOutputSerializer)


urlpatterns = [
    path("tags", TagListApi.as_view(), name="tag-list"),
    path("tags/<path:name>", TagDetailApi.as_view(), name="tag-detail"),
    path("videos/<int:video_id>/tags", VideoTagsApi.as_view(), name="video-tags"),
    path("videos/<int:video_id>/tags/confirm", VideoTagsConfirmApi.as_view(), name="video-tags-confirm"),
    path("onboarding/tags", OnboardingTagsApi.as_view(), name="onboarding-tags"),
    path("onboarding", OnboardingApi.as_view(), name="onboarding"),
    path("me/interests", MyInterestsApi.as_view(), name="my-interests"),
    path("admin/tags", AdminTagListApi.as_view(), name="admin-tag-list"),
    path("admin/tags/merge", AdminTagMergeApi.as_view(), name="admin-tag-merge"),
    path("admin/tags/<int:tag_id>/rename", AdminTagRenameApi.as_view(), name="admin-tag-rename"),
    path("admin/tags/<int:tag_id>/block", AdminTagBlockApi.as_view(), name="admin-tag-block"),
    path("admin/tags/video-tags", AdminVideoTagListApi.as_view(), name="admin-video-tag-list"),
    path("admin/tags/video-tags/approve", AdminVideoTagApproveApi.as_view(), name="admin-video-tag-approve"),
    path("admin/tags/video-tags/reject", AdminVideoTagRejectApi.as_view(), name="admin-video-tag-reject"),
    path("admin/tags/videos/add", AdminVideosAddTagsApi.as_view(), name="admin-videos-tags-add"),
    path("admin/tags/videos/remove", AdminVideosRemoveTagsApi.as_view(), name="admin-videos-tags-remove"),
    path("admin/tags/reextract", AdminReextractApi.as_view(), name="admin-tags-reextract"),
    path("admin/tags/keywords", AdminKeywordListApi.as_view(), name="admin-keyword-list"),
    path("admin/tags/keywords/<int:entry_id>", AdminKeywordDetailApi.as_view(), name="admin-keyword-detail"),
    path("admin/tag-corrections", AdminTagCorrectionListApi.as_view(), name="admin-tag-corrections"),
]
