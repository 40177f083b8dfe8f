"""What a person does on the site, in a real Chromium (Playwright) against a live server.

Each test leaves a screenshot of the page it drove in test-artifacts/screenshots/.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tagging.models import Tag, VideoTag
from tests.factories import StaffFactory, TagFactory, UserFactory, VideoFactory, VideoTagFactory
from tests.recommender.serving_support import build_catalogue
from tests.site.conftest import login_as, screenshot
from videoapp.models import Dislike, Like, Video

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _rebuild_recommender() -> None:
    from recommender.services.jobs import hot_refresh, interactions_rebuild

    assert interactions_rebuild().status == "succeeded"
    assert hot_refresh().status == "succeeded"


def test_register_onboarding_then_feed_follows_the_chosen_tags(page, live_server):
    build_catalogue(per_category=10, fans_per_category=4, watched=3)
    _rebuild_recommender()
    page.goto("/accounts/register/")
    page.get_by_label("用户名").fill("newviewer")
    page.get_by_label("密码", exact=True).fill("a-long-pass-123")
    page.get_by_label("确认密码").fill("a-long-pass-123")
    page.get_by_role("button", name="注册").last.click()
    expect(page).to_have_url(re.compile(r"/onboarding/$"))
    page.get_by_label("美食").check()
    page.get_by_label("旅行").check()
    page.get_by_label("年龄段").select_option("25_34")
    screenshot(page, "onboarding")
    page.get_by_role("button", name="完成").click()
    expect(page).to_have_url(re.compile(r"/$"))
    cards = page.locator("#feed li.card-item")
    expect(cards.first).to_be_visible()
    first_six = cards.all()[:6]
    chosen = {"美食", "旅行"}
    tagged = [c for c in first_six if chosen & {t.strip("#") for t in c.locator(".tags a").all_inner_texts()}]
    assert len(tagged) >= 4, [c.inner_text() for c in first_six]
    reasons = page.locator("#feed .reason").all_inner_texts()
    assert any("你关注的标签" in r for r in reasons), reasons
    screenshot(page, "home")
    # Scrolling loads the next page, and it repeats nothing.
    before = page.locator("#feed li.card-item").count()
    ids_before = page.locator("#feed li.card-item").evaluate_all("els => els.map(e => e.dataset.videoId)")
    assert before == 20
    page.locator("#more-button").click()
    expect(page.locator("#feed li.card-item")).not_to_have_count(before)
    expect(page.locator("#more-done")).to_be_visible()
    ids_after = page.locator("#feed li.card-item").evaluate_all("els => els.map(e => e.dataset.videoId)")
    assert len(ids_after) == len(set(ids_after)) and ids_after[: len(ids_before)] == ids_before


def test_upload_progress_processing_published_then_plays_and_seeks(page, live_server, tmp_path):
    from tests.videoapp.videofiles import make_video

    clip = make_video(tmp_path / "clip.mp4", seconds=4.0, width=160, height=120, fps=10)
    owner = UserFactory(username="uploader")
    login_as(page, live_server, owner)
    page.goto("/upload/")
    page.locator("#id_file").set_input_files(str(clip))
    page.get_by_label("标题").fill("浏览器上传的视频")
    page.get_by_label("简介").fill("一段测试视频 #测试上传")
    page.get_by_role("button", name="上传", exact=True).click()
    expect(page.locator("#processing-status")).to_have_attribute("data-status", "published", timeout=60_000)
    progress = page.locator("#upload-progress")
    assert float(progress.get_attribute("data-loaded") or 0) > 0
    assert progress.evaluate("el => el.value === el.max && el.max > 1")
    expect(page.locator("#step-tags")).to_be_visible()
    screenshot(page, "upload")
    video = Video.objects.get(title="浏览器上传的视频")
    assert video.status == Video.Status.PUBLISHED

    ranges: list[int] = []
    page.on("response", lambda r: ranges.append(r.status) if "/stream" in r.url else None)
    page.locator("#watch-link").click()
    expect(page).to_have_url(re.compile(rf"/watch/{video.pk}/$"))
    player = page.locator("#player")
    player.evaluate("v => v.muted = true")
    page.wait_for_function("() => document.getElementById('player').readyState >= 1", timeout=20_000)
    duration = player.evaluate("v => v.duration")
    assert 3.5 < duration < 4.5
    player.evaluate("v => v.play()")
    page.wait_for_function("() => document.getElementById('player').currentTime > 0.2", timeout=20_000)
    player.evaluate("v => { v.pause(); v.currentTime = 3.0; }")
    page.wait_for_function("() => !document.getElementById('player').seeking", timeout=20_000)
    assert abs(player.evaluate("v => v.currentTime") - 3.0) < 0.3
    assert 206 in ranges, ranges
    screenshot(page, "watch")


def test_comment_reply_like_and_not_interested(page, live_server, monkeypatch):
    viewer = UserFactory(username="commenter")
    video = VideoFactory(title="可以评论的视频")
    others = [VideoFactory(title=f"推荐视频{i}") for i in range(5)]
    login_as(page, live_server, viewer)
    page.goto("/")
    # Not the video liked below: a like clears the viewer's "not interested" mark on the same video.
    target = page.locator(f"#feed li.card-item:not([data-video-id='{video.pk}'])").first
    target_id = int(target.get_attribute("data-video-id"))
    target.locator(".js-dislike").click()
    expect(page.locator(f'#feed li.card-item[data-video-id="{target_id}"]')).to_have_count(0)
    assert Dislike.objects.filter(user=viewer, video_id=target_id).exists()
    assert target_id in {v.pk for v in others}
    page.goto(f"/watch/{video.pk}/")
    page.get_by_label("写下你的评论").fill("第一条评论")
    page.get_by_role("button", name="发表评论").click()
    expect(page.locator("#comment-list > li.comment").first).to_contain_text("第一条评论")
    page.locator("#comment-list .js-reply").first.click()
    page.get_by_label("写下你的评论").fill("这是回复")
    page.get_by_role("button", name="发表评论").click()
    expect(page.locator("#comment-list .replies li.reply")).to_contain_text("这是回复")
    expect(page.locator("#comment-count")).to_have_text("2")

    expect(page.locator("#like-count")).to_have_text("0")
    page.locator("#like-button").click()
    expect(page.locator("#like-count")).to_have_text("1")
    expect(page.locator("#like-button")).to_have_attribute("aria-pressed", "true")
    assert Like.objects.filter(user=viewer, video=video).exists()
    page.reload()
    expect(page.locator("#comment-list")).to_contain_text("这是回复")
    expect(page.locator("#like-count")).to_have_text("1")

    # Even with the "already shown" filter switched off, the disliked video never comes back.
    from recommender.services.exposure import ExactExposure
    from recommender.services.feed import impressions as feed_impressions
    from recommender.services.feed import page as feed_page

    # The filter is switched off on both paths: the Redis Bloom pipeline and the exact one.
    monkeypatch.setattr(feed_page, "exposure_backend", ExactExposure)
    monkeypatch.setattr(feed_impressions, "exposure_backend", ExactExposure)
    monkeypatch.setattr(feed_page, "exposure_seen", lambda **kwargs: (set(), "off"))
    page.goto("/")
    ids = page.locator("#feed li.card-item").evaluate_all("els => els.map(e => Number(e.dataset.videoId))")
    assert ids and target_id not in ids


def test_staff_merges_two_tags_and_the_video_shows_the_canonical_one(page, live_server):
    staff = StaffFactory(username="editor")
    video = VideoFactory(title="猫的视频")
    VideoTagFactory(video=video, tag=TagFactory(name="喵星人", category="动物"))
    TagFactory(name="猫", category="动物")
    login_as(page, live_server, staff)
    page.goto("/backoffice/tags/")
    page.get_by_label("要合并的标签").fill("喵星人")
    page.get_by_label("合并到（规范标签）").fill("猫")
    page.get_by_role("button", name="合并", exact=True).click()
    expect(page.locator(".messages")).to_contain_text("已合并")
    screenshot(page, "backoffice-tags")
    assert Tag.objects.get(name="喵星人").merged_into.name == "猫"
    assert list(VideoTag.objects.filter(video=video).values_list("tag__name", flat=True)) == ["猫"]
    page.goto(f"/watch/{video.pk}/")
    tags = page.locator("#video-tags a").all_inner_texts()
    assert tags == ["#猫"]
    page.goto("/backoffice/")
    expect(page.locator("svg.chart").first).to_be_visible()
    screenshot(page, "backoffice-dashboard")


def test_english_switch_changes_the_ui_language(page, live_server):
    VideoFactory(title="一个视频")
    page.goto("/")
    expect(page.get_by_role("link", name="为你推荐")).to_be_visible()
    page.get_by_label("语言").first.select_option("en")
    page.locator("#language-submit").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_role("link", name="For you")).to_be_visible()
    expect(page.get_by_role("link", name="Upload", exact=True)).to_be_visible()
    screenshot(page, "home-en")


def test_pages_on_a_phone_screen_and_search(page, live_server):
    video = VideoFactory(title="家常红烧肉的做法", category="美食")
    VideoTagFactory(video=video, tag=TagFactory(name="红烧肉", category="美食"))
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto("/search/?q=红烧肉")
    expect(page.locator("li.card-item")).to_have_count(1)
    scroll_width = page.evaluate("() => document.documentElement.scrollWidth")
    assert scroll_width <= 392, f"horizontal overflow on a phone: {scroll_width}px"
    screenshot(page, "search-phone")
    page.goto("/tags/红烧肉/")
    expect(page.locator("h1")).to_have_text("#红烧肉")
    screenshot(page, "tag-phone")
    page.goto(f"/u/{video.owner.username}/")
    expect(page.locator("li.card-item")).to_have_count(1)
    screenshot(page, "profile-phone")


def test_api_docs_render_from_the_site_itself_under_the_csp(page, live_server):
    outside, violations = [], []
    page.on("request", lambda request: outside.append(request.url)
            if not request.url.startswith(live_server.url) and not request.url.startswith("data:") else None)
    page.on("console", lambda message: violations.append(message.text)
            if "Content Security Policy" in message.text else None)
    page.goto("/api/docs/")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("Video platform API")
    expect(page.locator(".opblock").first).to_be_visible()
    assert outside == [], f"assets fetched from outside the site: {outside}"
    assert violations == []
    screenshot(page, "api-docs")
