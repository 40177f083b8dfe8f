"""Shared fixtures.

Tests run on whatever ``DATABASE_URL`` names (SQLite by default, PostgreSQL in CI).  Celery runs
eagerly inside the test process, except in tests that take the ``celery_worker`` fixture: those
start a real ``celery -A videoapp worker`` process against the broker in ``CELERY_BROKER_URL`` and
the test database, and are skipped (or, with ``REQUIRE_SERVICES=1`` as in CI, fail) without one.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings

from videoapp.celery import app as celery_app

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def media_root(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("media")


@pytest.fixture(autouse=True)
def _isolated_media_and_eager_celery(settings, media_root, tmp_path):
    settings.MEDIA_ROOT = media_root
    settings.ARTEFACT_ROOT = tmp_path / "artefacts"
    # Password hashing is deliberately slow; tests create many users and log in often.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    # The app reads Django settings with the CELERY_ namespace: only the prefixed keys take effect
    # (``conf.task_always_eager = ...`` would be stored under a name nobody reads).
    previous = celery_app.conf.task_always_eager
    celery_app.conf.CELERY_TASK_ALWAYS_EAGER = True
    celery_app.conf.CELERY_TASK_EAGER_PROPAGATES = True
    yield
    celery_app.conf.CELERY_TASK_ALWAYS_EAGER = previous


@pytest.fixture(autouse=True)
def _clear_cache():
    from django.core.cache import cache

    cache.clear()
    yield


def _services_required() -> bool:
    return os.environ.get("REQUIRE_SERVICES") == "1"


@pytest.fixture
def redis_client():
    """A client of the real Redis at ``REDIS_URL`` (skipped without one; a failure in CI)."""
    if not os.environ.get("REDIS_URL"):
        message = "needs REDIS_URL (a real Redis; .ci/run sets it)"
        if _services_required():
            pytest.fail(message)
        pytest.skip(message)
    import redis

    client = redis.Redis.from_url(os.environ["REDIS_URL"])
    yield client
    client.close()


@pytest.fixture(scope="session")
def _worker_process(django_db_setup, django_db_blocker, media_root):
    """A real Celery worker process on the test database, started once per session."""
    from django.db import connection

    broker = settings.CELERY_BROKER_URL
    if not broker or connection.vendor != "postgresql":
        message = "needs CELERY_BROKER_URL and a PostgreSQL DATABASE_URL (.ci/run sets both)"
        if _services_required():
            pytest.fail(message)
        pytest.skip(message)
    db = connection.settings_dict
    env = dict(os.environ)
    env["DATABASE_URL"] = (
        f"postgres://{db['USER'] or 'postgres'}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    )
    env["MEDIA_ROOT"] = str(media_root)
    env["ARTEFACT_ROOT"] = str(media_root.parent / "worker-artefacts")
    # The worker consumes the queue this process sends to; messages left there by an earlier,
    # interrupted run would run against the wrong database, so the queue starts empty.
    queue = settings.CELERY_TASK_DEFAULT_QUEUE
    celery_app.control.purge()
    log = open(media_root / "worker.log", "w")  # noqa: SIM115 (closed in teardown)
    proc = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "videoapp", "worker", "--pool", "solo", "-Q", queue,
         "--loglevel", "INFO", "--without-gossip", "--without-mingle", "--without-heartbeat"],
        cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"worker exited: {(media_root / 'worker.log').read_text()[-2000:]}")
        if "ready." in (media_root / "worker.log").read_text():
            break
        time.sleep(0.3)
    else:
        proc.kill()
        pytest.fail("Celery worker did not become ready in 60 s")
    yield queue
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


@pytest.fixture
def celery_worker(_worker_process, transactional_db):
    """Send tasks to the real worker for this test (data must be committed: transactional_db)."""
    celery_app.conf.CELERY_TASK_ALWAYS_EAGER = False
    yield _worker_process
    celery_app.conf.CELERY_TASK_ALWAYS_EAGER = True


@pytest.fixture
def api_client():
    from rest_framework.test import APIClient

    return APIClient()


@pytest.fixture
def shared_data() -> Path:
    """The workplace's read-only data sets; tests that need them skip when absent."""
    path = REPO.parent / "shared" / "data"
    if not path.exists():
        pytest.skip(f"{path} not present on this machine")
    return path


def has_ffmpeg_encoder() -> bool:
    try:
        import av

        av.codec.Codec("libx264", "w")
        return True
    except Exception:
        return False


def which(name: str) -> str | None:
    return shutil.which(name)


@pytest.fixture(scope="session")
def browser():
    """One headless Chromium for the whole session.

    Playwright's sync API allows one running instance per thread, so every browser test (tests/site,
    tests/security) shares this fixture instead of defining its own.
    """
    from tests.site.conftest import CHROMIUM_ARGS, chromium_path

    executable = chromium_path()
    if executable is None:
        pytest.skip("no Chromium on this machine: `apt-get install chromium` (make browsers) to run the browser tests")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS, headless=True)
        yield instance
        instance.close()
