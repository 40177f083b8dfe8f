"""Request tests: tags, video tags, onboarding, interests, staff correction, and permissions on every write."""

from __future__ import annotations

import pytest
from django.test import override_settings

from tagging.models import KeywordEntry, Tag, TagCorrection, UserInterest, VideoTag, ViewerTagVote
from tests.factories import (
    StaffFactory,
    TagFactory,
    UserFactory,
    UserInterestFactory,
    VideoFactory,
    VideoTagFactory,
)
from videoapp.models import Profile, Video

pytestmark = pytest.mark.django_db

API = "/api/v1"


def client_for(user):
    from rest_framework.test import APIClient

    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    return client


# --- tags ------------------------------------------------------------------------------------------------


def test_tag_search_by_prefix_usable_only_ordered_by_usage(api_client):
    TagFactory(name="美食探店", usage_count=2)
    TagFactory(name="美食教程", usage_count=9)
    TagFactory(name="美食广告", is_blocked=True, usage_count=50)
    TagFactory(name="美食分享", merged_into=TagFactory(name="分享"), usage_count=40)
    TagFactory(name="旅行", usage_count=100)
    response = api_client.get(f"{API}/tags", {"q": "美食"})
    assert response.status_code == 200
    assert [t["name"] for t in response.json()["results"]] == ["美食教程", "美食探店"]


def test_tag_detail_lists_published_public_videos_and_follows_merges(api_client):
    tag = TagFactory(name="猫咪")
    TagFactory(name="猫猫", merged_into=tag)
    shown = VideoFactory()
    VideoTagFactory(video=shown, tag=tag)
    VideoTagFactory(video=VideoFactory(visibility=Video.Visibility.PRIVATE), tag=tag)
    VideoTagFactory(video=VideoFactory(status=Video.Status.PROCESSING), tag=tag)
    VideoTagFactory(video=VideoFactory(), tag=tag, state=VideoTag.State.SUGGESTED)
    response = api_client.get(f"{API}/tags/猫猫")
    assert response.status_code == 200
    body = response.json()
    assert body["tag"]["name"] == "猫咪"
    assert body["count"] == 1 and body["results"][0]["id"] == shown.pk
    assert api_client.get(f"{API}/tags/不存在").status_code == 404
    TagFactory(name="屏蔽", is_blocked=True)
    assert api_client.get(f"{API}/tags/屏蔽").status_code == 404


def test_video_tags_show_active_to_viewers_and_everything_to_the_owner():
    video = VideoFactory()
    VideoTagFactory(video=video, tag=TagFactory(name="公开"), state=VideoTag.State.ACTIVE)
    VideoTagFactory(video=video, tag=TagFactory(name="建议"), state=VideoTag.State.SUGGESTED)
    assert [t["name"] for t in client_for(None).get(f"{API}/videos/{video.pk}/tags").json()] == ["公开"]
    owner_view = client_for(video.owner).get(f"{API}/videos/{video.pk}/tags").json()
    assert {t["name"]: t["state"] for t in owner_view} == {"公开": "active", "建议": "suggested"}
    private = VideoFactory(visibility=Video.Visibility.PRIVATE)
    assert client_for(UserFactory()).get(f"{API}/videos/{private.pk}/tags").status_code == 404


# --- viewer tags ----------------------------------------------------------------------------------------------


@override_settings(VIEWER_TAG_ACTIVATION_COUNT=3)
def test_viewer_tag_becomes_active_at_n_distinct_viewers():
    video = VideoFactory()
    viewers = UserFactory.create_batch(3)
    url = f"{API}/videos/{video.pk}/tags"
    for viewer in viewers[:2]:
        assert client_for(viewer).post(url, {"tags": ["好听"]}, format="json").status_code == 200
    client_for(viewers[0]).post(url, {"tags": ["好听"]}, format="json")  # the same viewer again: no new vote
    row = VideoTag.objects.get(video=video, tag__name="好听")
    assert (row.source, row.state) == (VideoTag.Source.VIEWER, VideoTag.State.SUGGESTED)
    assert ViewerTagVote.objects.filter(video=video).count() == 2

    response = client_for(viewers[2]).post(url, {"tags": ["#好听"]}, format="json")
    assert response.status_code == 200
    row.refresh_from_db()
    assert row.state == VideoTag.State.ACTIVE
    assert Tag.objects.get(name="好听").usage_count == 1
    assert {t["name"]: t["votes"] for t in response.json()}["好听"] == 3


@override_settings(VIEWER_TAG_ACTIVATION_COUNT=5)
def test_viewer_tag_active_after_staff_approval():
    video = VideoFactory()
    client_for(UserFactory()).post(f"{API}/videos/{video.pk}/tags", {"tags": ["感人"]}, format="json")
    row = VideoTag.objects.get(video=video)
    response = client_for(StaffFactory()).post(
        f"{API}/admin/tags/video-tags/approve", {"ids": [row.pk]}, format="json"
    )
    assert response.status_code == 200
    row.refresh_from_db()
    assert row.state == VideoTag.State.ACTIVE


def test_viewer_blocked_tag_is_a_400_with_the_names():
    TagFactory(name="垃圾", is_blocked=True)
    video = VideoFactory()
    response = client_for(UserFactory()).post(
        f"{API}/videos/{video.pk}/tags", {"tags": ["垃圾", "好看"]}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["errors"]["invalid_tags"] == ["垃圾"]
    assert not VideoTag.objects.filter(video=video).exists()


def test_viewer_tags_are_rate_limited(settings):
    from django.core.cache import cache

    cache.clear()
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK,
                               "DEFAULT_THROTTLE_RATES": {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"],
                                                          "tag": "2/min"}}
    from rest_framework.throttling import ScopedRateThrottle

    ScopedRateThrottle.THROTTLE_RATES = settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]
    try:
        video, viewer = VideoFactory(), UserFactory()
        client = client_for(viewer)
        codes = [client.post(f"{API}/videos/{video.pk}/tags", {"tags": [f"词{i}"]}, format="json").status_code
                 for i in range(3)]
        assert codes == [200, 200, 429]
        assert client.get(f"{API}/videos/{video.pk}/tags").status_code == 200  # reading is not throttled
    finally:
        from rest_framework.settings import api_settings

        ScopedRateThrottle.THROTTLE_RATES = api_settings.DEFAULT_THROTTLE_RATES


# --- uploader confirmation -----------------------------------------------------------------------------------


def test_owner_confirms_rejects_and_adds():
    video = VideoFactory()
    keep = VideoTagFactory(video=video, tag=TagFactory(name="红烧肉"), source="extracted", state="suggested")
    drop = VideoTagFactory(video=video, tag=TagFactory(name="不腻"), source="extracted", state="suggested")
    response = client_for(video.owner).post(
        f"{API}/videos/{video.pk}/tags/confirm",
        {"accept": ["红烧肉"], "reject": ["不腻"], "add": ["家常菜", "#下饭菜"]}, format="json",
    )
    assert response.status_code == 200, response.json()
    states = dict(VideoTag.objects.filter(video=video).values_list("tag__name", "state"))
    assert states == {"红烧肉": "active", "不腻": "rejected", "家常菜": "active", "下饭菜": "active"}
    keep.refresh_from_db()
    drop.refresh_from_db()
    assert keep.state == "active" and drop.state == "rejected"


def test_confirm_with_a_tag_the_video_does_not_have_is_a_400():
    video = VideoFactory()
    response = client_for(video.owner).post(
        f"{API}/videos/{video.pk}/tags/confirm", {"accept": ["没有的"]}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["errors"]["invalid_tags"] == ["没有的"]


# --- onboarding ------------------------------------------------------------------------------------------------


def test_onboarding_tags_grouped_by_category_in_display_order(api_client):
    TagFactory(name="篮球", category="运动", display_order=2)
    TagFactory(name="跑步", category="运动", display_order=1)
    TagFactory(name="甜品", category="美食", display_order=1)
    TagFactory(name="隐藏", category="美食", offered_in_onboarding=False)
    TagFactory(name="屏蔽了", category="美食", is_blocked=True)
    groups = api_client.get(f"{API}/onboarding/tags").json()
    assert [(g["category"], [t["name"] for t in g["tags"]]) for g in groups] == [
        ("美食", ["甜品"]), ("运动", ["跑步", "篮球"])
    ]


def test_onboarding_stores_chosen_tags_as_interests_and_profile_answers():
    user = UserFactory()
    sport, food = TagFactory(name="跑步"), TagFactory(name="甜品")
    response = client_for(user).post(
        f"{API}/onboarding", {"tags": [sport.pk, "甜品"], "age_range": "25_34", "gender": "female"}, format="json"
    )
    assert response.status_code == 200, response.json()
    assert sorted(response.json()["interests"]) == ["甜品", "跑步"]
    rows = UserInterest.objects.filter(user=user)
    assert {(r.tag_id, r.source, r.weight) for r in rows} == {
        (sport.pk, "onboarding", 1.0), (food.pk, "onboarding", 1.0)
    }
    profile = Profile.objects.get(user=user)
    assert (profile.onboarding_state, profile.age_range, profile.gender) == ("done", "25_34", "female")
    # Doing it again replaces the choice.
    client_for(user).post(f"{API}/onboarding", {"tags": ["甜品"]}, format="json")
    assert list(UserInterest.objects.filter(user=user).values_list("tag__name", flat=True)) == ["甜品"]


def test_onboarding_skip_is_allowed():
    user = UserFactory()
    response = client_for(user).post(f"{API}/onboarding", {"skip": True, "age_range": "18_24"}, format="json")
    assert response.status_code == 200
    profile = Profile.objects.get(user=user)
    assert (profile.onboarding_state, profile.age_range) == ("skipped", "18_24")
    assert not UserInterest.objects.filter(user=user).exists()


def test_onboarding_unknown_or_blocked_tag_is_a_400_naming_them():
    user = UserFactory()
    TagFactory(name="跑步")
    TagFactory(name="黑名单", is_blocked=True)
    response = client_for(user).post(
        f"{API}/onboarding", {"tags": ["跑步", "不存在的标签", "黑名单", 99999]}, format="json"
    )
    assert response.status_code == 400
    body = response.json()
    assert body["errors"]["invalid_tags"] == ["不存在的标签", "黑名单", "99999"]
    assert "不存在的标签" in body["detail"]
    assert not UserInterest.objects.filter(user=user).exists()
    assert Profile.objects.get(user=user).onboarding_state == "pending"
    bad_choice = client_for(user).post(f"{API}/onboarding", {"tags": ["跑步"], "gender": "robot"}, format="json")
    assert bad_choice.status_code == 400


# --- interests -------------------------------------------------------------------------------------------------


def test_interests_get_and_put_replaces_manual_only():
    user = UserFactory()
    UserInterestFactory(user=user, tag=TagFactory(name="跑步"), source="onboarding")
    TagFactory(name="摄影")
    TagFactory(name="旅行")
    client = client_for(user)
    response = client.put(
        f"{API}/me/interests", {"interests": [{"tag": "摄影", "weight": 2}, {"tag": "旅行"}]}, format="json"
    )
    assert response.status_code == 200, response.json()
    response = client.put(f"{API}/me/interests", {"interests": [{"tag": "旅行", "weight": 3}]}, format="json")
    rows = {(r["name"], r["source"]): r["weight"] for r in client.get(f"{API}/me/interests").json()}
    assert rows == {("跑步", "onboarding"): 1.0, ("旅行", "manual"): 3.0}
    bad = client.put(f"{API}/me/interests", {"interests": [{"tag": "没有"}]}, format="json")
    assert bad.status_code == 400 and bad.json()["errors"]["invalid_tags"] == ["没有"]


# --- staff correction over the API --------------------------------------------------------------------------


def test_staff_merge_block_rename_and_the_audit_list():
    staff = StaffFactory()
    client = client_for(staff)
    a, b, c = TagFactory(name="番茄"), TagFactory(name="西红柿"), TagFactory(name="垃圾")
    VideoTagFactory(tag=b)
    assert client.post(f"{API}/admin/tags/merge", {"sources": ["西红柿"], "target": a.pk},
                       format="json").status_code == 200
    assert client.post(f"{API}/admin/tags/{c.pk}/block").status_code == 200
    assert client.post(f"{API}/admin/tags/{a.pk}/rename", {"name": "圣女果"}, format="json").status_code == 200
    bad = client.post(f"{API}/admin/tags/merge", {"sources": ["没有这个"], "target": a.pk}, format="json")
    assert bad.status_code == 400 and bad.json()["errors"]["invalid_tags"] == ["没有这个"]
    audit = client.get(f"{API}/admin/tag-corrections").json()
    assert [row["action"] for row in audit["results"]] == ["rename", "block", "merge"]
    assert audit["results"][2]["actor"] == staff.username and audit["results"][2]["rows_changed"] >= 1
    keyword = client.post(f"{API}/admin/tags/keywords", {"word": "炒糖色", "kind": "user_word"}, format="json")
    assert keyword.status_code == 201
    entry = KeywordEntry.objects.get(word="炒糖色")
    assert client.get(f"{API}/admin/tags/keywords", {"kind": "user_word"}).json()["count"] == 1
    assert client.delete(f"{API}/admin/tags/keywords/{entry.pk}").status_code == 200
    assert TagCorrection.objects.filter(action="keyword").count() == 2


# --- permissions on every write endpoint ------------------------------------------------------------------------


def _write_endpoints(video, tag, video_tag, entry):
    return [
        ("post", f"{API}/videos/{video.pk}/tags", {"tags": ["新标签"]}),
        ("post", f"{API}/videos/{video.pk}/tags/confirm", {"add": ["新标签"]}),
        ("post", f"{API}/onboarding", {"skip": True}),
        ("put", f"{API}/me/interests", {"interests": []}),
        ("post", f"{API}/admin/tags/merge", {"sources": ["待合并"], "target": "目标"}),
        ("post", f"{API}/admin/tags/{tag.pk}/rename", {"name": "改名"}),
        ("post", f"{API}/admin/tags/{tag.pk}/block", {}),
        ("post", f"{API}/admin/tags/video-tags/approve", {"ids": [video_tag.pk]}),
        ("post", f"{API}/admin/tags/video-tags/reject", {"ids": [video_tag.pk]}),
        ("post", f"{API}/admin/tags/videos/add", {"video_ids": [video.pk], "tags": ["加"]}),
        ("post", f"{API}/admin/tags/videos/remove", {"video_ids": [video.pk], "tags": ["待审"]}),
        ("post", f"{API}/admin/tags/reextract", {"video_ids": [video.pk]}),
        ("post", f"{API}/admin/tags/keywords", {"word": "词", "kind": "stop_word"}),
        ("put", f"{API}/admin/tags/keywords/{entry.pk}", {"word": "词二", "kind": "stop_word"}),
        ("delete", f"{API}/admin/tags/keywords/{entry.pk}", None),
    ]


# Expected status per role; the owner is a non-staff user who owns the video.
EXPECTED = {
    "anonymous": [403] * 15,
    "viewer": [200, 403, 200, 200] + [403] * 11,
    "owner": [200, 200, 200, 200] + [403] * 11,
    "staff": [200] * 12 + [201, 200, 200],
}


@pytest.mark.parametrize("role", list(EXPECTED))
def test_permissions_on_every_write_endpoint(role):
    video = VideoFactory()
    tag = TagFactory(name="原标签")
    TagFactory(name="目标")
    TagFactory(name="待合并")
    video_tag = VideoTagFactory(video=video, tag=TagFactory(name="待审"), state=VideoTag.State.SUGGESTED)
    entry = KeywordEntry.objects.create(word="旧词", kind=KeywordEntry.Kind.STOP_WORD)
    user = {"anonymous": None, "viewer": UserFactory(), "owner": video.owner, "staff": StaffFactory()}[role]
    client = client_for(user)
    got = []
    for method, url, body in _write_endpoints(video, tag, video_tag, entry):
        call = getattr(client, method)
        response = call(url, body, format="json") if body is not None else call(url)
        got.append(response.status_code)
    assert got == EXPECTED[role]
    if role != "staff":
        assert not TagCorrection.objects.exists()


@pytest.mark.parametrize("role", ["anonymous", "viewer"])
def test_staff_read_endpoints_are_403_for_non_staff(role):
    client = client_for(None if role == "anonymous" else UserFactory())
    for url in ["admin/tags", "admin/tags/video-tags", "admin/tags/keywords", "admin/tag-corrections"]:
        assert client.get(f"{API}/{url}").status_code == 403


def test_schema_lists_the_tagging_endpoints(api_client):
    schema = api_client.get("/api/schema/", {"format": "json"}).json()
    paths = schema["paths"]
    for path in ["/api/v1/tags", "/api/v1/tags/{name}", "/api/v1/videos/{video_id}/tags",
                 "/api/v1/videos/{video_id}/tags/confirm", "/api/v1/onboarding", "/api/v1/onboarding/tags",
                 "/api/v1/me/interests", "/api/v1/admin/tags/merge", "/api/v1/admin/tag-corrections"]:
        assert path in paths, path
    assert "400" in paths["/api/v1/onboarding"]["post"]["responses"]
    assert "403" in paths["/api/v1/admin/tags/merge"]["post"]["responses"]
