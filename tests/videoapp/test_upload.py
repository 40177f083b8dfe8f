"""Uploading through the API and the form page: streamed, validated, nothing left behind on failure."""

# Pytest fixtures are imported from tests.videoapp.videofiles and used as test arguments.
# ruff: noqa: F401, F811

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from tests.factories import UserFactory
from tests.videoapp.videofiles import (
    media_files,
    own_media_root,
    probe_codecs,
    sample_files,
    tag_calls,
)
from videoapp.models import Video
from videoapp.upload import CappedTemporaryFileUploadHandler, UploadTooLarge

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("own_media_root")]

URL = "/api/v1/videos/"


@pytest.fixture
def upload_tmp(settings, tmp_path) -> Path:
    """Django's temporary upload files go here, so a test can see that none is left."""
    folder = tmp_path / "uploads"
    folder.mkdir()
    settings.FILE_UPLOAD_TEMP_DIR = str(folder)
    return folder


@pytest.fixture
def user_client(api_client):
    user = UserFactory()
    api_client.force_authenticate(user)
    api_client.user = user
    return api_client


def _file(path: Path, *, name: str | None = None, content_type: str = "video/mp4") -> SimpleUploadedFile:
    return SimpleUploadedFile(name or path.name, path.read_bytes(), content_type=content_type)


def _upload(client, path: Path, capture, **fields):
    data = {"file": _file(path, name=fields.pop("name", None), content_type=fields.pop("content_type", "video/mp4"))}
    data.update(fields)
    with capture(execute=True):
        return client.post(URL, data, format="multipart")


def test_h264_mp4_upload_is_published_as_it_is(
    user_client, sample_files, settings, upload_tmp, tag_calls, django_capture_on_commit_callbacks
):
    response = _upload(user_client, sample_files["h264_mp4"], django_capture_on_commit_callbacks,
                       title="我的第一个视频", description="周末去爬山", visibility="unlisted")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["title"] == "我的第一个视频" and body["visibility"] == "unlisted"
    video = Video.objects.get(pk=body["id"])
    assert video.owner == user_client.user
    assert video.status == Video.Status.PUBLISHED and video.published_at is not None
    assert (video.width, video.height) == (64, 48)
    assert video.duration_seconds == pytest.approx(2.0, abs=0.1)
    # Already H.264/AAC with the index first: the original is what the browser plays.
    assert video.playable.name == video.original.name
    assert Path(video.poster.path).read_bytes()[:3] == b"\xff\xd8\xff"
    assert video.size_bytes == sample_files["h264_mp4"].stat().st_size
    assert tag_calls == [video.pk]
    assert list(upload_tmp.iterdir()) == []


def test_webm_upload_is_transcoded_to_h264_aac(
    user_client, sample_files, upload_tmp, tag_calls, django_capture_on_commit_callbacks
):
    response = _upload(user_client, sample_files["vp8_webm"], django_capture_on_commit_callbacks, title="webm")
    assert response.status_code == 201, response.content
    video = Video.objects.get(pk=response.json()["id"])
    assert video.status == Video.Status.PUBLISHED
    assert video.playable.name != video.original.name
    assert video.original.name.endswith(".mkv")
    assert probe_codecs(Path(video.playable.path)) == ("h264", "aac", "mov,mp4,m4a,3gp,3g2,mj2")
    assert list(upload_tmp.iterdir()) == []


def test_title_defaults_to_the_file_name_and_client_content_type_is_ignored(
    user_client, sample_files, tag_calls, django_capture_on_commit_callbacks
):
    response = _upload(user_client, sample_files["mpeg4_avi"], django_capture_on_commit_callbacks,
                       name="假期 vlog.avi", content_type="text/plain")
    assert response.status_code == 201, response.content
    assert response.json()["title"] == "假期 vlog"


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("text", "不是视频文件"),
        ("png", "不是视频文件"),
        ("empty", "文件是空的"),
        ("truncated_mp4", "不完整"),
        ("truncated_moov_last", "已损坏"),
        ("audio_only", "没有视频画面"),
    ],
)
def test_fake_or_broken_files_are_rejected_without_leftovers(
    user_client, sample_files, settings, upload_tmp, name, message, django_capture_on_commit_callbacks
):
    response = _upload(user_client, sample_files[name], django_capture_on_commit_callbacks,
                       title="假的", content_type="video/mp4")
    assert response.status_code == 400
    body = response.json()
    assert message in body["detail"]
    assert "file" in body["errors"]
    assert not Video.objects.exists()
    assert media_files(settings.MEDIA_ROOT) == []
    assert list(upload_tmp.iterdir()) == []


def test_too_long_video_is_rejected(user_client, sample_files, settings, django_capture_on_commit_callbacks):
    settings.VIDEO_MAX_DURATION_SECONDS = 1
    response = _upload(user_client, sample_files["h264_mp4"], django_capture_on_commit_callbacks)
    assert response.status_code == 400
    assert "太长" in response.json()["detail"]
    assert not Video.objects.exists()


def test_over_the_cap_while_streaming_is_413(
    user_client, sample_files, settings, upload_tmp, django_capture_on_commit_callbacks
):
    # Content-Length is under cap + form overhead, so only the byte count during streaming can catch it.
    settings.VIDEO_MAX_UPLOAD_BYTES = 10_000
    response = _upload(user_client, sample_files["h264_mp4"], django_capture_on_commit_callbacks)
    assert response.status_code == 413
    assert "文件太大" in response.json()["detail"] and "9.8 KB" in response.json()["detail"]
    assert not Video.objects.exists()
    assert list(upload_tmp.iterdir()) == []
    assert media_files(settings.MEDIA_ROOT) == []


def test_over_the_cap_by_content_length_is_refused_before_reading(user_client, settings, upload_tmp):
    settings.VIDEO_MAX_UPLOAD_BYTES = 1000
    big = SimpleUploadedFile("big.mp4", b"\0" * 400_000, content_type="video/mp4")
    response = user_client.post(URL, {"file": big, "title": "大"}, format="multipart")
    assert response.status_code == 413
    assert list(upload_tmp.iterdir()) == []


def test_handler_checks_content_length_and_counts_bytes(settings, upload_tmp):
    handler = CappedTemporaryFileUploadHandler(max_bytes=100)
    with pytest.raises(UploadTooLarge):
        handler.handle_raw_input(None, {}, 100 + 512 * 1024, b"x")
    handler = CappedTemporaryFileUploadHandler(max_bytes=100)
    assert handler.handle_raw_input(None, {}, None, b"x") is None  # no Content-Length: counting decides
    handler.new_file("file", "a.mp4", "video/mp4", None)
    handler.receive_data_chunk(b"a" * 60, 0)
    with pytest.raises(UploadTooLarge):
        handler.receive_data_chunk(b"a" * 60, 60)
    assert list(upload_tmp.iterdir()) == []  # the partial temporary file is gone


def test_file_name_is_sanitised_and_never_used_as_path(
    user_client, sample_files, tag_calls, django_capture_on_commit_callbacks
):
    hostile = "..\\..\\etc\\\u202egpm.exe\u200b" + "长" * 300 + ".mp4"
    response = _upload(user_client, sample_files["h264_mp4"], django_capture_on_commit_callbacks, name=hostile)
    assert response.status_code == 201, response.content
    video = Video.objects.get()
    assert "\u202e" not in video.original_name and "\u200b" not in video.original_name
    assert "\\" not in video.original_name and "/" not in video.original_name and ".." not in video.original_name
    assert len(video.original_name) <= 150 and video.original_name.endswith(".mp4")
    assert "长" not in video.original.name and video.original.name.startswith("videos/original/")


def test_anonymous_cannot_upload(api_client, sample_files, settings):
    response = api_client.post(URL, {"file": _file(sample_files["h264_mp4"])}, format="multipart")
    assert response.status_code == 403
    assert not Video.objects.exists()


def test_missing_file_and_bad_visibility_are_400(user_client):
    response = user_client.post(URL, {"title": "无文件"}, format="multipart")
    assert response.status_code == 400 and "file" in response.json()["errors"]
    response = user_client.post(URL, {"file": SimpleUploadedFile("a.mp4", b"x"), "visibility": "friends"},
                                format="multipart")
    assert response.status_code == 400 and "可见范围" in response.json()["detail"]


def test_upload_through_session_auth_checks_csrf(sample_files, client, settings):
    from django.test import Client

    user = UserFactory()
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(user)
    response = strict.post(URL, {"file": _file(sample_files["h264_mp4"])})
    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]
    assert not Video.objects.exists()


def test_over_the_cap_with_session_auth_is_413_from_the_csrf_check(sample_files, settings, upload_tmp):
    from django.test import Client

    settings.VIDEO_MAX_UPLOAD_BYTES = 10_000
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(UserFactory())
    token = "a" * 32
    strict.cookies["csrftoken"] = token
    response = strict.post(URL, {"file": _file(sample_files["h264_mp4"])}, HTTP_X_CSRFTOKEN=token)
    assert response.status_code == 413 and "文件太大" in response.json()["detail"]
    assert list(upload_tmp.iterdir()) == []


def test_uploads_are_throttled(user_client, settings, sample_files):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {
        **settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "upload": "2/hour"}}
    statuses = [user_client.post(URL, {"file": _file(sample_files["text"])}, format="multipart").status_code
                for _ in range(3)]
    assert statuses == [400, 400, 429]
    assert user_client.get(URL).status_code == 200  # reading is never throttled


# --- the form page ---


def test_upload_page_needs_login(client):
    response = client.get(reverse("video-upload"))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_upload_page_renders_the_form(client):
    client.force_login(UserFactory())
    response = client.get(reverse("video-upload"))
    assert response.status_code == 200
    assert 'enctype="multipart/form-data"' in response.content.decode()


def test_upload_page_success_redirects_to_the_video(
    client, sample_files, tag_calls, django_capture_on_commit_callbacks
):
    client.force_login(UserFactory())
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("video-upload"),
            {"file": _file(sample_files["vp8_webm"]), "title": "表单上传", "description": "", "visibility": "public"},
        )
    video = Video.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("video-detail", args=[video.pk])
    assert video.status == Video.Status.PUBLISHED
    page = client.get(response["Location"]).content.decode()
    assert "<video" in page and f"/api/v1/videos/{video.pk}/stream" in page


def test_upload_page_shows_the_reason_for_a_fake(client, sample_files, settings, upload_tmp):
    client.force_login(UserFactory())
    response = client.post(reverse("video-upload"), {"file": _file(sample_files["png"]), "visibility": "public"})
    assert response.status_code == 400
    assert "不是视频文件" in response.content.decode()
    assert not Video.objects.exists() and list(upload_tmp.iterdir()) == []


def test_upload_page_over_the_cap_is_413(client, sample_files, settings, upload_tmp):
    settings.VIDEO_MAX_UPLOAD_BYTES = 10_000
    client.force_login(UserFactory())
    response = client.post(reverse("video-upload"), {"file": _file(sample_files["h264_mp4"]), "visibility": "public"})
    assert response.status_code == 413
    assert "文件太大" in response.content.decode()
    assert not Video.objects.exists() and list(upload_tmp.iterdir()) == []


def test_upload_page_enforces_csrf(sample_files):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    strict.force_login(UserFactory())
    response = strict.post(reverse("video-upload"), {"file": _file(sample_files["h264_mp4"]), "visibility": "public"})
    assert response.status_code == 403
    assert not Video.objects.exists()
