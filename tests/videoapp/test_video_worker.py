"""An upload through the API is processed by a real Celery worker process (Redis broker, PostgreSQL)."""

# Pytest fixtures are imported from tests.videoapp.videofiles and used as test arguments.
# ruff: noqa: F401, F811

from __future__ import annotations

import time
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from tests.factories import UserFactory
from tests.videoapp.videofiles import probe_codecs, sample_files
from videoapp.models import Video

pytestmark = pytest.mark.worker


def _wait_for(video_id: int, *, timeout: float = 60) -> Video:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        video = Video.objects.get(pk=video_id)
        if video.status != Video.Status.PROCESSING:
            return video
        time.sleep(0.25)
    pytest.fail(f"video {video_id} still processing after {timeout} s")


def test_uploaded_video_is_published_by_the_worker(celery_worker, api_client, sample_files):
    user = UserFactory()
    api_client.force_authenticate(user)
    upload = SimpleUploadedFile("clip.webm", sample_files["vp8_webm"].read_bytes(), content_type="video/webm")
    response = api_client.post("/api/v1/videos/", {"file": upload, "title": "工人处理"}, format="multipart")
    assert response.status_code == 201, response.content
    assert response.json()["status"] == "processing"  # the web process did not process it itself

    video = _wait_for(response.json()["id"])
    assert video.status == Video.Status.PUBLISHED, video.failure_reason
    assert video.published_at is not None and (video.width, video.height) == (64, 48)
    assert probe_codecs(Path(video.playable.path))[:2] == ("h264", "aac")
    assert Path(video.poster.path).read_bytes()[:3] == b"\xff\xd8\xff"

    stream = api_client.get(f"/api/v1/videos/{video.pk}/stream", HTTP_RANGE="bytes=0-15")
    assert stream.status_code == 206 and len(b"".join(stream.streaming_content)) == 16


def test_broken_file_that_passed_upload_fails_in_the_worker(celery_worker, sample_files, settings):
    from videoapp.services import videos as video_services
    from videoapp.tasks import video_process

    video = video_services.video_create(
        owner=UserFactory(), file=SimpleUploadedFile("a.mp4", sample_files["h264_mp4"].read_bytes()), title="坏"
    )
    # The file is damaged on disk after the upload was accepted: the worker must report, not crash.
    Path(video.original.path).write_bytes(sample_files["truncated_mp4"].read_bytes())
    video_process.delay(video.pk)
    video = _wait_for(video.pk)
    assert video.status == Video.Status.FAILED and video.failure_reason
