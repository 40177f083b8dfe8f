"""Comments, likes, favourites, dislikes and follows: services, their events and follow-up tasks, and the API."""

import sys
import types

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from rest_framework.test import APIClient

from tests.factories import CommentFactory, EventFactory, StaffFactory, UserFactory, VideoFactory
from videoapp.models import Comment, Dislike, Event, Favourite, Follow, Like, Video
from videoapp.services import social

pytestmark = pytest.mark.django_db


class FakeTask:
    def __init__(self):
        self.calls: list[tuple] = []

    def delay(self, *args):
        self.calls.append(args)


@pytest.fixture
def tasks(monkeypatch):
    """Stand-ins for the other apps' Celery tasks, so the contract is tested whether or not they exist yet."""
    refresh, keywords = FakeTask(), FakeTask()
    recommender_tasks = types.ModuleType("recommender.tasks")
    recommender_tasks.user_profile_refresh = refresh
    tagging_tasks = types.ModuleType("tagging.tasks")
    tagging_tasks.comment_keywords_apply = keywords
    monkeypatch.setitem(sys.modules, "recommender.tasks", recommender_tasks)
    monkeypatch.setitem(sys.modules, "tagging.tasks", tagging_tasks)
    return types.SimpleNamespace(profile_refresh=refresh, comment_keywords=keywords)


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


# --- services ---


def test_like_is_idempotent_and_writes_one_event_and_one_refresh(tasks, django_capture_on_commit_callbacks):
    user, video = UserFactory(), VideoFactory()
    with django_capture_on_commit_callbacks(execute=True):
        assert social.like_create(user=user, video=video) is True
        assert social.like_create(user=user, video=video) is False
    assert Like.objects.filter(user=user, video=video).count() == 1
    assert list(Event.objects.filter(user=user).values_list("kind", "video_id")) == [("like", video.pk)]
    assert tasks.profile_refresh.calls == [(user.pk,)]
    assert social.like_delete(user=user, video=video) is True
    assert social.like_delete(user=user, video=video) is False


def test_favourite_and_dislike_write_their_events(tasks, django_capture_on_commit_callbacks):
    user, video = UserFactory(), VideoFactory()
    with django_capture_on_commit_callbacks(execute=True):
        social.favourite_create(user=user, video=video)
        social.dislike_create(user=user, video=video)
    assert set(Event.objects.filter(user=user).values_list("kind", flat=True)) == {"favourite", "dislike"}
    assert tasks.profile_refresh.calls == [(user.pk,), (user.pk,)]


def test_dislike_removes_the_like_and_like_removes_the_dislike():
    user, video = UserFactory(), VideoFactory()
    social.like_create(user=user, video=video)
    social.dislike_create(user=user, video=video)
    assert not Like.objects.filter(user=user, video=video).exists()
    social.like_create(user=user, video=video)
    assert not Dislike.objects.filter(user=user, video=video).exists()


def test_a_missing_task_module_is_skipped_quietly(monkeypatch, django_capture_on_commit_callbacks):
    monkeypatch.setitem(sys.modules, "recommender.tasks", None)  # makes the import fail like a missing module
    with django_capture_on_commit_callbacks(execute=True):
        assert social.like_create(user=UserFactory(), video=VideoFactory()) is True


def test_follow_writes_an_event_and_refuses_self_follow():
    follower, uploader = UserFactory(), UserFactory()
    video = VideoFactory(owner=uploader)
    assert social.follow_create(follower=follower, followee=uploader, video=video) is True
    assert social.follow_create(follower=follower, followee=uploader) is False
    event = Event.objects.get(kind=Event.Kind.FOLLOW)
    assert (event.user, event.video, event.context) == (follower, video, {"followee_id": uploader.pk})
    with pytest.raises(ValidationError):
        social.follow_create(follower=follower, followee=follower)


def test_comment_create_strips_and_queues_keywords_and_refresh(tasks, django_capture_on_commit_callbacks):
    user, video = UserFactory(), VideoFactory()
    with django_capture_on_commit_callbacks(execute=True):
        comment = social.comment_create(video=video, author=user, text="  好看！  ")
    assert comment.text == "好看！"
    assert Event.objects.get(kind=Event.Kind.COMMENT).context == {"comment_id": comment.pk}
    assert tasks.comment_keywords.calls == [(comment.pk,)]
    assert tasks.profile_refresh.calls == [(user.pk,)]


def test_no_task_is_queued_when_the_transaction_rolls_back(tasks, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        with pytest.raises(ValidationError):
            social.comment_create(video=VideoFactory(), author=UserFactory(), text="   ")
    assert callbacks == []
    assert not Event.objects.exists()


@pytest.mark.parametrize("text", ["", "   ", "长" * 2001])
def test_comment_text_must_be_1_to_2000_characters(text):
    with pytest.raises(ValidationError):
        social.comment_create(video=VideoFactory(), author=UserFactory(), text=text)


def test_comment_of_2000_characters_is_accepted():
    assert len(social.comment_create(video=VideoFactory(), author=UserFactory(), text="长" * 2000).text) == 2000


def test_a_reply_to_a_reply_joins_the_top_level_thread():
    video = VideoFactory()
    top = CommentFactory(video=video)
    reply = social.comment_create(video=video, author=UserFactory(), text="同意", parent=top)
    nested = social.comment_create(video=video, author=UserFactory(), text="我也是", parent=reply)
    assert reply.parent == top and nested.parent == top


def test_a_reply_must_be_on_the_same_video():
    with pytest.raises(ValidationError):
        social.comment_create(video=VideoFactory(), author=UserFactory(), text="嗨", parent=CommentFactory())


def test_comment_delete_allows_author_video_owner_and_staff_only():
    owner = UserFactory()
    for actor_kind in ("author", "owner", "staff"):
        comment = CommentFactory(video=VideoFactory(owner=owner))
        actor = {"author": comment.author, "owner": owner, "staff": StaffFactory()}[actor_kind]
        social.comment_delete(comment=comment, actor=actor)
        assert not Comment.objects.filter(pk=comment.pk).exists()
    comment = CommentFactory()
    with pytest.raises(PermissionDenied):
        social.comment_delete(comment=comment, actor=UserFactory())


# --- API ---


def test_comment_list_nests_replies_and_paginates():
    video = VideoFactory()
    first = CommentFactory(video=video, text="第一")
    CommentFactory(video=video, parent=first, text="回复")
    CommentFactory(video=video, text="第二")
    body = APIClient().get(f"/api/v1/videos/{video.pk}/comments").json()
    assert body["count"] == 2
    newest, oldest = body["results"]
    assert (newest["text"], oldest["text"]) == ("第二", "第一")
    assert [reply["text"] for reply in oldest["replies"]] == ["回复"]
    assert oldest["reply_count"] == 1


def test_comment_list_has_no_n_plus_one(django_assert_max_num_queries):
    video = VideoFactory()
    for _index in range(15):
        top = CommentFactory(video=video, author=UserFactory())
        CommentFactory.create_batch(2, video=video, parent=top, author=UserFactory())
    client = client_for(UserFactory())
    with django_assert_max_num_queries(6):  # video, count, page, replies (+ auth/session)
        response = client.get(f"/api/v1/videos/{video.pk}/comments")
    assert len(response.json()["results"]) == 15


def test_comment_post_and_reply_api():
    video, user = VideoFactory(), UserFactory()
    client = client_for(user)
    response = client.post(f"/api/v1/videos/{video.pk}/comments", {"text": "不错"}, format="json")
    assert response.status_code == 201
    top_id = response.json()["id"]
    response = client.post(f"/api/v1/videos/{video.pk}/comments", {"text": "补充", "parent": top_id}, format="json")
    assert response.status_code == 201 and response.json()["parent"] == top_id


def test_comment_post_rejects_empty_text_and_foreign_parent_with_messages():
    video = VideoFactory()
    client = client_for(UserFactory())
    empty = client.post(f"/api/v1/videos/{video.pk}/comments", {"text": "  "}, format="json")
    assert empty.status_code == 400 and empty.json()["detail"]
    foreign = client.post(
        f"/api/v1/videos/{video.pk}/comments", {"text": "嗨", "parent": CommentFactory().pk}, format="json"
    )
    assert foreign.status_code == 404 and foreign.json()["detail"]


def test_comment_post_is_throttled(settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "comment": "2/min"},
    }
    video = VideoFactory()
    client = client_for(UserFactory())
    for _index in range(2):
        assert client.post(f"/api/v1/videos/{video.pk}/comments", {"text": "好"}).status_code == 201
    response = client.post(f"/api/v1/videos/{video.pk}/comments", {"text": "好"})
    assert response.status_code == 429 and int(response["Retry-After"]) > 0
    assert client.get(f"/api/v1/videos/{video.pk}/comments").status_code == 200  # reading is not limited


def test_like_favourite_dislike_toggles_answer_the_state():
    video, user = VideoFactory(), UserFactory()
    client = client_for(user)
    for _twice in range(2):
        response = client.put(f"/api/v1/videos/{video.pk}/like")
        assert response.status_code == 200
        assert response.json()["liked"] is True and response.json()["like_count"] == 1
    assert client.put(f"/api/v1/videos/{video.pk}/favourite").json()["favourite_count"] == 1
    state = client.put(f"/api/v1/videos/{video.pk}/dislike").json()
    assert state["disliked"] is True and state["liked"] is False and state["like_count"] == 0
    for _twice in range(2):
        assert client.delete(f"/api/v1/videos/{video.pk}/favourite").json()["favourited"] is False
    assert Event.objects.filter(user=user, kind=Event.Kind.LIKE).count() == 1


def test_social_actions_on_a_video_the_user_may_not_see_are_404():
    private = VideoFactory(visibility=Video.Visibility.PRIVATE)
    client = client_for(UserFactory())
    for url in ("like", "favourite", "dislike"):
        assert client.put(f"/api/v1/videos/{private.pk}/{url}").status_code == 404
    assert client.post(f"/api/v1/videos/{private.pk}/comments", {"text": "嗨"}).status_code == 404
    assert client.get(f"/api/v1/videos/{private.pk}/comments").status_code == 404
    assert not Like.objects.exists() and not Comment.objects.exists()


def test_follow_api_counts_and_refuses_self():
    uploader, fan = UserFactory(username="uploader"), UserFactory()
    client = client_for(fan)
    for _twice in range(2):
        body = client.put("/api/v1/users/uploader/follow").json()
        assert body == {"following": True, "follower_count": 1}
    assert client.delete("/api/v1/users/uploader/follow").json() == {"following": False, "follower_count": 0}
    response = client_for(uploader).put("/api/v1/users/uploader/follow")
    assert response.status_code == 400 and response.json()["detail"]
    assert not Follow.objects.exists()


def test_my_favourites_newest_first_without_hidden_videos(django_assert_max_num_queries):
    user = UserFactory()
    older, newer, hidden = VideoFactory(), VideoFactory(), VideoFactory()
    for video in (older, newer, hidden):
        social.favourite_create(user=user, video=video)
    Like.objects.create(user=UserFactory(), video=newer)
    Video.objects.filter(pk=hidden.pk).update(visibility=Video.Visibility.PRIVATE)
    client = client_for(user)
    with django_assert_max_num_queries(3):
        body = client.get("/api/v1/me/favourites").json()
    assert [item["id"] for item in body["results"]] == [newer.pk, older.pk]
    assert body["results"][0]["like_count"] == 1 and body["results"][0]["favourite_count"] == 1


def test_video_social_state_for_anonymous_viewers():
    video = VideoFactory()
    Favourite.objects.create(user=UserFactory(), video=video)
    EventFactory(video=video)
    body = APIClient().get(f"/api/v1/videos/{video.pk}/social").json()
    assert body["favourite_count"] == 1 and body["liked"] is False
