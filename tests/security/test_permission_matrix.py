"""Every /api/v1/ endpoint x method x {anonymous, viewer, owner, staff}: who may get a 2xx.

The endpoints are enumerated from the URL resolver, so a new endpoint fails ``test_every_endpoint_is_in_the_table``
until someone decides who may call it.  Object ids in the URLs point at the owner's *private* video (and
its comment), the strictest case: nobody but the owner and staff may see it.

Expectation codes per role: ``A`` must be 2xx, ``D`` must be a 4xx (never 2xx), ``?`` any non-5xx answer
(allowed, but the body used here may be invalid or the state may not allow it).
"""

from __future__ import annotations

import uuid

import pytest
from django.urls import URLResolver, get_resolver
from rest_framework.test import APIClient

from tagging.models import KeywordEntry, Tag, VideoTag
from tests.factories import CommentFactory, StaffFactory, UserFactory, VideoFactory
from videoapp.models import Video

pytestmark = pytest.mark.django_db
ROLES = ("anonymous", "viewer", "owner", "staff")
PASSWORD = "Sturdy-pass-42"

# (url name, method): (expectation for anonymous, viewer, owner, staff), request body
TABLE: dict[tuple[str, str], tuple[str, object]] = {
    ("health-live", "GET"): ("AAAA", None),
    ("health-ready", "GET"): ("AAAA", None),
    ("feed", "GET"): ("AAAA", None),
    ("video-related", "GET"): ("DDAA", None),
    ("hot", "GET"): ("AAAA", None),
    ("users-suggested", "GET"): ("AAAA", None),
    ("auth-csrf", "GET"): ("AAAA", None),
    ("auth-register", "POST"): ("A???", {"username": "newcomer{role}", "password": PASSWORD}),
    ("auth-login", "POST"): ("A???", {"username": "viewer", "password": PASSWORD}),
    ("auth-logout", "POST"): ("DAAA", None),
    ("auth-token", "POST"): ("A???", {"username": "viewer", "password": PASSWORD}),
    ("me", "GET"): ("DAAA", None),
    ("me", "PATCH"): ("DAAA", {"bio": "你好"}),
    ("user-public", "GET"): ("AAAA", None),
    ("api-videos", "GET"): ("AAAA", None),
    ("api-videos", "POST"): ("DDDD", {"title": "no file"}),  # no file: 400 for everyone, 403 anonymous
    ("api-video-detail", "GET"): ("DDAA", None),
    ("api-video-detail", "PATCH"): ("DDAA", {"title": "新标题"}),
    ("api-video-detail", "DELETE"): ("DDAA", None),
    ("api-video-stream", "GET"): ("DD??", None),  # the factory video has no media: 404 for everyone
    ("api-video-poster", "GET"): ("DDAA", None),
    ("video-comments", "GET"): ("DDAA", None),
    ("video-comments", "POST"): ("DDAA", {"text": "好看"}),
    ("comment-detail", "DELETE"): ("DDAA", None),
    ("video-social", "GET"): ("DDAA", None),
    ("video-like", "PUT"): ("DDAA", None),
    ("video-like", "DELETE"): ("DDAA", None),
    ("video-favourite", "PUT"): ("DDAA", None),
    ("video-favourite", "DELETE"): ("DDAA", None),
    ("video-dislike", "PUT"): ("DDAA", None),
    ("video-dislike", "DELETE"): ("DDAA", None),
    ("user-follow", "PUT"): ("DADA", None),  # following oneself is a 400
    ("user-follow", "DELETE"): ("DAAA", None),
    ("me-favourites", "GET"): ("DAAA", None),
    ("events-beacon", "POST"): ("DDAA", "beacon"),
    ("me-history", "GET"): ("DAAA", None),
    ("tag-list", "GET"): ("AAAA", None),
    ("tag-detail", "GET"): ("AAAA", None),
    ("video-tags", "GET"): ("DDAA", None),
    ("video-tags", "POST"): ("DDAA", {"tags": ["新标签"]}),
    ("video-tags-confirm", "POST"): ("DDAA", {"accept": ["秘密"]}),
    ("onboarding-tags", "GET"): ("AAAA", None),
    ("onboarding", "POST"): ("DAAA", {"skip": True}),
    ("my-interests", "GET"): ("DAAA", None),
    ("my-interests", "PUT"): ("D???", {"tags": []}),
    ("admin-tag-list", "GET"): ("DDDA", None),
    ("admin-tag-merge", "POST"): ("DDD?", {"source": "{tag}", "target": "{tag}"}),
    ("admin-tag-rename", "POST"): ("DDD?", {"name": "改名"}),
    ("admin-tag-block", "POST"): ("DDD?", {}),
    ("admin-video-tag-list", "GET"): ("DDDA", None),
    ("admin-video-tag-approve", "POST"): ("DDD?", {"ids": ["{video_tag}"]}),
    ("admin-video-tag-reject", "POST"): ("DDD?", {"ids": ["{video_tag}"]}),
    ("admin-videos-tags-add", "POST"): ("DDD?", {"videos": ["{video}"], "tags": ["加"]}),
    ("admin-videos-tags-remove", "POST"): ("DDD?", {"videos": ["{video}"], "tags": ["秘密"]}),
    ("admin-tags-reextract", "POST"): ("DDD?", {"videos": ["{video}"]}),
    ("admin-keyword-list", "GET"): ("DDDA", None),
    ("admin-keyword-list", "POST"): ("DDD?", {"word": "新词", "kind": "keyword"}),
    ("admin-keyword-detail", "PUT"): ("DDD?", {"word": "改词", "kind": "keyword"}),
    ("admin-keyword-detail", "DELETE"): ("DDDA", None),
    ("admin-tag-corrections", "GET"): ("DDDA", None),
}


def api_endpoints() -> list[tuple[str, str, str]]:
    """(route, url name, method) of every /api/v1/ view, from the resolver."""
    found = []

    def walk(patterns, prefix=""):
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns, prefix + str(pattern.pattern))
                continue
            route = prefix + str(pattern.pattern)
            view = getattr(pattern.callback, "view_class", None)
            if not route.startswith("api/v1/") or view is None:
                continue
            for method in ("get", "post", "put", "patch", "delete"):
                if hasattr(view, method):
                    found.append((route, pattern.name, method.upper()))

    walk(get_resolver().url_patterns)
    return found


ENDPOINTS = api_endpoints()


def test_every_endpoint_is_in_the_table():
    listed = {(name, method) for _route, name, method in ENDPOINTS}
    assert listed - set(TABLE) == set(), "new endpoints: decide who may call them"
    assert set(TABLE) - listed == set(), "the table names endpoints that no longer exist"
    assert len(ENDPOINTS) >= 55


@pytest.fixture
def world():
    owner = UserFactory(username="owner")
    viewer = UserFactory(username="viewer")
    for user in (owner, viewer):
        user.set_password(PASSWORD)
        user.save(update_fields=["password"])
    private = VideoFactory(owner=owner, visibility=Video.Visibility.PRIVATE, title="秘密视频")
    tag = Tag.objects.create(name="秘密")
    video_tag = VideoTag.objects.create(video=private, tag=tag)
    return {
        "owner": owner,
        "viewer": viewer,
        "staff": StaffFactory(username="staff"),
        "video": private,
        "public": VideoFactory(owner=owner),
        "comment": CommentFactory(video=private, author=owner),
        "tag": tag,
        "video_tag": video_tag,
        "keyword": KeywordEntry.objects.create(word="关键词"),
    }


def url_for(route: str, world) -> str:
    values = {
        "<int:video_id>": world["video"].pk,
        "<int:comment_id>": world["comment"].pk,
        "<str:username>": "owner",
        "<path:name>": world["tag"].name,
        "<int:tag_id>": world["tag"].pk,
        "<int:entry_id>": world["keyword"].pk,
    }
    for placeholder, value in values.items():
        route = route.replace(placeholder, str(value))
    return "/" + route


def body_for(template, world, role: str):
    if template == "beacon":
        return {"events": [{"event_id": str(uuid.uuid4()), "video": world["video"].pk, "kind": "impression"}]}
    if template is None:
        return None

    def fill(value):
        if isinstance(value, str):
            for key in ("video", "tag", "video_tag"):
                if value == "{" + key + "}":
                    return world[key].pk if key != "tag" else world[key].name
            return value.replace("{role}", role)
        if isinstance(value, list):
            return [fill(item) for item in value]
        return value

    return {key: fill(value) for key, value in template.items()}


CASES = [(route, name, method, role_index) for route, name, method in ENDPOINTS for role_index in range(4)]


@pytest.mark.parametrize(("route", "name", "method", "role_index"), CASES,
                         ids=[f"{method} {name} {ROLES[index]}" for _r, name, method, index in CASES])
def test_permission_matrix(world, settings, route, name, method, role_index):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {
        key: "100000/min" for key in settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]}}
    role = ROLES[role_index]
    expected_codes, template = TABLE[(name, method)]
    expected = expected_codes[role_index]
    client = APIClient(raise_request_exception=False)
    if role != "anonymous":
        client.force_authenticate(world[role])
    response = client.generic(method, url_for(route, world), data=_json(body_for(template, world, role)),
                              content_type="application/json")
    status = response.status_code
    assert status < 500, (status, response.content[:300])
    if expected == "A":
        assert 200 <= status < 300, (status, response.content[:300])
    elif expected == "D":
        assert 400 <= status < 500, (status, response.content[:300])
        if response["Content-Type"].startswith("application/json"):
            assert response.json().get("detail"), response.content[:300]
    if role in ("anonymous", "viewer") and 200 <= status < 300 and name != "me":
        # Whatever they may call, nothing of the owner's private video comes back to them.
        assert "秘密视频" not in response.content.decode("utf-8", "replace"), name


def _json(body) -> str:
    import json

    return "" if body is None else json.dumps(body)


# --- private videos: never listed, served or recommended to anyone but the owner and staff ---

LISTINGS = ["/api/v1/videos/", "/api/v1/videos/?ordering=popular", "/api/v1/videos/?q=秘密",
            "/api/v1/videos/?owner={owner}", "/api/v1/feed", "/api/v1/feed?tab=hot", "/api/v1/hot",
            "/api/v1/videos/{public}/related", "/api/v1/users/owner", "/api/v1/tags/秘密",
            "/api/v1/me/history", "/api/v1/me/favourites", "/", "/search/?q=秘密", "/tags/秘密/", "/u/owner/",
            "/watch/{video}/", "/videos/{video}/", "/api/v1/videos/{video}/poster", "/api/v1/videos/{video}/stream"]


@pytest.mark.parametrize("role", ["anonymous", "viewer"])
def test_private_video_is_never_listed_served_or_recommended(world, role, settings):
    from django.test import Client

    settings.RECOMMENDER_VERSION_TTL_SECONDS = 0
    client = Client(raise_request_exception=False)
    if role == "viewer":
        client.force_login(world["viewer"])
    private = world["video"]
    leaks = []
    for template in LISTINGS:
        url = template.format(owner=world["owner"].pk, public=world["public"].pk, video=private.pk)
        response = client.get(url)
        text = response.content.decode("utf-8", "replace")
        if response.status_code >= 500:
            leaks.append((url, response.status_code))
        elif 200 <= response.status_code < 300 and ("秘密视频" in text or f'"id": {private.pk},' in text
                                                     or f'data-video-id="{private.pk}"' in text):
            leaks.append((url, "shows the private video"))
    assert leaks == []


def test_owner_does_see_the_private_video(world):
    """Control: the checks above would notice the private video if it were shown."""
    client = APIClient()
    client.force_authenticate(world["owner"])
    assert "秘密视频" in client.get("/api/v1/videos/?mine=true").content.decode()
    assert client.get(f"/api/v1/videos/{world['video'].pk}/").status_code == 200
