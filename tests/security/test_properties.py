"""Hypothesis properties of the code that handles hostile input, plus the production settings checks."""

from __future__ import annotations

import os
import subprocess
import sys
import unicodedata
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from videoapp.services import media
from videoapp.services.videos import sanitize_filename

REPO = Path(__file__).resolve().parents[2]
HEADERS = [b"", b"\x00\x00\x00\x18ftypisom", b"\x1a\x45\xdf\xa3", b"RIFF\x00\x00\x00\x00AVI ", b"FLV\x01",
           b"OggS", b"\x00\x00\x01\xba", b"\x47" + bytes(187) + b"\x47" + bytes(187) + b"\x47"]


@settings(max_examples=300, deadline=None)
@given(name=st.text(max_size=400))
def test_sanitised_file_names_are_never_paths_or_controls(name):
    clean = sanitize_filename(name=name)
    assert "/" not in clean and "\\" not in clean and "\x00" not in clean
    assert not clean.startswith(".")
    assert len(clean) <= 150
    assert not any(unicodedata.category(ch) in ("Cc", "Cf") for ch in clean)
    assert sanitize_filename(name=clean) == clean  # idempotent


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(header=st.sampled_from(HEADERS), body=st.binary(max_size=4096))
def test_probe_only_ever_raises_media_error(tmp_path, header, body):
    """Whatever the bytes (garbage behind every magic number the sniffer knows), the probe refuses cleanly."""
    path = tmp_path / "upload.bin"
    path.write_bytes(header + body)
    assert media.sniff_container(path=path) in (None, *media.SUPPORTED_DEMUXERS)
    media.mp4_data_cut_off(path=path)  # never raises
    with pytest.raises(media.MediaError):
        media.probe_video(path=path, max_duration_seconds=60)


def _check_deploy(env_overrides: dict) -> subprocess.CompletedProcess:
    # DJANGO_ALLOW_ASYNC_UNSAFE is set by the browser tests (and refused by check --deploy).
    skip = ("SECRET_KEY", "DEBUG", "ALLOWED_HOSTS", "DJANGO_ALLOW_ASYNC_UNSAFE")
    env = {key: value for key, value in os.environ.items() if key not in skip}
    env.update(env_overrides)
    return subprocess.run([sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"], cwd=REPO,
                          env=env, capture_output=True, text=True, timeout=120)


@pytest.mark.slow
def test_production_settings_pass_check_deploy():
    result = _check_deploy({"DEBUG": "0", "SECRET_KEY": "k" * 20 + "-Qx7!pZ2#vL9@mN4$rT6^wY8&bC1*dF3",
                            "ALLOWED_HOSTS": "video.example.com"})
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


@pytest.mark.slow
def test_production_refuses_to_start_without_a_secret_key():
    result = _check_deploy({"DEBUG": "0", "ALLOWED_HOSTS": "video.example.com"})
    assert result.returncode != 0 and "SECRET_KEY must be set" in result.stderr


def test_production_cookies_and_hsts(monkeypatch):
    """The production branch of settings.py, evaluated with DEBUG off."""
    import importlib

    import videoapp.settings as source

    monkeypatch.setenv("DEBUG", "0")
    monkeypatch.setenv("SECRET_KEY", "x" * 60)
    monkeypatch.setenv("ALLOWED_HOSTS", "video.example.com")
    production = importlib.reload(source)
    try:
        assert production.SESSION_COOKIE_SECURE and production.CSRF_COOKIE_SECURE
        assert production.SESSION_COOKIE_HTTPONLY
        assert production.SECURE_HSTS_SECONDS >= 31536000 and production.SECURE_SSL_REDIRECT
        assert production.REST_FRAMEWORK["NUM_PROXIES"] == 0
    finally:
        monkeypatch.undo()
        importlib.reload(source)


@pytest.mark.django_db
def test_database_outage_is_a_503_with_retry_after(monkeypatch):
    from django.db import OperationalError
    from rest_framework.test import APIClient

    from videoapp.apis import videos as video_apis

    def down(**kwargs):
        raise OperationalError("connection refused")

    monkeypatch.setattr(video_apis.video_selectors, "video_list", down)
    response = APIClient(raise_request_exception=False).get("/api/v1/videos/")
    assert response.status_code == 503 and response["Retry-After"] == "5"
    assert response.json()["detail"]


@pytest.mark.django_db
def test_unknown_api_url_is_a_json_404():
    from django.test import Client

    response = Client().get("/api/v1/videos/not-a-number/")
    assert response.status_code == 404 and response.json()["detail"]
    assert Client().get("/no-such-page/").status_code == 404


@pytest.mark.django_db
def test_nul_bytes_in_cookies_and_query_are_a_clean_answer_not_a_database_error(client):
    client.cookies["sessionid"] = "abc\x00def"
    assert client.get("/api/v1/videos/").status_code == 200
    response = client.get("/api/v1/videos/", {"q": "猫\x00"})
    assert response.status_code == 400
    assert "NUL" in response.json()["detail"]
