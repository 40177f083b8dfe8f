"""Throttling gaps not covered by the app tests (tests/videoapp/test_accounts.py, test_social.py, test_events.py,
tests/tagging/test_apis.py cover the plain 429s): the HTML login and sign-up forms, X-Forwarded-For
spoofing, switching between token and session, and Retry-After on the tag endpoint.
"""

from __future__ import annotations

import uuid

import pytest
from django.test import Client
from rest_framework.test import APIClient

from tests.factories import UserFactory, VideoFactory

pytestmark = pytest.mark.django_db
PASSWORD = "Sturdy-pass-42"


def set_rates(settings, **rates: str) -> None:
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], **rates},
    }


def user_with_password(username: str):
    user = UserFactory(username=username)
    user.set_password(PASSWORD)
    user.save(update_fields=["password"])
    return user


def test_login_form_page_is_throttled_per_address(settings):
    set_rates(settings, login="3/min", login_failure="100/min")
    user_with_password("nina")
    client = Client()
    codes = [client.post("/accounts/login/", {"username": "nina", "password": "wrong"}).status_code for _ in range(3)]
    assert codes == [400, 400, 400]
    response = client.post("/accounts/login/", {"username": "nina", "password": PASSWORD})
    assert response.status_code == 429 and int(response["Retry-After"]) > 0
    assert "尝试次数过多" in response.content.decode()
    assert "_auth_user_id" not in client.session  # the right password did not get through while held


def test_failed_logins_on_the_form_hold_the_account_on_the_api_too(settings):
    """A brute force cannot alternate between the form and the API: both count the same failures."""
    set_rates(settings, login="100/min", login_failure="3/min")
    user_with_password("olga")
    form, api = Client(), APIClient()
    form.post("/accounts/login/", {"username": "olga", "password": "guess1"})
    api.post("/api/v1/auth/login", {"username": "olga", "password": "guess2"})
    form.post("/accounts/login/", {"username": "olga", "password": "guess3"})
    assert api.post("/api/v1/auth/login", {"username": "olga", "password": PASSWORD}).status_code == 429
    assert form.post("/accounts/login/", {"username": "olga", "password": PASSWORD}).status_code == 429


def test_register_form_page_is_throttled(settings):
    set_rates(settings, register="2/min")
    client = Client()
    for index in range(2):
        response = client.post("/accounts/register/", {"username": f"pia{index}", "password": PASSWORD,
                                                        "password2": PASSWORD})
        assert response.status_code == 302
        client.logout()
    response = client.post("/accounts/register/", {"username": "pia9", "password": PASSWORD, "password2": PASSWORD})
    assert response.status_code == 429 and "Retry-After" in response


def test_spoofed_x_forwarded_for_does_not_reset_the_address_limit(settings):
    set_rates(settings, login="3/min", login_failure="100/min")
    user_with_password("quinn")
    client = APIClient()
    codes = [client.post("/api/v1/auth/login", {"username": "quinn", "password": "wrong"},
                         HTTP_X_FORWARDED_FOR=f"10.0.0.{index}").status_code for index in range(6)]
    assert codes[:3] == [400, 400, 400]
    assert codes[3:] == [429, 429, 429]


def test_comment_limit_follows_the_user_across_token_and_session(settings):
    from rest_framework.authtoken.models import Token

    set_rates(settings, comment="2/min")
    user, video = UserFactory(), VideoFactory()
    token = APIClient()
    token.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    session = APIClient()
    session.force_login(user)
    assert token.post(f"/api/v1/videos/{video.pk}/comments", {"text": "一"}).status_code == 201
    assert session.post(f"/api/v1/videos/{video.pk}/comments", {"text": "二"}).status_code == 201
    response = token.post(f"/api/v1/videos/{video.pk}/comments", {"text": "三"})
    assert response.status_code == 429 and int(response["Retry-After"]) > 0


def test_tag_proposals_429_carries_retry_after_and_a_message(settings):
    from rest_framework.throttling import ScopedRateThrottle

    set_rates(settings, tag="1/min")
    previous = ScopedRateThrottle.THROTTLE_RATES
    ScopedRateThrottle.THROTTLE_RATES = settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]  # read once at import
    try:
        client = APIClient()
        client.force_authenticate(UserFactory())
        video = VideoFactory()
        assert client.post(f"/api/v1/videos/{video.pk}/tags", {"tags": ["甲"]}, format="json").status_code == 200
        response = client.post(f"/api/v1/videos/{video.pk}/tags", {"tags": ["乙"]}, format="json")
        assert response.status_code == 429 and int(response["Retry-After"]) > 0
        assert response.json()["detail"]
    finally:
        ScopedRateThrottle.THROTTLE_RATES = previous


def test_anonymous_beacons_share_one_limit_per_address(settings):
    """Dropping the session cookie between batches does not escape the events limit."""
    set_rates(settings, events="2/min")
    video = VideoFactory()
    codes = []
    for _ in range(3):
        client = APIClient()  # a fresh client: no session cookie
        batch = {"events": [{"event_id": str(uuid.uuid4()), "video": video.pk, "kind": "impression"}]}
        codes.append(client.post("/api/v1/events/beacon", batch, format="json").status_code)
    assert codes == [200, 200, 429]
