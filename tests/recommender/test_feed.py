"""The feed, related, hot and suggested-users endpoints served from the artefacts."""

import os

import pytest
from django.contrib.auth.models import AnonymousUser

from recommender.services import jobs
from recommender.services.feed import impressions_flush
from tagging.models import UserInterest
from tests.factories import TagFactory, UserFactory, VideoFactory, VideoTagFactory
from tests.recommender.serving_support import build_catalogue, fresh_serving_state, served_ids  # noqa: F401
from videoapp.models import Dislike, Event, Follow, Video

pytestmark = pytest.mark.django_db


@pytest.fixture
def built():
    catalogue = build_catalogue()
    assert jobs.interactions_rebuild().status == "succeeded"
    assert jobs.hot_refresh().status == "succeeded"
    return catalogue


def _watched(user) -> set[int]:
    return set(Event.objects.filter(user=user, kind="view").values_list("video_id", flat=True))


def test_personalised_feed_items_carry_channel_reason_and_version(api_client, built):
    fan = built.fans["美食"][0]
    api_client.force_authenticate(fan)
    response = api_client.get("/api/v1/feed?size=5")
    assert response.status_code == 200
    body = response.json()
    assert body["source"] == "personalised" and body["cold_start"] is False
    assert body["artefact_versions"]["interactions"]
    ids = served_ids(body)
    assert len(ids) == len(set(ids)) == 5
    assert not set(ids) & _watched(fan), "already watched videos are not shown again"
    first = body["results"][0]
    assert first["video"]["category"] == "美食", "the viewer's own taste comes first"
    assert first["channel"] in {"itemcf", "ease", "usercf", "content"}
    assert first["artefact_version"] == body["artefact_versions"]["interactions"]
    assert first["video"]["poster_url"] == f"/api/v1/videos/{first['video']['id']}/poster"
    assert set(first["video"]["counts"]) == {"likes", "favourites", "comments"}
    reasons = " ".join(item["reason"] for item in body["results"])
    assert "因为你看过《美食视频" in reasons or "你关注的标签：美食" in reasons


def test_page_two_never_repeats_page_one_and_impressions_are_recorded(api_client, built):
    fan = built.fans["科技"][1]
    api_client.force_authenticate(fan)
    page1 = api_client.get("/api/v1/feed?page=1&size=6").json()
    page2 = api_client.get("/api/v1/feed?page=2&size=6").json()
    ids1, ids2 = served_ids(page1), served_ids(page2)
    assert ids1 and ids2
    assert not set(ids1) & set(ids2)
    assert len(ids2) == len(set(ids2))
    impressions_flush()  # buffered in Redis when it is configured
    impressions = Event.objects.filter(user=fan, kind=Event.Kind.IMPRESSION)
    assert impressions.count() == len(ids1) + len(ids2)
    ctx = impressions.filter(video_id=ids1[0]).get().context
    assert ctx["request_id"] == page1["request_id"] and ctx["channel"] == page1["results"][0]["channel"]


def test_anonymous_session_pages_do_not_repeat(client, built):
    page1 = client.get("/api/v1/feed?size=5").json()
    page2 = client.get("/api/v1/feed?page=2&size=5").json()
    assert page1["cold_start"] is True
    assert not set(served_ids(page1)) & set(served_ids(page2))
    impressions_flush()
    assert Event.objects.filter(user__isnull=True, kind="impression").exclude(session_key="").count() == 10


def test_disliked_private_unpublished_and_blocked_videos_never_appear(api_client, built):
    fan = built.fans["美食"][0]
    food = built.videos["美食"]
    Dislike.objects.create(user=fan, video=food[4])
    Video.objects.filter(id=food[5].id).update(visibility=Video.Visibility.PRIVATE)
    Video.objects.filter(id=food[3].id).update(status=Video.Status.PROCESSING)
    blocked = TagFactory(name="违规", is_blocked=True)
    VideoTagFactory(video=built.videos["科技"][0], tag=blocked)
    api_client.force_authenticate(fan)
    seen: list[int] = []
    for page in range(1, 5):
        seen += served_ids(api_client.get(f"/api/v1/feed?page={page}&size=5").json())
    assert seen, "the feed still has something to show"
    assert len(seen) == len(set(seen))
    assert not {food[4].id, food[5].id, food[3].id, built.videos["科技"][0].id} & set(seen)


def test_a_like_updates_the_next_feed_within_the_request(api_client, built, django_capture_on_commit_callbacks):
    """Near-real-time: the liked video's neighbours are injected and the behaviour interests updated."""
    from videoapp.services.social import like_create

    travel = built.videos["旅行"]
    newcomer = UserFactory(username="newcomer")
    with django_capture_on_commit_callbacks(execute=True):
        like_create(user=newcomer, video=travel[0])
    interest = UserInterest.objects.get(user=newcomer, source=UserInterest.Source.BEHAVIOUR)
    assert interest.tag.name == "旅行"
    api_client.force_authenticate(newcomer)
    body = api_client.get("/api/v1/feed?size=6").json()
    realtime = [item for item in body["results"] if item["realtime"]]
    assert realtime, body
    assert all(item["video"]["category"] == "旅行" for item in realtime)
    assert any(item["reason"] == "因为你看过《旅行视频0》" for item in realtime)
    assert travel[0].id not in served_ids(body), "the liked video itself is not shown again"


def test_related_videos(api_client, built):
    video = built.videos["科技"][2]
    body = api_client.get(f"/api/v1/videos/{video.id}/related?size=4").json()
    ids = served_ids(body)
    assert ids and video.id not in ids and len(ids) == len(set(ids))
    assert body["results"][0]["video"]["category"] == "科技"
    assert body["results"][0]["reason"] in {f"看过《{video.title}》的人也在看", "相同标签：科技", "科技热门"}
    assert api_client.get("/api/v1/videos/999999/related").status_code == 404
    private = VideoFactory(visibility=Video.Visibility.PRIVATE)
    assert api_client.get(f"/api/v1/videos/{private.id}/related").status_code == 404


def test_hot_by_category_and_suggested_users(api_client, built):
    body = api_client.get("/api/v1/hot?category=旅行&size=3").json()
    assert body["source"] == "personalised" and len(body["results"]) == 3
    assert {item["video"]["category"] for item in body["results"]} == {"旅行"}
    assert all(item["reason"] == "旅行热门" for item in body["results"])
    assert api_client.get("/api/v1/hot").json()["results"]
    viewer = UserFactory(username="viewer")
    first_hot_owner = _suggested(AnonymousUser())[0]["id"]
    Follow.objects.create(follower=viewer, followee_id=first_hot_owner)
    suggested = _suggested(viewer)
    assert len(suggested) == 3 and first_hot_owner not in {u["id"] for u in suggested}
    assert suggested[0]["reason"] == "热门创作者" and suggested[0]["video_count"] >= 1


def _suggested(user) -> list[dict]:
    # Called on the view itself: see test_suggested_users_route_is_not_shadowed for the URL.
    from rest_framework.test import APIRequestFactory, force_authenticate

    from recommender.apis import SuggestedUsersApi

    request = APIRequestFactory().get("/api/v1/users/suggested", {"size": 3})
    force_authenticate(request, user=user)
    response = SuggestedUsersApi.as_view()(request)
    assert response.status_code == 200
    return response.data["results"]


def test_suggested_users_route_is_not_shadowed():
    """``users/<str:username>`` (videoapp/apis/accounts.py) must not swallow ``users/suggested``:
    videoapp/urls.py has to include recommender.apis before the accounts API."""
    from django.urls import resolve

    assert resolve("/api/v1/users/suggested").url_name == "users-suggested"


def test_bad_parameters_are_a_clear_400(api_client):
    response = api_client.get("/api/v1/feed?size=500")
    assert response.status_code == 400
    assert response.json()["detail"]


def test_endpoints_are_in_the_schema(api_client):
    schema = api_client.get("/api/schema/?format=json").json()
    for path in ("/api/v1/feed", "/api/v1/videos/{video_id}/related", "/api/v1/hot", "/api/v1/users/suggested"):
        assert path in schema["paths"]


redis_only = pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs REDIS_URL (a real Redis)")


@redis_only
def test_the_plan_is_reused_and_a_dislike_takes_effect_on_the_next_request(
    api_client, built, django_capture_on_commit_callbacks
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from videoapp.services.social import dislike_create

    fan = built.fans["旅行"][0]
    api_client.force_authenticate(fan)
    page1 = api_client.get("/api/v1/feed?size=4").json()
    # Plan cached in Redis: page 2 does not gather the candidates again (no interests, no dislike list).
    with CaptureQueriesContext(connection) as queries:
        page2 = api_client.get("/api/v1/feed?page=2&size=4").json()
    gathered = [q["sql"] for q in queries.captured_queries
                if 'FROM "tagging_userinterest"' in q["sql"].split(" WHERE ")[0]
                or q["sql"].startswith('SELECT "videoapp_dislike"')]
    assert not gathered, gathered
    assert served_ids(page2) and not set(served_ids(page1)) & set(served_ids(page2))
    nxt = [v.id for vs in built.videos.values() for v in vs if v.id not in served_ids(page1) + served_ids(page2)]
    with django_capture_on_commit_callbacks(execute=True):
        for video in Video.objects.filter(id__in=nxt):
            dislike_create(user=fan, video=video)
    page3 = api_client.get("/api/v1/feed?page=3&size=4").json()
    assert not set(served_ids(page3)) & set(nxt), "disliked videos never appear, from the next request on"


@redis_only
def test_impressions_are_buffered_not_written_on_the_request_path(api_client, built):
    fan = built.fans["美食"][1]
    api_client.force_authenticate(fan)
    ids = served_ids(api_client.get("/api/v1/feed?size=5").json())
    assert ids and not Event.objects.filter(user=fan, kind=Event.Kind.IMPRESSION).exists()
    impressions_flush()
    shown = Event.objects.filter(user=fan, kind=Event.Kind.IMPRESSION).values_list("video_id", flat=True)
    assert set(shown) == set(ids)
