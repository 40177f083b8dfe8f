"""Fixtures of the site tests: a clean recommender serving state per test, and the browser set-up."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def fresh_serving_state(settings):
    """Artefact caches and the (in-process) exposure filter start empty: ids are reused between tests."""
    from recommender.services.exposure import exposure_reset
    from recommender.services.serving import serving_caches_clear

    settings.RECOMMENDER_VERSION_TTL_SECONDS = 0
    settings.RECOMMENDER_LOCAL_CACHE_SECONDS = 0
    serving_caches_clear()
    exposure_reset()
    yield
    serving_caches_clear()
    exposure_reset()


# --- browser tests --------------------------------------------------------------------------------------
import os  # noqa: E402
import shutil  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

# Playwright's sync API runs an event loop in this thread; Django's ORM calls from the test body are still
# synchronous, so the async-safety guard would refuse them.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--autoplay-policy=no-user-gesture-required"]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"


def chromium_path() -> str | None:
    for candidate in (os.environ.get("CHROMIUM"), *CHROMIUM_CANDIDATES, shutil.which("chromium")):
        if candidate and Path(candidate).exists():
            return candidate
    return None


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN",
                                  base_url=live_server.url)
    context.set_default_timeout(15_000)
    tab = context.new_page()
    yield tab
    # The page's last beacon (sent on pagehide) must not reach the server while the test database is
    # being flushed: refuse every request, leave the page, then give in-flight requests a moment.
    context.route("**/*", lambda route: route.abort())
    tab.goto("about:blank")
    context.close()
    time.sleep(0.3)


def login_as(page, live_server, user) -> None:
    """Sign ``user`` in by giving the browser a session cookie (the login form has its own test)."""
    from django.test import Client

    client = Client()
    client.force_login(user)
    cookie = client.cookies["sessionid"]
    page.context.add_cookies([{"name": "sessionid", "value": cookie.value, "url": live_server.url}])


def screenshot(page, name: str, *, full_page: bool = True) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=full_page)
