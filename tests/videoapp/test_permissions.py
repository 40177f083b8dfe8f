"""Who may call each write endpoint of accounts, social actions and events: anonymous, viewer, owner, staff.

"owner" is the video's uploader (for a comment: the video's uploader, not the comment's author).
"""

import uuid

import pytest
from rest_framework.test import APIClient

from tests.factories import CommentFactory, StaffFactory, UserFactory, VideoFactory
from videoapp.models import Video

pytestmark = pytest.mark.django_db
ROLES = ("anonymous", "viewer", "owner", "staff")


@pytest.fixture
def world():
    owner = UserFactory(username="owner")
    return {
        "owner": owner,
        "viewer": UserFactory(username="viewer"),
        "staff": StaffFactory(username="staff"),
        "public": VideoFactory(owner=owner),
        "private": VideoFactory(owner=owner, visibility=Video.Visibility.PRIVATE),
    }


def client_as(world, role: str) -> APIClient:
    client = APIClient()
    if role != "anonymous":
        client.force_authenticate(world[role])
    return client


def call(world, role: str, method: str, url: str, data=None):
    return getattr(client_as(world, role), method)(url, data, format="json")


MATRIX = [
    # (name, method, url template, body, expected status per role: anonymous, viewer, owner, staff)
    ("comment public", "post", "/api/v1/videos/{public}/comments", {"text": "好"}, (403, 201, 201, 201)),
    ("comment private", "post", "/api/v1/videos/{private}/comments", {"text": "好"}, (403, 404, 201, 201)),
    ("like public", "put", "/api/v1/videos/{public}/like", None, (403, 200, 200, 200)),
    ("like private", "put", "/api/v1/videos/{private}/like", None, (403, 404, 200, 200)),
    ("unlike", "delete", "/api/v1/videos/{public}/like", None, (403, 200, 200, 200)),
    ("favourite private", "put", "/api/v1/videos/{private}/favourite", None, (403, 404, 200, 200)),
    ("unfavourite", "delete", "/api/v1/videos/{public}/favourite", None, (403, 200, 200, 200)),
    ("dislike private", "put", "/api/v1/videos/{private}/dislike", None, (403, 404, 200, 200)),
    ("undislike", "delete", "/api/v1/videos/{public}/dislike", None, (403, 200, 200, 200)),
    ("follow owner", "put", "/api/v1/users/owner/follow", None, (403, 200, 400, 200)),
    ("unfollow owner", "delete", "/api/v1/users/owner/follow", None, (403, 200, 200, 200)),
    ("edit my profile", "patch", "/api/v1/me", {"bio": "你好"}, (403, 200, 200, 200)),
    ("logout", "post", "/api/v1/auth/logout", None, (403, 204, 204, 204)),
]


@pytest.mark.parametrize(("name", "method", "template", "body", "expected"), MATRIX, ids=[row[0] for row in MATRIX])
@pytest.mark.parametrize("role_index", range(len(ROLES)), ids=ROLES)
def test_write_endpoint_permissions(world, name, method, template, body, expected, role_index):
    url = template.format(public=world["public"].pk, private=world["private"].pk)
    role = ROLES[role_index]
    response = call(world, role, method, url, body)
    assert response.status_code == expected[role_index], (name, role, response.content)


@pytest.mark.parametrize(
    ("role", "expected"), [("anonymous", 403), ("viewer", 403), ("owner", 204), ("author", 204), ("staff", 204)]
)
def test_comment_delete_permissions(world, role, expected):
    author = UserFactory(username="author")
    world["author"] = author
    comment = CommentFactory(video=world["public"], author=author)
    response = client_as(world, role).delete(f"/api/v1/comments/{comment.pk}")
    assert response.status_code == expected
    if expected == 403:
        assert response.json()["detail"]


@pytest.mark.parametrize(("role", "expected"), zip(ROLES, (400, 400, 200, 200), strict=True))
def test_beacon_only_records_videos_the_caller_may_see(world, role, expected):
    item = {"event_id": str(uuid.uuid4()), "video": world["private"].pk, "kind": "impression"}
    response = call(world, role, "post", "/api/v1/events/beacon", {"events": [item]})
    assert response.status_code == expected


def test_register_is_open_to_anonymous_visitors():
    response = APIClient().post(
        "/api/v1/auth/register", {"username": "newcomer", "password": "Sturdy-pass-42"}, format="json"
    )
    assert response.status_code == 201
