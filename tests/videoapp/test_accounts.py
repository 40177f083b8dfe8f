"""Registration, login/logout, API tokens, the viewer's profile and public profiles."""

import io

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from tests.factories import UserFactory, VideoFactory
from videoapp.models import Follow, Profile, Video
from videoapp.services import accounts as account_services
from videoapp.services.accounts import profile_update, user_register

pytestmark = pytest.mark.django_db
PASSWORD = "pass-word-123"


def png_bytes(size=(8, 8)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(buffer, format="PNG")
    return buffer.getvalue()


# --- services ---


def test_register_creates_a_user_with_a_pending_profile():
    user = user_register(username=" alice ", password="Sturdy-pass-42", email="A@Example.com", display_name=" 爱丽丝 ")
    assert user.username == "alice"
    assert user.check_password("Sturdy-pass-42")
    assert user.profile.display_name == "爱丽丝"
    assert user.profile.onboarding_state == Profile.Onboarding.PENDING


def test_register_applies_djangos_password_validators():
    with pytest.raises(ValidationError) as caught:
        user_register(username="bob", password="12345678")
    assert "password" in caught.value.message_dict
    assert not get_user_model().objects.filter(username="bob").exists()


def test_register_rejects_a_taken_username_whatever_its_case():
    UserFactory(username="carol")
    with pytest.raises(ValidationError) as caught:
        user_register(username="CAROL", password="Sturdy-pass-42")
    assert "username" in caught.value.message_dict


def test_profile_update_rejects_an_unknown_choice_with_the_valid_ones():
    profile = UserFactory().profile
    with pytest.raises(ValidationError) as caught:
        profile_update(profile=profile, data={"gender": "robot"})
    assert "female" in caught.value.message_dict["gender"][0]


def test_profile_update_replaces_the_avatar_and_deletes_the_old_file(django_capture_on_commit_callbacks):
    profile = UserFactory().profile
    with django_capture_on_commit_callbacks(execute=True):
        profile_update(profile=profile, data={"avatar": SimpleUploadedFile("a.png", png_bytes())})
    first = profile.avatar.name
    assert profile.avatar.storage.exists(first)
    # Stored under a random name, never the client's ("a.png").
    assert first.endswith(".png") and first.rsplit("/", 1)[-1] != "a.png"
    with django_capture_on_commit_callbacks(execute=True):
        profile_update(profile=profile, data={"avatar": SimpleUploadedFile("b.png", png_bytes())})
    assert not profile.avatar.storage.exists(first)
    assert profile.avatar.storage.exists(profile.avatar.name)


# --- register / login / logout / token ---


def test_register_api_logs_the_new_user_in():
    client = APIClient()
    response = client.post(
        "/api/v1/auth/register", {"username": "dave", "password": "Sturdy-pass-42", "display_name": "大卫"},
        format="json",
    )
    assert response.status_code == 201, response.json()
    assert response.json()["onboarding_state"] == "pending"
    me = client.get("/api/v1/me")
    assert me.status_code == 200
    assert me.json()["username"] == "dave"


def test_register_api_explains_a_weak_password():
    response = APIClient().post("/api/v1/auth/register", {"username": "erin", "password": "123"}, format="json")
    assert response.status_code == 400
    body = response.json()
    assert "password" in body["errors"] and body["detail"]


def test_login_with_a_session_then_logout():
    UserFactory(username="frank")
    client = APIClient()
    response = client.post("/api/v1/auth/login", {"username": "frank", "password": PASSWORD}, format="json")
    assert response.status_code == 200
    assert client.get("/api/v1/me").status_code == 200
    assert client.post("/api/v1/auth/logout").status_code == 204
    assert client.get("/api/v1/me").status_code == 403


def test_login_with_a_wrong_password_is_a_400_with_a_message():
    UserFactory(username="gina")
    response = APIClient().post("/api/v1/auth/login", {"username": "gina", "password": "nope"}, format="json")
    assert response.status_code == 400
    assert response.json()["detail"]


def test_token_authenticates_api_clients_and_logout_revokes_it():
    user = UserFactory(username="hank")
    client = APIClient()
    response = client.post("/api/v1/auth/token", {"username": "hank", "password": PASSWORD}, format="json")
    assert response.status_code == 200
    token = response.json()["token"]
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert client.get("/api/v1/me").json()["username"] == "hank"
    assert client.post("/api/v1/auth/logout").status_code == 204
    assert not Token.objects.filter(user=user).exists()
    assert client.get("/api/v1/me").status_code in (401, 403)


# --- throttling ---


def set_rates(settings, **rates: str) -> None:
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], **rates},
    }


@pytest.fixture
def tight_rates(settings):
    set_rates(settings, login="3/min", register="2/min")


def test_login_is_throttled_per_address_with_retry_after(tight_rates):
    UserFactory(username="ivan")
    client = APIClient()
    for _attempt in range(3):
        assert client.post("/api/v1/auth/login", {"username": "ivan", "password": PASSWORD}).status_code == 200
    response = client.post("/api/v1/auth/login", {"username": "ivan", "password": PASSWORD})
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0


def test_failed_logins_hold_that_username_but_not_others(settings):
    """Failures count per username+address: after 3 wrong passwords that account is held, others are not."""
    set_rates(settings, login="100/min", login_failure="3/min")
    UserFactory(username="judy")
    UserFactory(username="kate")
    client = APIClient()
    for _attempt in range(3):
        assert client.post("/api/v1/auth/login", {"username": "judy", "password": "guess"}).status_code == 400
    blocked = client.post("/api/v1/auth/login", {"username": "judy", "password": PASSWORD})
    assert blocked.status_code == 429 and "Retry-After" in blocked
    assert client.post("/api/v1/auth/token", {"username": "JUDY", "password": PASSWORD}).status_code == 429
    assert client.post("/api/v1/auth/login", {"username": "kate", "password": PASSWORD}).status_code == 200


def test_successful_logins_do_not_count_as_failures(settings):
    set_rates(settings, login="100/min", login_failure="2/min")
    UserFactory(username="leo")
    client = APIClient()
    for _attempt in range(4):
        assert client.post("/api/v1/auth/login", {"username": "leo", "password": PASSWORD}).status_code == 200


def test_register_is_throttled(tight_rates):
    client = APIClient()
    for index in range(2):
        response = client.post("/api/v1/auth/register", {"username": f"new{index}", "password": "Sturdy-pass-42"})
        assert response.status_code == 201
    response = client.post("/api/v1/auth/register", {"username": "new9", "password": "Sturdy-pass-42"})
    assert response.status_code == 429
    assert "Retry-After" in response


# --- /me ---


@pytest.fixture
def user_client():
    user = UserFactory(username="mia")
    client = APIClient()
    client.force_authenticate(user)
    return user, client


def test_me_shows_the_onboarding_state(user_client):
    _user, client = user_client
    body = client.get("/api/v1/me").json()
    assert body["onboarding_state"] == "pending"
    assert body["avatar"] is None


def test_me_creates_a_missing_profile():
    user = get_user_model().objects.create_user(username="noprof", password=PASSWORD)
    client = APIClient()
    client.force_authenticate(user)
    assert client.get("/api/v1/me").status_code == 200
    assert Profile.objects.filter(user=user).exists()


def test_me_patch_updates_fields(user_client):
    user, client = user_client
    response = client.patch(
        "/api/v1/me", {"display_name": " 米娅 ", "bio": "爱看美食", "age_range": "25_34", "gender": "female"},
        format="json",
    )
    assert response.status_code == 200, response.json()
    user.profile.refresh_from_db()
    assert (user.profile.display_name, user.profile.age_range, user.profile.gender) == ("米娅", "25_34", "female")


def test_me_patch_rejects_an_invalid_choice_with_a_message(user_client):
    _user, client = user_client
    response = client.patch("/api/v1/me", {"age_range": "99_plus"}, format="json")
    assert response.status_code == 400
    assert "99_plus" in response.json()["detail"] and "25_34" in response.json()["detail"]


def test_me_avatar_upload_accepts_an_image_and_removes_it(user_client):
    user, client = user_client
    upload = SimpleUploadedFile("me.png", png_bytes(), content_type="image/png")
    response = client.patch("/api/v1/me", {"avatar": upload}, format="multipart")
    assert response.status_code == 200, response.json()
    assert response.json()["avatar"].startswith("/media/avatars/")
    response = client.patch("/api/v1/me", {"avatar": None}, format="json")
    assert response.status_code == 200
    assert response.json()["avatar"] is None


def test_me_avatar_rejects_a_file_that_is_not_an_image(user_client):
    _user, client = user_client
    upload = SimpleUploadedFile("me.png", b"this is not a picture" * 10, content_type="image/png")
    response = client.patch("/api/v1/me", {"avatar": upload}, format="multipart")
    assert response.status_code == 400
    assert "avatar" in response.json()["errors"]


def test_me_avatar_rejects_a_file_over_the_cap(user_client, monkeypatch):
    _user, client = user_client
    monkeypatch.setattr(account_services, "AVATAR_MAX_BYTES", 100)
    upload = SimpleUploadedFile("big.png", png_bytes((200, 200)), content_type="image/png")
    response = client.patch("/api/v1/me", {"avatar": upload}, format="multipart")
    assert response.status_code == 400
    assert "avatar" in response.json()["errors"]


# --- public profiles ---


def test_public_profile_has_counts_and_hides_private_details(user_client):
    viewer, client = user_client
    author = UserFactory(username="nina")
    VideoFactory.create_batch(2, owner=author)
    VideoFactory(owner=author, visibility=Video.Visibility.PRIVATE)
    Follow.objects.create(follower=viewer, followee=author)
    Follow.objects.create(follower=author, followee=UserFactory())
    body = client.get("/api/v1/users/nina").json()
    assert (body["video_count"], body["follower_count"], body["following_count"]) == (2, 1, 1)
    assert body["viewer_follows"] is True
    assert "gender" not in body and "email" not in body


def test_public_profile_of_an_unknown_user_is_404():
    response = APIClient().get("/api/v1/users/nobody")
    assert response.status_code == 404
    assert response.json()["detail"]
