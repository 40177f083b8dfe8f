"""Video list/detail/edit/delete through the API and services, and (re)processing."""

# Pytest fixtures are imported from tests.videoapp.videofiles and used as test arguments.
# ruff: noqa: F401, F811

from __future__ import annotations

import shutil
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.files.storage import default_storage
from django.utils import timezone

from tests.factories import CommentFactory, EventFactory, StaffFactory, UserFactory, VideoFactory
from tests.videoapp.videofiles import media_files, own_media_root, sample_files, tag_calls
from videoapp.models import Favourite, Like, Video
from videoapp.services import videos as video_services

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("own_media_root")]

LIST = "/api/v1/videos/"


def detail(video_id: int) -> str:
    return f"/api/v1/videos/{video_id}/"


def _stored_upload(path: Path, *, owner, **fields) -> Video:
    """A video created by the service from a file (processing is queued on commit, not run)."""
    with path.open("rb") as fh:
        from django.core.files import File

        return video_services.video_create(owner=owner, file=File(fh, name=path.name), title="t", **fields)


# --- list ---


def test_list_shows_public_published_videos_only_with_count(api_client):
    public = VideoFactory.create_batch(3)
    VideoFactory(visibility=Video.Visibility.PRIVATE)
    VideoFactory(visibility=Video.Visibility.UNLISTED)
    VideoFactory(status=Video.Status.PROCESSING, published_at=None)
    VideoFactory(status=Video.Status.FAILED, published_at=None)
    body = api_client.get(LIST).json()
    assert body["count"] == 3
    assert {item["id"] for item in body["results"]} == {v.pk for v in public}


def test_list_counts_and_no_n_plus_one(api_client, django_assert_max_num_queries):
    videos = VideoFactory.create_batch(12)
    users = UserFactory.create_batch(3)
    for user in users:
        Like.objects.create(user=user, video=videos[0])
    Favourite.objects.create(user=users[0], video=videos[0])
    CommentFactory.create_batch(2, video=videos[0])
    EventFactory.create_batch(4, video=videos[1])
    with django_assert_max_num_queries(2):  # the count and the page, whatever the page size
        body = api_client.get(LIST, {"size": 50}).json()
    by_id = {item["id"]: item for item in body["results"]}
    assert by_id[videos[0].pk]["like_count"] == 3
    assert by_id[videos[0].pk]["favourite_count"] == 1
    assert by_id[videos[0].pk]["comment_count"] == 2
    assert by_id[videos[1].pk]["view_count"] == 4
    assert by_id[videos[2].pk]["like_count"] == 0
    assert by_id[videos[0].pk]["owner"]["username"] == videos[0].owner.username


def test_list_filters_and_orderings(api_client):
    now = timezone.now()
    alice = UserFactory()
    old = VideoFactory(owner=alice, title="红烧肉做法", category="美食", published_at=now - timedelta(days=3))
    new = VideoFactory(title="篮球集锦", category="体育", subcategory="篮球", published_at=now)
    mid = VideoFactory(title="周末", description="在家做红烧肉", category="美食", published_at=now - timedelta(days=1))
    for user in UserFactory.create_batch(2):
        Like.objects.create(user=user, video=old)

    def ids(**params):
        return [item["id"] for item in api_client.get(LIST, params).json()["results"]]

    assert ids() == [new.pk, mid.pk, old.pk]
    assert ids(ordering="popular")[0] == old.pk
    assert ids(owner=alice.pk) == [old.pk]
    assert ids(category="美食") == [mid.pk, old.pk]
    assert ids(category="篮球") == [new.pk]
    assert ids(q="红烧肉") == [mid.pk, old.pk]
    response = api_client.get(LIST, {"ordering": "random"})
    assert response.status_code == 400 and response.json()["errors"]["ordering"]


def test_list_mine_shows_all_my_videos_in_any_state(api_client):
    me = UserFactory()
    mine = [VideoFactory(owner=me, status=Video.Status.PROCESSING), VideoFactory(owner=me, visibility="private")]
    VideoFactory()
    assert api_client.get(LIST, {"mine": "true"}).status_code == 403
    api_client.force_authenticate(me)
    body = api_client.get(LIST, {"mine": "true"}).json()
    assert {item["id"] for item in body["results"]} == {v.pk for v in mine}


# --- detail and visibility ---


@pytest.mark.parametrize(
    ("who", "status"), [("anonymous", 404), ("viewer", 404), ("owner", 200), ("staff", 200)]
)
def test_private_video_detail(api_client, who, status):
    video = VideoFactory(visibility=Video.Visibility.PRIVATE)
    user = {"anonymous": None, "viewer": UserFactory(), "owner": video.owner, "staff": StaffFactory()}[who]
    if user is not None:
        api_client.force_authenticate(user)
    assert api_client.get(detail(video.pk)).status_code == status


def test_unlisted_video_opens_by_id_for_anyone(api_client):
    video = VideoFactory(visibility=Video.Visibility.UNLISTED)
    assert api_client.get(detail(video.pk)).status_code == 200


def test_failed_video_shows_the_reason_to_its_owner_only(api_client):
    video = VideoFactory(status=Video.Status.FAILED, failure_reason="视频文件不完整", published_at=None)
    assert api_client.get(detail(video.pk)).status_code == 404
    api_client.force_authenticate(video.owner)
    body = api_client.get(detail(video.pk)).json()
    assert body["status"] == "failed" and body["failure_reason"] == "视频文件不完整"
    assert body["stream_url"] is None and body["can_edit"] is True


def test_detail_of_a_public_video_hides_edit_rights(api_client):
    video = VideoFactory(failure_reason="old")
    api_client.force_authenticate(UserFactory())
    body = api_client.get(detail(video.pk)).json()
    assert body["can_edit"] is False and body["failure_reason"] == ""
    assert body["poster_url"] == f"/api/v1/videos/{video.pk}/poster"
    assert body["has_media"] is False


# --- edit ---


@pytest.mark.parametrize(("who", "status"), [("anonymous", 403), ("viewer", 403), ("owner", 200), ("staff", 200)])
def test_edit_permissions(api_client, tag_calls, who, status, django_capture_on_commit_callbacks):
    video = VideoFactory(title="旧标题")
    user = {"anonymous": None, "viewer": UserFactory(), "owner": video.owner, "staff": StaffFactory()}[who]
    if user is not None:
        api_client.force_authenticate(user)
    with django_capture_on_commit_callbacks(execute=True):
        response = api_client.patch(detail(video.pk), {"title": "新标题"}, format="json")
    assert response.status_code == status
    video.refresh_from_db()
    assert video.title == ("新标题" if status == 200 else "旧标题")
    assert tag_calls == ([video.pk] if status == 200 else [])


def test_edit_visibility_only_does_not_requeue_tags(api_client, tag_calls, django_capture_on_commit_callbacks):
    video = VideoFactory()
    api_client.force_authenticate(video.owner)
    with django_capture_on_commit_callbacks(execute=True):
        response = api_client.patch(detail(video.pk), {"visibility": "private"}, format="json")
    assert response.status_code == 200 and response.json()["visibility"] == "private"
    assert tag_calls == []
    assert api_client.patch(detail(video.pk), {"visibility": "x"}, format="json").status_code == 400


def test_edit_of_someone_elses_private_video_is_404(api_client):
    video = VideoFactory(visibility=Video.Visibility.PRIVATE)
    api_client.force_authenticate(UserFactory())
    assert api_client.patch(detail(video.pk), {"title": "x"}, format="json").status_code == 404
    assert api_client.delete(detail(video.pk)).status_code == 404


def test_video_tags_suggest_queue_calls_the_tagging_contract(monkeypatch, django_capture_on_commit_callbacks):
    import tagging.tasks

    queued: list[int] = []
    monkeypatch.setattr(tagging.tasks.video_tags_suggest, "delay", lambda video_id: queued.append(video_id))
    assert tagging.tasks.video_tags_suggest.name == "tagging.video_tags_suggest"
    with django_capture_on_commit_callbacks(execute=True):
        video_services.video_tags_suggest_queue(video_id=42)
    assert queued == [42]


# --- delete ---


@pytest.mark.parametrize(("who", "status"), [("anonymous", 403), ("viewer", 403), ("owner", 204), ("staff", 204)])
def test_delete_permissions_and_files_removed(
    api_client, sample_files, settings, tag_calls, who, status, django_capture_on_commit_callbacks
):
    owner = UserFactory()
    with django_capture_on_commit_callbacks(execute=True):
        video = _stored_upload(sample_files["vp8_webm"], owner=owner)
    video.refresh_from_db()
    assert video.status == Video.Status.PUBLISHED
    assert len(media_files(settings.MEDIA_ROOT)) == 3  # original, rendition, poster
    user = {"anonymous": None, "viewer": UserFactory(), "owner": owner, "staff": StaffFactory()}[who]
    if user is not None:
        api_client.force_authenticate(user)
    with django_capture_on_commit_callbacks(execute=True):
        response = api_client.delete(detail(video.pk))
    assert response.status_code == status
    assert Video.objects.filter(pk=video.pk).exists() is (status != 204)
    assert len(media_files(settings.MEDIA_ROOT)) == (0 if status == 204 else 3)


# --- processing ---


def test_reprocessing_is_idempotent(sample_files, settings, tag_calls, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        video = _stored_upload(sample_files["vp8_webm"], owner=UserFactory())
    video.refresh_from_db()
    first = (video.playable.name, video.poster.name, video.published_at)
    files = media_files(settings.MEDIA_ROOT)
    with django_capture_on_commit_callbacks(execute=True):
        again = video_services.video_process(video_id=video.pk)
    assert again.status == Video.Status.PUBLISHED
    assert (again.playable.name, again.poster.name, again.published_at) == first
    assert media_files(settings.MEDIA_ROOT) == files  # replaced in place, nothing piled up
    assert not any(p.name.endswith(".part") for p in files)


def test_processing_a_damaged_original_fails_with_a_reason(sample_files, tag_calls, api_client):
    video = _stored_upload(sample_files["vp8_webm"], owner=UserFactory())  # on_commit not run: still processing
    shutil.copyfile(sample_files["truncated_webm"], default_storage.path(video.original.name))
    result = video_services.video_process(video_id=video.pk)
    assert result.status == Video.Status.FAILED and "不完整" in result.failure_reason
    assert result.published_at is None and tag_calls == []
    api_client.force_authenticate(video.owner)
    assert "不完整" in api_client.get(detail(video.pk)).json()["failure_reason"]


def test_processing_a_video_whose_original_is_gone_fails(tag_calls):
    video = VideoFactory(status=Video.Status.PROCESSING, original="videos/original/missing.mp4", published_at=None)
    assert video_services.video_process(video_id=video.pk).status == Video.Status.FAILED


def test_processing_a_deleted_video_is_a_no_op():
    assert video_services.video_process(video_id=987654) is None


def test_task_is_registered_under_its_contract_name(sample_files, tag_calls):
    from videoapp.tasks import video_process

    assert video_process.name == "videoapp.video_process"
    video = _stored_upload(sample_files["h264_mp4"], owner=UserFactory())
    assert video_process.delay(video.pk).get() == Video.Status.PUBLISHED


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\me\\视频.mp4", "视频.mp4"),
        ("evil\u202egpj.mp4", "evilgpj.mp4"),
        ("a\x00b\r\n.mp4", "ab.mp4"),
        ("...", "video"),
        ("", "video"),
        ("  假期\u3000vlog  .mov", "假期 vlog .mov"),
    ],
)
def test_sanitize_filename(raw, expected):
    assert video_services.sanitize_filename(name=raw) == expected


def test_sanitize_filename_keeps_the_extension_of_long_names():
    name = video_services.sanitize_filename(name="长" * 300 + ".webm")
    assert len(name) == 150 and name.endswith("长.webm")


def test_video_endpoints_are_in_the_schema(client):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    paths = schema["paths"]
    assert {"get", "post"} <= set(paths["/api/v1/videos/"])
    assert "413" in paths["/api/v1/videos/"]["post"]["responses"]
    assert {"get", "patch", "delete"} <= set(paths["/api/v1/videos/{video_id}/"])
    assert {"206", "416", "404"} <= set(paths["/api/v1/videos/{video_id}/stream"]["get"]["responses"])
    assert "count" in schema["components"]["schemas"]["VideoPage"]["properties"]
