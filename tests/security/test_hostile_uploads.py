"""Hostile uploads: over 100 generated files through the API and the form page.

Goal: 0 accepted, 0 server errors, every rejection a 4xx with a message, 0 files left on disk (media
root and the upload temporary folder), and no upload echoed back as HTML.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from rest_framework.test import APIClient

from tests.factories import UserFactory
from tests.security.hostile_files import HTML, build_corpus
from tests.videoapp.videofiles import make_video
from videoapp.models import Video

pytestmark = [pytest.mark.django_db]

API = "/api/v1/videos/"
PAGE = "/videos/upload/"


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return build_corpus(tmp_path_factory.mktemp("hostile"))


@pytest.fixture
def isolated_dirs(settings, tmp_path) -> tuple[Path, Path]:
    media, uploads = tmp_path / "media", tmp_path / "uploads"
    media.mkdir()
    uploads.mkdir()
    settings.MEDIA_ROOT = media
    settings.FILE_UPLOAD_TEMP_DIR = str(uploads)
    # Every request below is an upload: the upload rate limit is not what this test is about.
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {
        **settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "upload": "100000/hour"}}
    return media, uploads


def leftovers(*folders: Path) -> list[Path]:
    return [path for folder in folders for path in folder.rglob("*") if path.is_file()]


BOUNDARY = "hostile-boundary-7MA4YWxkTrZu0gW"


def multipart(item) -> bytes:
    """The raw body, written by hand: test clients refuse some of these names (empty, NUL) themselves."""
    # Browsers percent-encode quotes and line breaks in file names; everything else goes through raw.
    name = item.name.replace('"', "%22").replace("\r", "%0D").replace("\n", "%0A")
    parts = [
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="title"\r\n\r\nhostile\r\n'.encode(),
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="visibility"\r\n\r\npublic\r\n'.encode(),
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'.encode(),
        (f"Content-Type: {item.content_type}\r\n" if item.content_type else "").encode() + b"\r\n",
        item.data + b"\r\n",
        f"--{BOUNDARY}--\r\n".encode(),
    ]
    return b"".join(parts)


def post_upload(client, url: str, item):
    return client.generic("POST", url, multipart(item), content_type=f"multipart/form-data; boundary={BOUNDARY}")


def test_corpus_is_big_and_varied(corpus):
    assert len(corpus) >= 100
    cases = " ".join(item.case for item in corpus)
    for kind in ("png+html", "renamed", "0 bytes", "truncated mp4", "audio-only", "png stills", "name"):
        assert kind in cases


def test_api_refuses_every_hostile_file(corpus, isolated_dirs):
    media, uploads = isolated_dirs
    client = APIClient(raise_request_exception=False)
    client.force_authenticate(UserFactory())
    problems = []
    for item in corpus:
        response = post_upload(client, API, item)
        body = response.content
        if response.status_code >= 500 or not 400 <= response.status_code < 500:
            problems.append((item.case, response.status_code, body[:200]))
            continue
        if not response["Content-Type"].startswith("application/json"):
            problems.append((item.case, "content type", response["Content-Type"]))
            continue
        detail = response.json().get("detail")
        if not isinstance(detail, str) or not detail.strip():
            problems.append((item.case, "no message", body[:200]))
        if b"<script>" in body or b"<svg" in body:
            problems.append((item.case, "echoed markup", body[:200]))
        files = leftovers(media, uploads)
        if files:
            problems.append((item.case, "left on disk", files))
            for path in files:
                path.unlink()
    assert problems == []
    assert not Video.objects.exists()


def test_form_page_refuses_every_hostile_file(corpus, isolated_dirs):
    media, uploads = isolated_dirs
    client = Client(raise_request_exception=False)
    client.force_login(UserFactory())
    problems = []
    for item in corpus[::2]:  # half of the corpus: the page shares the service with the API
        response = post_upload(client, PAGE, item)
        page = response.content.decode("utf-8", "replace")
        if not 400 <= response.status_code < 500:
            problems.append((item.case, response.status_code))
            continue
        # A body Django cannot parse (e.g. a 1000-character file name overflows its part-header limit)
        # gets Django's own "Bad Request (400)" page; everything else the form's message.
        if 'class="errorlist' not in page and 'class="error"' not in page and "Bad Request (400)" not in page:
            problems.append((item.case, "no message on the page"))
        # The page is HTML by design; the upload's markup must never appear unescaped in it.
        if "window.__pwned" in page and "<script>window.__pwned" in page:
            problems.append((item.case, "payload echoed unescaped"))
        if leftovers(media, uploads):
            problems.append((item.case, "left on disk"))
    assert problems == []
    assert not Video.objects.exists()


@pytest.mark.parametrize("over", [1, 2, 4096])
def test_size_cap_plus_bytes_is_413_and_leaves_nothing(isolated_dirs, settings, tmp_path, over):
    media, uploads = isolated_dirs
    data = make_video(tmp_path / "ok.mp4", seconds=1.0).read_bytes()
    settings.VIDEO_MAX_UPLOAD_BYTES = len(data) - over
    client = APIClient()
    client.force_authenticate(UserFactory())
    response = client.post(API, {"file": SimpleUploadedFile("ok.mp4", data, content_type="video/mp4")},
                           format="multipart")
    assert response.status_code == 413
    assert "文件太大" in response.json()["detail"]
    assert leftovers(media, uploads) == [] and not Video.objects.exists()


def test_exactly_the_cap_is_accepted(isolated_dirs, settings, tmp_path, django_capture_on_commit_callbacks,
                                     monkeypatch):
    """The control case: the same file at exactly the cap passes, so the refusals above are not blanket ones."""
    from videoapp.services import videos as video_services

    monkeypatch.setattr(video_services, "video_tags_suggest_queue", lambda *, video_id: None)
    data = make_video(tmp_path / "ok.mp4", seconds=1.0).read_bytes()
    settings.VIDEO_MAX_UPLOAD_BYTES = len(data)
    client = APIClient()
    client.force_authenticate(UserFactory())
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(API, {"file": SimpleUploadedFile("ok.mp4", data, content_type="text/html")},
                               format="multipart")
    assert response.status_code == 201, response.content


def test_valid_video_with_html_appended_is_served_as_video_only(isolated_dirs, tmp_path, monkeypatch,
                                                                django_capture_on_commit_callbacks):
    """A polyglot that *is* a valid video may be accepted, but never comes back as a document."""
    from videoapp.services import videos as video_services

    monkeypatch.setattr(video_services, "video_tags_suggest_queue", lambda *, video_id: None)
    data = make_video(tmp_path / "ok.mp4", seconds=1.0).read_bytes() + HTML
    client = APIClient()
    client.force_authenticate(UserFactory())
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(API, {"file": SimpleUploadedFile("x.html", data, content_type="text/html")},
                               format="multipart")
    if response.status_code != 201:
        assert response.status_code == 400 and response.json()["detail"]
        return
    video = Video.objects.get(pk=response.json()["id"])
    assert not video.original.name.endswith((".html", ".htm", ".svg"))
    stream = client.get(f"/api/v1/videos/{video.pk}/stream")
    assert stream.status_code == 200
    assert stream["Content-Type"] == "video/mp4" and stream["X-Content-Type-Options"] == "nosniff"
