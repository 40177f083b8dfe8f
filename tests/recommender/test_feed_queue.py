"""The feed's served queue in Redis (recommender.services.feed_queue): later pages come out of one
script call, and every change that must reach the viewer does, whatever the queue holds."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.authtoken.models import Token

from recommender.services import jobs
from recommender.services.feed import impressions_flush, related_list
from tagging.services.corrections import tag_block
from tests.factories import TagFactory, UserFactory, VideoTagFactory
from tests.recommender.serving_support import build_catalogue, fresh_serving_state, served_ids  # noqa: F401
from videoapp.models import Event, Video

pytestmark = [pytest.mark.django_db]


@pytest.fixture
def built(redis_client):
    catalogue = build_catalogue(per_category=10)
    assert jobs.interactions_rebuild().status == "succeeded"
    assert jobs.hot_refresh().status == "succeeded"
    return catalogue


def _client_for(api_client, user):
    token, _ = Token.objects.get_or_create(user=user)
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return api_client


def _page(api_client, page: int = 1, size: int = 4) -> dict:
    response = api_client.get(f"/api/v1/feed?page={page}&size={size}")
    assert response.status_code == 200, response.content
    return response.json()


def test_later_pages_come_from_the_queue_without_a_database_query(api_client, built, settings):
    settings.RECOMMENDER_VERSION_TTL_SECONDS = 60  # as in production: artefact versions re-read every minute
    client = _client_for(api_client, built.fans["美食"][0])
    first = _page(client)  # ranks, and writes the queue (and caches the token)
    with CaptureQueriesContext(connection) as queries:
        second = _page(client, page=2)
    assert not queries.captured_queries, [q["sql"][:80] for q in queries.captured_queries]
    assert second["source"] == first["source"] == "personalised"
    assert second["page"] == 2 and second["size"] == 4 and len(second["results"]) == 4
    item = second["results"][0]
    assert set(item) == {"video", "channel", "reason", "artefact_version", "realtime"}
    assert item["video"]["id"] and item["video"]["owner"]["username"] and item["reason"]
    assert not set(served_ids(first)) & set(served_ids(second))


def test_pages_never_repeat_down_to_the_fallback_list_and_impressions_are_recorded(api_client, built):
    fan = built.fans["科技"][1]
    client = _client_for(api_client, fan)
    seen: list[int] = []
    for page in range(1, 12):  # 30 videos, 4 a page: the queue drains into the shared fallback list
        ids = served_ids(_page(client, page=page))
        if not ids:
            break
        seen += ids
    assert len(seen) == len(set(seen)), "no video twice, across queue and fallback pages"
    watched = set(Event.objects.filter(user=fan, kind="view").values_list("video_id", flat=True))
    assert not watched & set(seen), "already watched videos are never served"
    assert len(seen) >= 20
    impressions_flush()
    rows = Event.objects.filter(user=fan, kind=Event.Kind.IMPRESSION)
    assert sorted(rows.values_list("video_id", flat=True)) == sorted(seen)
    context = rows.order_by("id").first().context
    assert context["surface"] == "feed" and context["position"] == 0 and context["request_id"]


def test_a_video_hidden_after_the_queue_was_built_never_appears(api_client, built, django_capture_on_commit_callbacks):
    from videoapp.services.videos import video_update

    fan = built.fans["美食"][0]
    client = _client_for(api_client, fan)
    first = served_ids(_page(client))
    hidden = [v for v in built.all_videos if v.id not in first]
    with django_capture_on_commit_callbacks(execute=True):
        for video in hidden[:10]:
            video_update(video=video, visibility=Video.Visibility.PRIVATE)
    rest = [i for page in range(2, 10) for i in served_ids(_page(client, page=page))]
    assert rest, "the feed still serves the others"
    assert not {v.id for v in hidden[:10]} & set(rest)


def test_a_tag_blocked_after_the_queue_was_built_takes_its_videos_out(
    api_client, built, django_capture_on_commit_callbacks
):
    fan = built.fans["旅行"][0]
    client = _client_for(api_client, fan)
    _page(client)
    bad = TagFactory(name="违规内容")
    victims = built.videos["旅行"][:5]
    for video in victims:
        VideoTagFactory(video=video, tag=bad)
    admin = UserFactory(username="moderator", is_staff=True)
    with django_capture_on_commit_callbacks(execute=True):
        tag_block(tag=bad, actor=admin)
    rest = [i for page in range(2, 10) for i in served_ids(_page(client, page=page))]
    assert rest and not {v.id for v in victims} & set(rest)


def test_a_dislike_after_the_queue_was_built_takes_effect_on_the_next_request(
    api_client, built, django_capture_on_commit_callbacks
):
    from videoapp.services.social import dislike_create

    fan = built.fans["科技"][0]
    client = _client_for(api_client, fan)
    first = served_ids(_page(client))
    others = [v for v in built.all_videos if v.id not in first]
    with django_capture_on_commit_callbacks(execute=True):
        for video in others[:8]:
            dislike_create(user=fan, video=video)
    rest = [i for page in range(2, 10) for i in served_ids(_page(client, page=page))]
    assert rest and not {v.id for v in others[:8]} & set(rest)


def test_what_the_related_list_showed_is_not_served_again_by_the_queue(api_client, built):
    fan = built.fans["美食"][2]
    client = _client_for(api_client, fan)
    first = served_ids(_page(client))
    anchor = next(v for v in built.videos["美食"] if v.id not in first)
    related = related_list(video=anchor, user=fan, session_key=None, size=8)
    shown_elsewhere = {item["video"]["id"] for item in related.items}
    assert shown_elsewhere
    rest = [i for page in range(2, 10) for i in served_ids(_page(client, page=page))]
    assert rest and not shown_elsewhere & set(rest)


def test_a_like_changes_the_served_card_and_the_ranking(api_client, built, django_capture_on_commit_callbacks):
    from videoapp.services.social import like_create

    fan = built.fans["旅行"][1]
    client = _client_for(api_client, fan)
    _page(client)
    second = _page(client, page=2)
    target_id = served_ids(second)[0]
    before = second["results"][0]["video"]["counts"]["likes"]
    someone = UserFactory(username="liker")
    with django_capture_on_commit_callbacks(execute=True):
        like_create(user=someone, video=Video.objects.get(id=target_id))
    from django_redis import get_redis_connection

    from recommender.services.feed_queue import CARD_KEY
    from recommender.services.serving import cards_for

    assert not get_redis_connection("default").exists(CARD_KEY.format(video_id=target_id)), "card dropped"
    assert cards_for(ids=[target_id])[target_id]["counts"]["likes"] == before + 1, "read again with the new count"
    # The viewer's own like re-ranks their feed (plan version): the next page is ranked afresh.
    with django_capture_on_commit_callbacks(execute=True):
        like_create(user=fan, video=Video.objects.get(id=target_id))
    third = _page(client, page=3)
    assert third["results"] and target_id not in served_ids(third)


def test_logging_out_stops_the_token_at_once(api_client, built):
    from videoapp.services.accounts import auth_token_delete

    fan = built.fans["美食"][3]
    client = _client_for(api_client, fan)
    _page(client)
    auth_token_delete(user=fan)
    response = client.get("/api/v1/feed?page=2&size=4")
    assert response.status_code in (401, 403), response.content
    assert "results" not in response.json()


@pytest.mark.parametrize("query", ["size=0", "size=51", "page=0", "size=abc", "size=4&format=api"])
def test_unusual_parameters_take_the_validated_path(api_client, built, query):
    client = _client_for(api_client, built.fans["科技"][2])
    _page(client)
    response = client.get(f"/api/v1/feed?{query}")
    if query.startswith("size=4"):
        assert response.status_code == 200
    else:
        assert response.status_code == 400 and response.json()


def test_a_new_artefact_version_ranks_afresh(api_client, built):
    client = _client_for(api_client, built.fans["旅行"][2])
    first = _page(client)
    second = _page(client, page=2)  # from the queue: known to the filter only through the served log
    assert jobs.hot_refresh().status == "succeeded"
    third = _page(client, page=3)
    assert third["artefact_versions"]["hot"] != first["artefact_versions"]["hot"]
    assert served_ids(third) and not set(served_ids(first) + served_ids(second)) & set(served_ids(third))


def test_the_fallback_walk_reads_runs_and_tests_entries_only_after_a_change(redis_client):
    """The shared fallback list is read a run of entries at a time (three strings, no entry parsed);
    each entry is tested only once a visibility change or an exposure elsewhere makes it necessary,
    and what is served reaches the viewer's Bloom filter through the served log."""
    import json
    import os
    import uuid

    from recommender.services.exposure import EXTERNAL_EXPOSURE_KEY, BloomExposure
    from recommender.services.feed_queue import (
        SERVABLE_KEY,
        Fallback,
        QueueBuild,
        queue_serve,
        queue_store,
        servable_epoch,
    )

    backend = BloomExposure(redis_client)
    uid, lang, version = 900_000 + os.getpid() % 1000, "xx", f"test-{uuid.uuid4().hex}"
    ids = list(range(8_000_001, 8_000_041))
    entries = [(v, 1, {"channel": "hot", "reason": "热门|第一", "artefact_version": version, "realtime": False})
               for v in ids]
    skip = {ids[1], ids[5]}  # already seen, queued or the viewer's own when the queue was built

    def build(*, fallback_epoch: str) -> None:
        redis_client.delete(EXTERNAL_EXPOSURE_KEY.format(viewer=f"u{uid}"), f"rec:served:u{uid}",
                            *redis_client.keys(f"rec:exp:u{uid}:*"))
        queue_store(backend=backend, fallback=Fallback(version=version, ids=ids, owners=[1] * len(ids),
                                                       epoch=fallback_epoch, entries=entries),
                    build=QueueBuild(user_id=uid, lang=lang, stamp="s", planver="", external_exposure="0",
                                     servable_epoch=servable_epoch(backend=backend), header={"source": "x"},
                                     source="x", items=[], cards={}, skip=skip))

    def serve(size: int = 4) -> list[int]:
        served = queue_serve(backend=backend, lang=lang, stamp="s", size=size, page=2, request_id="r",
                             created_at="c", fallback_version=version, user_id=uid)
        assert served.status == "served"
        assert all(json.loads(item)["reason"] == "热门|第一" for _v, item in served.items)
        return [v for v, _item in served.items]

    try:
        build(fallback_epoch=servable_epoch(backend=backend))
        assert serve() == [ids[0], ids[2], ids[3], ids[4]]
        assert serve() == [ids[6], ids[7], ids[8], ids[9]]
        assert backend.seen_for(f"u{uid}", ids[:12]) == {ids[0], *ids[2:5], *ids[6:10]}, "served log folded"

        # A visibility change since the list was written: each entry is tested against the servable set.
        build(fallback_epoch="an older epoch")
        redis_client.sadd(SERVABLE_KEY, *[v for v in ids if v != ids[2]])
        assert serve() == [ids[0], ids[3], ids[4], ids[6]]

        # Shown elsewhere since the queue was written: each entry is tested against the Bloom filter.
        build(fallback_epoch=servable_epoch(backend=backend))
        backend.add_for(f"u{uid}", [ids[0], ids[3]])
        assert serve(size=3) == [ids[2], ids[4], ids[6]]
    finally:
        redis_client.srem(SERVABLE_KEY, *ids)
        for pattern in (f"rec:*u{uid}*", f"rec:*:{version}"):
            keys = redis_client.keys(pattern)
            if keys:
                redis_client.delete(*keys)


def test_a_full_servable_sync_moves_the_epoch_only_when_it_takes_videos_out(built, redis_client):
    from recommender.services.feed_queue import SERVABLE_EPOCH_KEY, SERVABLE_KEY, servable_set_sync

    servable_set_sync()
    epoch = redis_client.get(SERVABLE_EPOCH_KEY)
    servable_set_sync()
    assert redis_client.get(SERVABLE_EPOCH_KEY) == epoch, "nothing changed: queues need not re-check"
    hidden = built.all_videos[0]
    Video.objects.filter(id=hidden.id).update(visibility=Video.Visibility.PRIVATE)  # bypasses the services
    servable_set_sync()
    assert not redis_client.sismember(SERVABLE_KEY, hidden.id)
    assert int(redis_client.get(SERVABLE_EPOCH_KEY)) == int(epoch or 0) + 1, "a video went out: every queue re-checks"
