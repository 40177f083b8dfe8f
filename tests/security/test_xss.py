"""Stored XSS: 60 payloads in titles, descriptions, comments, tags, display names and the keyword library,
rendered on every page that shows them, in a real Chromium.

Each payload tries to run ``window.__xss`` (or ``alert``); the test records dialogs and reads the flag
after each page.  Two passes: one with the Content-Security-Policy bypassed (HTML escaping alone must
hold) and one with it on (nothing runs, and the site's own scripts cause no CSP violation).
"""

from __future__ import annotations

import pytest
from django.test import Client

from tagging.models import KeywordEntry, Tag, VideoTag
from tests.factories import CommentFactory, StaffFactory, UserFactory, VideoFactory
from tests.site.conftest import CHROMIUM_ARGS, chromium_path, fresh_serving_state, login_as  # noqa: F401
from videoapp.models import Profile

RUN = "window.__xss=(window.__xss||0)+1"
VECTORS = [
    "<script>{run}</script>",
    "<img src=x onerror=\"{run}\">",
    "<svg onload=\"{run}\">",
    "<svg><script>{run}</script></svg>",
    "\"><script>{run}</script>",
    "'><img src=x onerror={run}>",
    "</title><script>{run}</script>",
    "</textarea><script>{run}</script>",
    "</script><script>{run}</script>",
    "<body onload=\"{run}\">",
    "<details open ontoggle=\"{run}\">",
    "<input autofocus onfocus=\"{run}\">",
    "<video><source onerror=\"{run}\"></video>",
    "<audio src=x onerror=\"{run}\">",
    "<iframe srcdoc=\"<script>parent.__xss=1</script>\">",
    "<iframe src=\"javascript:parent.__xss=1\">",
    "<object data=\"javascript:{run}\">",
    "<embed src=\"javascript:{run}\">",
    "<a href=\"javascript:{run}\" id=xsslink>x</a>",
    "<math><mtext><table><mglyph><style><img src=x onerror=\"{run}\">",
    "<style>@import 'javascript:{run}';</style>",
    "<marquee onstart=\"{run}\">",
    "<div style=\"background:url(javascript:{run})\">",
    "<base href=\"javascript:{run}//\">",
    "<meta http-equiv=\"refresh\" content=\"0;url=javascript:{run}\">",
    "<form><button formaction=\"javascript:{run}\">x</button></form>",
    "<scr<script>ipt>{run}</scr</script>ipt>",
    "<ScRiPt>{run}</sCrIpT>",
    "<img src=\"x\" onerror=\"&#119;indow.__xss=1\">",
    "&lt;script&gt;{run}&lt;/script&gt;",
    "\\u003cscript\\u003e{run}\\u003c/script\\u003e",
    "javascript:{run}",
    "{{{{ 7*7 }}}}{{% debug %}}",
    "${{alert(1)}}",
    "\" onmouseover=\"{run}\" x=\"",
    "' onfocus='{run}' autofocus='",
    "<img src=x:alert(alt) onerror=eval(src) alt=1>",
    "<svg><animate onbegin=\"{run}\" attributeName=x dur=1s>",
    "<x contenteditable onfocus=\"{run}\" autofocus>x",
    "<img srcset=\",,,,,x\" onerror=\"{run}\">",
    "<noscript><p title=\"</noscript><img src=x onerror={run}>\">",
    "<template><script>{run}</script></template>",
    "<select autofocus onfocus=\"{run}\">",
    "<keygen autofocus onfocus=\"{run}\">",
    "<isindex type=image src=1 onerror=\"{run}\">",
    "<link rel=import href=\"data:text/html,<script>parent.__xss=1</script>\">",
    "<script src=\"data:text/javascript,{run}\"></script>",
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "\u202e<script>{run}</script>",
    "中文<script>{run}</script>标题",
    "#<script>{run}</script>",
    "@<img src=x onerror={run}>",
    "<svg/onload={run}>",
    "<img/src/onerror={run}>",
    "<body/onpageshow={run}>",
    "<%00script>{run}</script>",
    "<!--<img src=\"--><img src=x onerror={run}//\">",
    "]]><script>{run}</script>",
    "<xmp><script>{run}</script></xmp>",
]
PAYLOADS = [vector.replace("{run}", RUN).replace("{{", "{").replace("}}", "}") for vector in VECTORS]


def short(payload: str, limit: int = 60) -> str:
    return payload[:limit]


def test_there_are_enough_payloads():
    assert len(set(PAYLOADS)) >= 50


@pytest.fixture
def hostile_world(transactional_db):
    """Every place user text shows up, filled with the payloads."""
    staff = StaffFactory(username="staffxss")
    uploaders = []
    for index, payload in enumerate(PAYLOADS[:12]):
        user = UserFactory(username=f"xss{index}")
        Profile.objects.update_or_create(user=user, defaults={"display_name": short(payload, 64),
                                                               "bio": payload})
        uploaders.append(user)
    videos = []
    for index, payload in enumerate(PAYLOADS):
        video = VideoFactory(owner=uploaders[index % len(uploaders)], title=short(payload, 200),
                             description=f"{payload}\n{PAYLOADS[-1 - index]}", category=short(payload, 64))
        videos.append(video)
    target = videos[0]
    for index, payload in enumerate(PAYLOADS):
        CommentFactory(video=target, author=uploaders[index % len(uploaders)], text=payload)
        tag, _created = Tag.objects.get_or_create(name=short(payload, 64))
        VideoTag.objects.get_or_create(video=videos[index], tag=tag, defaults={"source": "uploader",
                                                                               "state": "active"})
        VideoTag.objects.get_or_create(video=target, tag=tag, defaults={"source": "viewer", "state": "suggested"})
        KeywordEntry.objects.get_or_create(word=short(payload, 64), kind=KeywordEntry.Kind.USER_WORD)
    return {"staff": staff, "uploaders": uploaders, "videos": videos, "target": target}


def pages_to_visit(world) -> list[str]:
    target = world["target"]
    urls = ["/", "/?tab=hot", "/?tab=fresh", f"/watch/{target.pk}/", f"/videos/{target.pk}/",
            f"/u/{world['uploaders'][0].username}/", f"/u/{world['uploaders'][1].username}/",
            "/search/?q=script", "/search/?q=" + "%3Cscript%3Ealert(1)%3C/script%3E",
            "/backoffice/", "/backoffice/keywords/", "/backoffice/tags/", "/backoffice/jobs/",
            "/me/history/", "/me/interests/", "/onboarding/"]
    urls += [f"/watch/{video.pk}/" for video in world["videos"][1:6]]
    urls += [f"/tags/{tag.name}/" for tag in Tag.objects.order_by("pk")[:4]]
    return urls


def visit_all(chromium, live_server, world, *, bypass_csp: bool) -> dict:
    context = chromium.new_context(base_url=live_server.url, bypass_csp=bypass_csp, locale="zh-CN")
    context.set_default_timeout(15_000)
    page = context.new_page()
    dialogs, csp_errors, executed, errors, rendered = [], [], [], [], []
    page.on("dialog", lambda dialog: (dialogs.append((page.url, dialog.message)), dialog.dismiss()))
    page.on("console", lambda msg: csp_errors.append((page.url, msg.text, msg.location))
            if "Content Security Policy" in msg.text else None)
    login_as(page, live_server, world["staff"])
    for url in pages_to_visit(world):
        response = page.goto(url)
        if response is None or response.status >= 500:
            errors.append((url, response.status if response else None))
            continue
        source = response.text()
        executed.extend((url, "raw payload in the HTML", payload) for payload in PAYLOADS
                        if "<" in short(payload, 64) and short(payload, 64) in source)
        page.wait_for_timeout(150)  # let autofocus/onload/onerror handlers fire if any got through
        # Injected markup shows up as elements with on* attributes even when its event never fires.
        handlers = page.evaluate("""() => [...document.querySelectorAll('*')]
            .filter(e => [...e.attributes].some(a => a.name.toLowerCase().startsWith('on')))
            .map(e => e.outerHTML.slice(0, 160))""")
        executed.extend((url, "inline handler in the DOM", html) for html in handlers)
        for link in page.locator("a[href^='javascript:' i]").all():
            executed.append((url, "javascript: link", link.get_attribute("href")))
        if page.evaluate("() => window.__xss || 0"):
            executed.append((url, "window.__xss"))
        if url == f"/watch/{world['target'].pk}/":
            # The payloads are really on the page, as text.
            shown = page.inner_text("body")
            rendered.extend(payload for payload in PAYLOADS if short(payload, 64) in shown)
    # The detector itself works: the same payload, unescaped, does set the flag (in a blank page of its own,
    # which has no policy: written into a site page, the CSP would block it and log a violation).
    blank = context.new_page()
    blank.set_content(PAYLOADS[1])
    blank.wait_for_timeout(100)
    detector_works = bool(blank.evaluate("() => window.__xss || 0"))
    context.route("**/*", lambda route: route.abort())
    page.goto("about:blank")
    context.close()
    return {"dialogs": dialogs, "executed": executed, "csp": csp_errors, "errors": errors,
            "rendered": rendered, "detector_works": detector_works}


@pytest.mark.browser
def test_no_payload_runs_with_escaping_alone(browser, live_server, hostile_world):  # noqa: F811
    result = visit_all(browser, live_server, hostile_world, bypass_csp=True)
    assert result["errors"] == []
    assert result["dialogs"] == []
    assert result["executed"] == []
    assert len(result["rendered"]) >= 50  # comments on the watch page show every payload as text
    assert result["detector_works"]


@pytest.mark.browser
def test_no_payload_runs_and_site_scripts_respect_the_csp(browser, live_server, hostile_world):  # noqa: F811
    result = visit_all(browser, live_server, hostile_world, bypass_csp=False)
    assert result["errors"] == []
    assert result["dialogs"] == [] and result["executed"] == []
    # The site's own scripts all pass the policy (an inline script without the nonce would show up here).
    assert result["csp"] == []


@pytest.mark.browser
def test_profile_follow_button_works_under_the_csp(browser, live_server, transactional_db):  # noqa: F811
    """The nonce'd inline script of the profile page still runs: the policy does not break the site."""
    from playwright.sync_api import expect

    creator = UserFactory(username="creatorcsp")
    VideoFactory(owner=creator)
    fan = UserFactory(username="fancsp")
    context = browser.new_context(base_url=live_server.url, locale="zh-CN")
    page = context.new_page()
    login_as(page, live_server, fan)
    page.goto(f"/u/{creator.username}/")
    page.locator("#profile-follow").click()
    expect(page.locator("#profile-follow")).to_have_attribute("aria-pressed", "true")
    context.route("**/*", lambda route: route.abort())
    page.goto("about:blank")
    context.close()


# --- the header itself (no browser) ---

@pytest.mark.django_db
@pytest.mark.parametrize("url", ["/", "/accounts/login/", "/search/?q=x", "/api/v1/health/live", "/admin/login/"])
def test_csp_header_is_on_every_page(url):
    response = Client().get(url)
    policy = response["Content-Security-Policy"]
    assert "default-src 'self'" in policy and "object-src 'none'" in policy and "frame-ancestors 'none'" in policy
    assert "'unsafe-inline'" not in policy.split("script-src", 1)[1].split(";", 1)[0]


@pytest.mark.django_db
def test_csp_nonce_changes_per_request_and_matches_the_inline_script():
    user = UserFactory(username="noncecheck")
    client = Client()
    client.force_login(user)
    first = client.get(f"/u/{user.username}/")
    second = client.get(f"/u/{user.username}/")
    nonce = first["Content-Security-Policy"].split("'nonce-", 1)[1].split("'", 1)[0]
    assert nonce not in second["Content-Security-Policy"]
    assert f'<script nonce="{nonce}">' in first.content.decode()
