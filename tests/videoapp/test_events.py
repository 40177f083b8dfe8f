"""The behaviour log: event_record, bulk recording with dedupe, the beacon endpoint and my history."""

import json
import sys
import types
import uuid
from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from tests.factories import EventFactory, UserFactory, VideoFactory
from videoapp.models import Event, Video
from videoapp.services.events import EventInput, event_bulk_record, event_record

pytestmark = pytest.mark.django_db
BEACON = "/api/v1/events/beacon"


@pytest.fixture
def refresh_calls(monkeypatch):
    calls: list[tuple] = []
    module = types.ModuleType("recommender.tasks")
    module.user_profile_refresh = types.SimpleNamespace(delay=lambda *args: calls.append(args))
    monkeypatch.setitem(sys.modules, "recommender.tasks", module)
    return calls


# --- services ---


def test_event_record_for_an_anonymous_session():
    video = VideoFactory()
    event = event_record(user=None, session_key="abc", video=video, kind="view", watch_seconds=3.0, watch_ratio=0.2)
    assert (event.user, event.session_key, event.kind, event.watch_ratio) == (None, "abc", "view", 0.2)
    assert event.created_at is not None and event.context == {}


def test_event_record_refuses_an_unknown_kind():
    with pytest.raises(ValueError):
        event_record(user=None, session_key="", video=VideoFactory(), kind="teleport")


@pytest.mark.parametrize(("ratio", "refreshes"), [(0.95, True), (0.5, False)])
def test_only_a_completed_view_refreshes_the_profile(
    ratio, refreshes, refresh_calls, django_capture_on_commit_callbacks
):
    user = UserFactory()
    with django_capture_on_commit_callbacks(execute=True):
        event_record(user=user, session_key="", video=VideoFactory(), kind="view", watch_ratio=ratio)
    assert refresh_calls == ([(user.pk,)] if refreshes else [])


def test_bulk_record_keeps_a_resent_event_once():
    video = VideoFactory()
    event_id = uuid.uuid4()
    first = event_bulk_record(
        user=None, session_key="s", events=[EventInput(video_id=video.pk, kind="impression", event_id=event_id)] * 2
    )
    again = event_bulk_record(
        user=None, session_key="s", events=[EventInput(video_id=video.pk, kind="impression", event_id=event_id)]
    )
    assert (first.inserted, first.duplicates, again.inserted, again.duplicates) == (1, 1, 0, 1)
    assert Event.objects.count() == 1


# --- beacon ---


def item(video, **overrides) -> dict:
    base = {"event_id": str(uuid.uuid4()), "video": video.pk, "kind": "impression",
            "context": {"page": "feed", "channel": "hot", "request_id": "r1", "position": 3}}
    return {**base, **overrides}


def test_beacon_keeps_good_items_and_rejects_bad_ones_with_reasons():
    video = VideoFactory()
    private = VideoFactory(visibility=Video.Visibility.PRIVATE)
    batch = [
        item(video),
        item(video, kind="view", watch_seconds=12.5, watch_ratio=0.4),
        item(video, kind="like"),  # not a beacon kind
        item(video, kind="view"),  # a view without progress
        item(private),  # may not see it
        item(video, watch_ratio=-1),
        "not an object",
        item(video, occurred_at=(timezone.now() + timedelta(days=1)).isoformat()),
    ]
    response = APIClient().post(BEACON, {"events": batch}, format="json")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["accepted"] == 2 and body["duplicates"] == 0
    assert [rejection["index"] for rejection in body["rejected"]] == [2, 3, 4, 5, 6, 7]
    assert all(rejection["errors"] for rejection in body["rejected"])
    stored = Event.objects.get(kind="view")
    assert (stored.watch_seconds, stored.watch_ratio, stored.context["channel"]) == (12.5, 0.4, "hot")


def test_beacon_with_no_good_item_is_400():
    response = APIClient().post(BEACON, {"events": [{"video": 999999, "kind": "impression"}]}, format="json")
    assert response.status_code == 400
    body = response.json()
    assert body["accepted"] == 0 and body["rejected"][0]["index"] == 0 and body["detail"]


@pytest.mark.parametrize("payload", [{}, {"events": []}, {"events": "x"}])
def test_beacon_rejects_a_malformed_batch(payload):
    response = APIClient().post(BEACON, payload, format="json")
    assert response.status_code == 400 and response.json()["detail"]


def test_beacon_caps_the_batch_size(settings):
    settings.BEACON_MAX_ITEMS = 3
    video = VideoFactory()
    response = APIClient().post(BEACON, {"events": [item(video) for _index in range(4)]}, format="json")
    assert response.status_code == 400
    assert not Event.objects.exists()


def test_a_resent_beacon_is_stored_once():
    video = VideoFactory()
    batch = {"events": [item(video), item(video, kind="share")]}
    client = APIClient()
    assert client.post(BEACON, batch, format="json").json() == {"accepted": 2, "duplicates": 0, "rejected": []}
    again = client.post(BEACON, batch, format="json")
    assert again.status_code == 200
    assert again.json() == {"accepted": 2, "duplicates": 2, "rejected": []}
    assert Event.objects.count() == 2


def test_beacon_gives_an_anonymous_viewer_a_session():
    client = APIClient()
    response = client.post(BEACON, {"events": [item(VideoFactory())]}, format="json")
    assert response.status_code == 200
    session_key = Event.objects.get().session_key
    assert session_key and client.cookies["sessionid"].value == session_key
    client.post(BEACON, {"events": [item(VideoFactory())]}, format="json")
    assert set(Event.objects.values_list("session_key", flat=True)) == {session_key}


def test_beacon_accepts_text_plain_json_as_sendbeacon_sends_it():
    body = json.dumps({"events": [item(VideoFactory(), kind="view", watch_seconds=30)]})
    response = APIClient().post(BEACON, body, content_type="text/plain;charset=UTF-8")
    assert response.status_code == 200, response.content
    assert Event.objects.get().watch_seconds == 30


def test_beacon_records_the_logged_in_user_and_refreshes_on_a_completed_view(
    refresh_calls, django_capture_on_commit_callbacks
):
    user = UserFactory()
    client = APIClient()
    client.force_authenticate(user)
    video = VideoFactory()
    with django_capture_on_commit_callbacks(execute=True):
        client.post(BEACON, {"events": [item(video, kind="view", watch_ratio=1.2), item(video)]}, format="json")
    assert set(Event.objects.values_list("user", flat=True)) == {user.pk}
    assert refresh_calls == [(user.pk,)]


class TestBeaconCsrf:
    """A logged-in session must prove the CSRF token: in the header, or in the body for sendBeacon."""

    @pytest.fixture
    def client(self):
        UserFactory(username="olga")
        client = APIClient(enforce_csrf_checks=True)
        client.login(username="olga", password="pass-word-123")
        return client

    def csrf_token(self, client) -> str:
        return client.get("/api/v1/auth/csrf").json()["csrf_token"]

    def test_without_a_token_it_is_403(self, client):
        response = client.post(BEACON, {"events": [item(VideoFactory())]}, format="json")
        assert response.status_code == 403
        assert not Event.objects.exists()

    def test_with_the_header(self, client):
        token = self.csrf_token(client)
        response = client.post(BEACON, {"events": [item(VideoFactory())]}, format="json", HTTP_X_CSRFTOKEN=token)
        assert response.status_code == 200
        assert Event.objects.get().user.username == "olga"

    def test_with_the_token_in_a_text_plain_body(self, client):
        token = self.csrf_token(client)
        body = json.dumps({"events": [item(VideoFactory())], "csrf_token": token})
        response = client.post(BEACON, body, content_type="text/plain")
        assert response.status_code == 200, response.content

    def test_with_a_wrong_token_in_the_body(self, client):
        self.csrf_token(client)
        body = json.dumps({"events": [item(VideoFactory())], "csrf_token": "x" * 32})
        assert client.post(BEACON, body, content_type="text/plain").status_code == 403


def test_beacon_is_throttled(settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "events": "1/min"},
    }
    video = VideoFactory()
    client = APIClient()
    assert client.post(BEACON, {"events": [item(video)]}, format="json").status_code == 200
    response = client.post(BEACON, {"events": [item(video)]}, format="json")
    assert response.status_code == 429 and "Retry-After" in response


# --- history ---


def test_history_lists_each_viewed_video_once_newest_first(django_assert_max_num_queries):
    user = UserFactory()
    first, second, hidden = VideoFactory(), VideoFactory(), VideoFactory()
    now = timezone.now()
    EventFactory(user=user, video=first, created_at=now - timedelta(hours=3))
    EventFactory(user=user, video=second, created_at=now - timedelta(hours=2))
    EventFactory(user=user, video=first, created_at=now - timedelta(hours=1))
    EventFactory(user=user, video=hidden, created_at=now)
    EventFactory(user=user, video=second, kind=Event.Kind.LIKE, created_at=now)
    EventFactory(video=second, created_at=now)  # another viewer
    Video.objects.filter(pk=hidden.pk).update(visibility=Video.Visibility.PRIVATE)
    client = APIClient()
    client.force_authenticate(user)
    with django_assert_max_num_queries(3):
        body = client.get("/api/v1/me/history").json()
    assert body["count"] == 2
    assert [row["id"] for row in body["results"]] == [first.pk, second.pk]
    assert body["results"][0]["last_viewed_at"]
