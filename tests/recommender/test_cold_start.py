"""Cold start (零起点推荐): a viewer with nothing, a viewer with onboarding answers, a video with no views."""

import pytest

from recommender.services import jobs
from tagging.models import UserInterest
from tests.factories import UserFactory, UserInterestFactory, VideoFactory, VideoTagFactory
from tests.recommender.serving_support import build_catalogue, fresh_serving_state, served_ids  # noqa: F401
from videoapp.models import Profile

pytestmark = pytest.mark.django_db


def test_new_viewer_who_skipped_onboarding_gets_hot_fresh_and_uploaders(api_client):
    build_catalogue()
    jobs.interactions_rebuild()
    jobs.hot_refresh()
    viewer = UserFactory(username="skipper")
    Profile.objects.filter(user=viewer).update(onboarding_state=Profile.Onboarding.SKIPPED)
    api_client.force_authenticate(viewer)
    body = api_client.get("/api/v1/feed?size=8").json()
    assert body["cold_start"] is True and body["source"] == "personalised"
    assert len(body["results"]) == 8
    assert {item["channel"] for item in body["results"]} <= {"hot", "fresh"}
    assert {"热门", "新发布"} <= {item["reason"] for item in body["results"]}
    assert body["suggested_users"] and body["suggested_users"][0]["reason"] == "热门创作者"


def test_onboarding_tags_and_demographics_work_from_the_first_request(api_client):
    catalogue = build_catalogue()
    for fan in catalogue.fans["旅行"]:
        Profile.objects.filter(user=fan).update(age_range="18_24", gender="male")
    jobs.interactions_rebuild()
    jobs.hot_refresh()
    viewer = UserFactory(username="onboarded")
    viewer.profile.age_range, viewer.profile.gender = "18_24", "male"
    viewer.profile.onboarding_state = Profile.Onboarding.DONE
    viewer.profile.save()
    UserInterestFactory(user=viewer, tag=catalogue.tags["科技"], source=UserInterest.Source.ONBOARDING)
    api_client.force_authenticate(viewer)
    body = api_client.get("/api/v1/feed?size=10").json()
    by_channel: dict[str, set] = {}
    for item in body["results"]:
        by_channel.setdefault(item["channel"], set()).add(item["video"]["category"])
    assert by_channel.get("content") == {"科技"}
    assert "你关注的标签：科技" in {item["reason"] for item in body["results"]}
    assert by_channel.get("hot_group") == {"旅行"}, "hot for the viewer's age range x gender"
    assert body["results"][0]["channel"] == "content"


def test_a_new_video_with_no_views_is_reachable(api_client):
    catalogue = build_catalogue()
    unseen = VideoFactory(title="没人看过的美食", category="美食")
    VideoTagFactory(video=unseen, tag=catalogue.tags["美食"])
    jobs.interactions_rebuild()
    jobs.hot_refresh()
    # Through the content channel: a viewer interested in 美食 (the video has no view at all).
    foodie = UserFactory(username="foodie")
    UserInterestFactory(user=foodie, tag=catalogue.tags["美食"], source=UserInterest.Source.ONBOARDING)
    api_client.force_authenticate(foodie)
    items = api_client.get("/api/v1/feed?size=10").json()["results"]
    assert any(i["video"]["id"] == unseen.id and i["channel"] in {"content", "fresh"} for i in items)
    # Through the exploration slot: uploaded after the last rebuild, shown to an unrelated viewer.
    brand_new = VideoFactory(title="刚刚上传", category="科技")
    api_client.force_authenticate(catalogue.fans["旅行"][0])
    items = api_client.get("/api/v1/feed?size=6").json()["results"]
    explore = [i for i in items if i["video"]["id"] == brand_new.id]
    assert explore and explore[0]["channel"] == "fresh" and explore[0]["reason"] == "新发布"
    assert served_ids({"results": items}).count(brand_new.id) == 1
