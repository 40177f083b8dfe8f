"""Page tests (Django test client): every page renders, forms show errors next to fields, views call the services."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tagging.models import Tag, UserInterest, VideoTag
from tests.factories import (
    CommentFactory,
    EventFactory,
    StaffFactory,
    TagFactory,
    UserFactory,
    VideoFactory,
    VideoTagFactory,
)
from videoapp.models import Follow, Profile
from videoapp.pages import selectors

pytestmark = pytest.mark.django_db


def card_ids(html: str) -> list[str]:
    return [chunk.split('"')[0] for chunk in html.split('class="card card-item" data-video-id="')[1:]]


@pytest.fixture
def viewer(client):
    user = UserFactory(username="viewer")
    client.force_login(user)
    return user


def test_home_tabs_render_for_anonymous_and_user(client):
    video = VideoFactory(title="红烧肉做法", category="美食")
    for tab in ("foryou", "hot", "following"):
        response = client.get("/", {"tab": tab})
        assert response.status_code == 200
    assert "红烧肉做法" in client.get("/", {"tab": "hot"}).content.decode()
    assert "登录后可以看到" in client.get("/", {"tab": "following"}).content.decode()
    assert video.pk


def test_following_tab_lists_followed_uploads_only(client, viewer):
    followed, other = UserFactory(), UserFactory()
    VideoFactory(owner=followed, title="关注的人的视频")
    VideoFactory(owner=other, title="别人的视频")
    Follow.objects.create(follower=viewer, followee=followed)
    body = client.get("/", {"tab": "following"}).content.decode()
    assert "关注的人的视频" in body and "别人的视频" not in body


def test_following_pages_never_repeat(client, viewer):
    followed = UserFactory()
    Follow.objects.create(follower=viewer, followee=followed)
    for i in range(25):
        VideoFactory(owner=followed, title=f"第{i}个")
    first = client.get("/", {"tab": "following"})
    second = client.get(reverse("site-home-more"), {"tab": "following", "page": 2})
    assert second["X-Has-Next"] == "0"
    ids_1, ids_2 = set(card_ids(first.content.decode())), set(card_ids(second.content.decode()))
    assert len(ids_1) == 20 and len(ids_2) == 5 and not ids_1 & ids_2


def test_foryou_more_pages_never_repeat(client, viewer):
    for i in range(30):
        VideoFactory(title=f"视频{i}")
    first = client.get("/")
    more = client.get(reverse("site-home-more"), {"tab": "foryou", "page": 2})
    page1, page2 = card_ids(first.content.decode()), card_ids(more.content.decode())
    assert page1 and page2
    assert not set(page1) & set(page2)


def test_register_then_onboarding_seeds_interests(client):
    TagFactory(name="猫", category="动物")
    TagFactory(name="旅行", category="旅行")
    response = client.post(reverse("site-register"), {
        "username": "newbie", "password": "long-enough-pw-1", "password2": "long-enough-pw-1",
    })
    assert response.status_code == 302 and response["Location"] == reverse("site-onboarding")
    page = client.get(reverse("site-onboarding"))
    assert "猫" in page.content.decode()
    response = client.post(reverse("site-onboarding"), {"tags": ["猫", "旅行"], "age_range": "25_34", "gender": ""})
    assert response.status_code == 302
    names = set(UserInterest.objects.filter(user__username="newbie").values_list("tag__name", flat=True))
    assert names == {"猫", "旅行"}
    assert Profile.objects.get(user__username="newbie").age_range == "25_34"


def test_register_errors_are_next_to_fields(client):
    UserFactory(username="taken")
    response = client.post(reverse("site-register"), {"username": "taken", "password": "abc", "password2": "abd"})
    assert response.status_code == 400
    body = response.content.decode()
    assert "该用户名已被注册" in body or "两次输入的密码不一致" in body
    assert 'class="field-error"' in body


def test_onboarding_skip(client, viewer):
    response = client.post(reverse("site-onboarding"), {"skip": "1"})
    assert response.status_code == 302
    assert Profile.objects.get(user=viewer).onboarding_state == Profile.Onboarding.SKIPPED


def test_login_and_logout(client):
    UserFactory(username="alice")
    bad = client.post(reverse("site-login"), {"username": "alice", "password": "wrong"})
    assert bad.status_code == 400 and "用户名或密码不正确" in bad.content.decode()
    good = client.post(reverse("site-login"), {"username": "alice", "password": "pass-word-123", "next": "/search/"})
    assert good.status_code == 302 and good["Location"] == "/search/"
    assert client.post(reverse("site-logout")).status_code == 302
    assert client.get(reverse("site-my-history")).status_code == 302


def test_login_ignores_foreign_next(client):
    UserFactory(username="bob")
    response = client.post(reverse("site-login"), {"username": "bob", "password": "pass-word-123",
                                                   "next": "https://evil.example/"})
    assert response["Location"] == "/"


def test_watch_page_shows_tags_comments_and_replies(client, viewer):
    video = VideoFactory(title="看这个", description="简介文字")
    VideoTagFactory(video=video, tag=TagFactory(name="猫"))
    parent = CommentFactory(video=video, text="第一条评论")
    CommentFactory(video=video, parent=parent, text="一条回复")
    response = client.get(reverse("site-watch", args=[video.pk]), {"ch": "itemcf", "rid": "abc"})
    body = response.content.decode()
    assert response.status_code == 200
    assert "#猫" in body and "第一条评论" in body and "一条回复" in body
    assert 'data-channel="itemcf"' in body


def test_watch_page_hides_private_video(client, viewer):
    video = VideoFactory(visibility="private")
    assert client.get(reverse("site-watch", args=[video.pk])).status_code == 404


def test_tag_page_and_merged_name_redirects(client):
    canonical = TagFactory(name="猫咪")
    TagFactory(name="喵星人", merged_into=canonical)
    video = VideoFactory(title="猫片")
    VideoTagFactory(video=video, tag=canonical)
    assert "猫片" in client.get(reverse("site-tag", args=["猫咪"])).content.decode()
    response = client.get(reverse("site-tag", args=["喵星人"]))
    assert response.status_code == 302 and response["Location"] == reverse("site-tag", args=["猫咪"])
    assert client.get(reverse("site-tag", args=["不存在"])).status_code == 404


def test_search_segments_query_and_matches_tags(client):
    VideoFactory(title="家常红烧肉的做法", description="")
    tagged = VideoFactory(title="无关标题", description="")
    VideoTagFactory(video=tagged, tag=TagFactory(name="旅行"))
    VideoFactory(title="完全不相关", description="")
    body = client.get(reverse("site-search"), {"q": "红烧肉 旅行"}).content.decode()
    assert "家常红烧肉的做法" in body and "无关标题" in body and "完全不相关" not in body


def test_search_uses_full_text_search_on_postgresql():
    from django.db import connection

    VideoFactory(title="周末去爬山", description="")
    result = selectors.video_search(q="爬山")
    assert result.engine == ("postgresql" if connection.vendor == "postgresql" else "icontains")
    assert [v.title for v in result.videos] == ["周末去爬山"]


def test_search_terms_drop_stop_words_and_punctuation():
    terms = selectors.search_terms(q="我的 红烧肉！！")
    assert "红烧肉" in terms and "！" not in terms and "的" not in terms


def test_search_empty_query_has_guidance(client):
    assert "输入标题" in client.get(reverse("site-search")).content.decode()


def test_profile_and_my_pages(client, viewer):
    owner = UserFactory(username="maker")
    video = VideoFactory(owner=owner, title="作品一")
    assert "作品一" in client.get(reverse("site-profile", args=["maker"])).content.decode()
    EventFactory(user=viewer, video=video)
    assert "作品一" in client.get(reverse("site-my-history")).content.decode()
    assert "你还没有收藏视频" in client.get(reverse("site-my-favourites")).content.decode()


def test_my_interests_edit_sets_manual_interests(client, viewer):
    TagFactory(name="摄影", category="艺术")
    TagFactory(name="爬山", category="运动", offered_in_onboarding=False)
    response = client.post(reverse("site-my-interests"), {"tags": ["摄影"], "extra": "爬山"})
    assert response.status_code == 302
    manual = set(UserInterest.objects.filter(user=viewer, source="manual").values_list("tag__name", flat=True))
    assert manual == {"摄影", "爬山"}
    bad = client.post(reverse("site-my-interests"), {"extra": "根本没有这个标签"})
    assert bad.status_code == 400


def test_upload_page_requires_login(client):
    assert client.get(reverse("site-upload")).status_code == 302


def test_backoffice_is_staff_only(client, viewer):
    for name in ("site-backoffice", "site-backoffice-jobs", "site-backoffice-tags", "site-backoffice-keywords"):
        assert client.get(reverse(name)).status_code == 403


def test_backoffice_pages_render_with_charts(client):
    client.force_login(StaffFactory())
    video = VideoFactory()
    EventFactory(video=video, kind="impression", context={"channel": "hot"}, watch_seconds=None, watch_ratio=None)
    EventFactory(video=video, kind="view", context={"channel": "hot"})
    body = client.get(reverse("site-backoffice")).content.decode()
    assert "<svg" in body and "hot" in body
    for name in ("site-backoffice-jobs", "site-backoffice-tags", "site-backoffice-keywords"):
        assert client.get(reverse(name)).status_code == 200


def test_channel_funnel_counts_clicks_per_channel():
    video = VideoFactory()
    for _ in range(4):
        EventFactory(video=video, kind="impression", context={"channel": "itemcf"}, watch_seconds=None,
                     watch_ratio=None)
    EventFactory(video=video, kind="view", context={"channel": "itemcf"})
    rows = {row["channel"]: row for row in selectors.channel_funnel(since=selectors.dashboard_since(days=1))}
    assert rows["itemcf"]["impressions"] == 4 and rows["itemcf"]["clicks"] == 1
    assert rows["itemcf"]["ctr"] == pytest.approx(0.25)


def test_backoffice_merge_moves_video_tags(client):
    staff = StaffFactory()
    client.force_login(staff)
    video = VideoFactory()
    VideoTagFactory(video=video, tag=TagFactory(name="喵星人"))
    TagFactory(name="猫")
    response = client.post(reverse("site-backoffice-tags"), {"form": "merge", "sources": "喵星人", "target": "猫"})
    assert response.status_code == 302
    assert list(VideoTag.objects.filter(video=video).values_list("tag__name", flat=True)) == ["猫"]
    bad = client.post(reverse("site-backoffice-tags"), {"form": "merge", "sources": "没有", "target": "猫"})
    assert bad.status_code == 400 and "找不到这些标签" in bad.content.decode()


def test_backoffice_bulk_approve(client):
    client.force_login(StaffFactory())
    vt = VideoTagFactory(state=VideoTag.State.SUGGESTED, source=VideoTag.Source.EXTRACTED)
    response = client.post(reverse("site-backoffice-tags"), {"form": "review", "ids": [vt.pk], "decision": "approve"})
    assert response.status_code == 302
    vt.refresh_from_db()
    assert vt.state == VideoTag.State.ACTIVE


def test_english_switch(client):
    response = client.post(reverse("set_language"), {"language": "en", "next": "/"})
    assert response.status_code == 302
    body = client.get("/").content.decode()
    assert "For you" in body and 'lang="en"' in body


def test_tag_is_canonical_after_merge_on_watch_page(client):
    video = VideoFactory()
    VideoTagFactory(video=video, tag=TagFactory(name="喵"))
    target = TagFactory(name="猫")
    from tagging.services.corrections import tag_merge

    tag_merge(sources=[Tag.objects.get(name="喵")], target=target, actor=StaffFactory())
    body = client.get(reverse("site-watch", args=[video.pk])).content.decode()
    assert "#猫" in body and "#喵<" not in body
