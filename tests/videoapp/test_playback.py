"""Playback with HTTP Range, posters (real and generated), and who may fetch them."""

# Pytest fixtures are imported from tests.videoapp.videofiles and used as test arguments.
# ruff: noqa: F401, F811

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse

from tests.factories import StaffFactory, UserFactory, VideoFactory
from tests.videoapp.videofiles import own_media_root, sample_files
from videoapp.models import Video

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("own_media_root")]


def _with_media(video: Video, source: Path) -> Video:
    root = Path(settings.MEDIA_ROOT)
    (root / "videos/playable").mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, root / f"videos/playable/{video.pk}.mp4")
    video.playable.name = f"videos/playable/{video.pk}.mp4"
    video.save(update_fields=["playable"])
    return video


@pytest.fixture
def playable(sample_files) -> tuple[Video, bytes]:
    video = _with_media(VideoFactory(), sample_files["h264_mp4"])
    return video, sample_files["h264_mp4"].read_bytes()


def stream(video_id: int) -> str:
    return f"/api/v1/videos/{video_id}/stream"


def body(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def test_whole_file_without_range(api_client, playable):
    video, data = playable
    response = api_client.get(stream(video.pk))
    assert response.status_code == 200
    assert response["Content-Type"] == "video/mp4"
    assert response["Accept-Ranges"] == "bytes"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert int(response["Content-Length"]) == len(data)
    assert body(response) == data


@pytest.mark.parametrize(
    ("header", "first", "last"),
    [
        ("bytes=0-99", 0, 99),  # first bytes
        ("bytes=1000-2047", 1000, 2047),  # middle
        ("bytes=-500", None, None),  # suffix: the last 500 bytes
        ("bytes=30000-", 30000, None),  # open-ended
    ],
)
def test_ranges_give_206_with_exact_bytes(api_client, playable, header, first, last):
    video, data = playable
    size = len(data)
    if first is None:
        first = size - 500
    last = size - 1 if last is None else last
    response = api_client.get(stream(video.pk), HTTP_RANGE=header)
    assert response.status_code == 206
    assert response["Content-Range"] == f"bytes {first}-{last}/{size}"
    assert int(response["Content-Length"]) == last - first + 1
    assert response["Content-Type"] == "video/mp4"
    assert body(response) == data[first : last + 1]


@pytest.mark.parametrize("header", ["bytes=999999999-", "bytes=-0"])
def test_unsatisfiable_range_is_416(api_client, playable, header):
    video, data = playable
    response = api_client.get(stream(video.pk), HTTP_RANGE=header)
    assert response.status_code == 416
    assert response["Content-Range"] == f"bytes */{len(data)}"


def test_malformed_or_multiple_ranges_get_the_whole_file(api_client, playable):
    video, data = playable
    for header in ("bytes=abc", "bytes=0-1,4-5", "bytes=9-3"):
        response = api_client.get(stream(video.pk), HTTP_RANGE=header)
        assert response.status_code == 200 and len(body(response)) == len(data)


def test_if_range_with_a_stale_etag_gets_the_whole_file(api_client, playable):
    video, data = playable
    etag = api_client.get(stream(video.pk))["ETag"]
    fresh = api_client.get(stream(video.pk), HTTP_RANGE="bytes=0-9", HTTP_IF_RANGE=etag)
    stale = api_client.get(stream(video.pk), HTTP_RANGE="bytes=0-9", HTTP_IF_RANGE='"old"')
    assert (fresh.status_code, stale.status_code) == (206, 200)


def test_head_and_any_accept_header(api_client, playable):
    video, data = playable
    head = api_client.head(stream(video.pk), HTTP_RANGE="bytes=0-9")
    assert head.status_code == 206 and head["Content-Length"] == "10" and head.content == b""
    assert api_client.get(stream(video.pk), HTTP_ACCEPT="video/mp4").status_code == 200


@pytest.mark.parametrize(
    ("who", "status"), [("anonymous", 404), ("viewer", 404), ("owner", 206), ("staff", 206)]
)
def test_private_video_is_streamed_to_owner_and_staff_only(api_client, sample_files, who, status):
    video = _with_media(VideoFactory(visibility=Video.Visibility.PRIVATE), sample_files["h264_mp4"])
    user = {"anonymous": None, "viewer": UserFactory(), "owner": video.owner, "staff": StaffFactory()}[who]
    if user is not None:
        api_client.force_authenticate(user)
    response = api_client.get(stream(video.pk), HTTP_RANGE="bytes=0-9")
    assert response.status_code == status
    if status == 404:
        assert "Content-Range" not in response
    poster = api_client.get(f"/api/v1/videos/{video.pk}/poster")
    assert poster.status_code == (404 if status == 404 else 200)


def test_unlisted_video_streams_for_anyone_with_the_link(api_client, sample_files):
    video = _with_media(VideoFactory(visibility=Video.Visibility.UNLISTED), sample_files["h264_mp4"])
    assert api_client.get(stream(video.pk), HTTP_RANGE="bytes=0-9").status_code == 206


def test_video_without_media_is_not_playable(api_client, client):
    video = VideoFactory(category="美食", cover_text="家常菜")
    response = api_client.get(stream(video.pk))
    assert response.status_code == 404 and response.json()["detail"] == "视频暂不可播放。"
    page = client.get(reverse("video-detail", args=[video.pk])).content.decode()
    assert "视频暂不可播放" in page and "<video" not in page
    assert f"/api/v1/videos/{video.pk}/poster" in page


def test_detail_page_has_a_player_for_playable_videos(client, playable):
    video, _ = playable
    page = client.get(reverse("video-detail", args=[video.pk])).content.decode()
    assert "<video" in page and "视频暂不可播放" not in page


def test_detail_page_of_a_private_video_is_404_for_others(client):
    video = VideoFactory(visibility=Video.Visibility.PRIVATE)
    assert client.get(reverse("video-detail", args=[video.pk])).status_code == 404
    client.force_login(video.owner)
    assert client.get(reverse("video-detail", args=[video.pk])).status_code == 200


def test_processing_video_page_tells_the_owner(client):
    video = VideoFactory(status=Video.Status.FAILED, published_at=None, failure_reason="视频文件不完整")
    client.force_login(video.owner)
    page = client.get(reverse("video-detail", args=[video.pk])).content.decode()
    assert "视频处理失败" in page and "视频文件不完整" in page and "<video" not in page


def test_generated_poster_escapes_user_text(api_client):
    video = VideoFactory(category="美食", cover_text='<script>alert(1)</script>"&', title="t")
    response = api_client.get(f"/api/v1/videos/{video.pk}/poster")
    assert response.status_code == 200
    assert response["Content-Type"] == "image/svg+xml"
    assert "default-src 'none'" in response["Content-Security-Policy"]
    svg = response.content.decode()
    assert "<script>" not in svg and "&lt;script&gt;" in svg and "&amp;" in svg
    assert svg.startswith("<svg") and "美食" in svg
    from xml.etree import ElementTree

    ElementTree.fromstring(svg)  # well-formed whatever the user typed


def test_generated_posters_colour_by_category(api_client):
    a = VideoFactory(category="美食", cover_text="一")
    b = VideoFactory(category="美食", cover_text="二")

    def fill(video):
        svg = api_client.get(f"/api/v1/videos/{video.pk}/poster").content.decode()
        return svg.split('fill="', 1)[1].split('"', 1)[0]

    assert fill(a) == fill(b)


def test_real_poster_is_served_as_jpeg(api_client, sample_files, tmp_path):
    from videoapp.services import media

    video = VideoFactory()
    dest = Path(settings.MEDIA_ROOT) / "videos/posters/p.jpg"
    dest.parent.mkdir(parents=True, exist_ok=True)
    media.extract_poster(path=sample_files["h264_mp4"], dest=dest)
    video.poster.name = "videos/posters/p.jpg"
    video.save(update_fields=["poster"])
    response = api_client.get(f"/api/v1/videos/{video.pk}/poster")
    assert response.status_code == 200 and response["Content-Type"] == "image/jpeg"
    assert body(response)[:3] == b"\xff\xd8\xff"
