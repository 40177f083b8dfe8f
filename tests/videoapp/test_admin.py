"""The back office for the core app: every model is listed and searchable; the event log is read-only."""

import pytest
from django.contrib import admin
from django.urls import reverse

from tests.factories import CommentFactory, EventFactory, StaffFactory, UserFactory, VideoFactory
from videoapp.models import Comment, Dislike, Event, Favourite, Follow, Like, Profile, Video

pytestmark = pytest.mark.django_db
MODELS = (Profile, Video, Comment, Like, Favourite, Dislike, Follow, Event)


@pytest.fixture
def staff_client(client):
    client.force_login(StaffFactory())
    return client


@pytest.fixture
def rows():
    video = VideoFactory(title="红烧肉做法")
    user = UserFactory(username="searchme")
    CommentFactory(video=video, author=user, text="好吃")
    Like.objects.create(user=user, video=video)
    Favourite.objects.create(user=user, video=video)
    Dislike.objects.create(user=UserFactory(), video=video)
    Follow.objects.create(follower=user, followee=video.owner)
    EventFactory(user=user, video=video, context={"channel": "hot", "page": "feed"})
    return video


@pytest.mark.parametrize("model", MODELS, ids=lambda model: model.__name__)
def test_every_model_is_registered_with_list_columns_and_search(model):
    model_admin = admin.site._registry[model]
    assert len(model_admin.list_display) > 1
    assert model_admin.search_fields


@pytest.mark.parametrize("model", MODELS, ids=lambda model: model.__name__)
def test_changelists_load_and_search(staff_client, rows, model):
    url = reverse(f"admin:videoapp_{model._meta.model_name}_changelist")
    assert staff_client.get(url).status_code == 200
    response = staff_client.get(url, {"q": "searchme"})
    assert response.status_code == 200


def test_video_changelist_shows_counts_and_finds_by_title(staff_client, rows):
    response = staff_client.get(reverse("admin:videoapp_video_changelist"), {"q": "红烧肉"})
    assert "红烧肉做法" in response.content.decode()
    assert response.context["cl"].result_list[0].like_count == 1


def test_user_admin_shows_the_profile_inline(staff_client):
    user = UserFactory()
    response = staff_client.get(reverse("admin:auth_user_change", args=[user.pk]))
    assert response.status_code == 200
    assert 'name="profile-0-display_name"' in response.content.decode()


def test_event_admin_is_read_only(staff_client, rows):
    event = Event.objects.get()
    assert staff_client.get(reverse("admin:videoapp_event_add")).status_code == 403
    change_url = reverse("admin:videoapp_event_change", args=[event.pk])
    assert staff_client.get(change_url).status_code == 200  # viewable
    staff_client.post(change_url, {"kind": "like"})
    event.refresh_from_db()
    assert event.kind == Event.Kind.VIEW
    delete_url = reverse("admin:videoapp_event_delete", args=[event.pk])
    assert staff_client.post(delete_url, {"post": "yes"}).status_code == 403
    assert Event.objects.filter(pk=event.pk).exists()
    changelist = staff_client.get(reverse("admin:videoapp_event_changelist")).content.decode()
    assert "hot" in changelist  # the recommendation channel column


def test_video_admin_action_makes_videos_private(staff_client, rows):
    staff_client.post(
        reverse("admin:videoapp_video_changelist"), {"action": "make_private", "_selected_action": [rows.pk]}
    )
    rows.refresh_from_db()
    assert rows.visibility == Video.Visibility.PRIVATE
