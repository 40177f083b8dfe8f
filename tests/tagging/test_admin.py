"""Django admin back office: actions go through the audited services."""

from __future__ import annotations

import pytest
from django.test import Client

from tagging.models import KeywordEntry, LibraryVersion, Tag, TagCorrection, VideoTag
from tests.factories import StaffFactory, TagFactory, VideoTagFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client_():
    client = Client()
    client.force_login(StaffFactory())
    return client


def test_merge_action_asks_for_the_target_then_merges(admin_client_):
    a, b = TagFactory(name="番茄"), TagFactory(name="西红柿")
    VideoTagFactory(tag=b)
    url = "/admin/tagging/tag/"
    page = admin_client_.post(url, {"action": "merge_tags", "_selected_action": [a.pk, b.pk]})
    assert page.status_code == 200 and "合并到" in page.content.decode()
    done = admin_client_.post(url, {"action": "merge_tags", "_selected_action": [a.pk, b.pk], "apply": "1",
                                    "target": a.pk})
    assert done.status_code == 302
    b.refresh_from_db()
    assert b.merged_into == a and VideoTag.objects.get().tag == a
    assert TagCorrection.objects.get().action == "merge"


def test_block_and_video_tag_bulk_actions(admin_client_):
    bad = TagFactory(name="广告")
    VideoTagFactory(tag=bad)
    admin_client_.post("/admin/tagging/tag/", {"action": "block_tags", "_selected_action": [bad.pk]})
    assert Tag.objects.get(pk=bad.pk).is_blocked and not VideoTag.objects.filter(tag=bad).exists()
    rows = VideoTagFactory.create_batch(2, state=VideoTag.State.SUGGESTED)
    admin_client_.post("/admin/tagging/videotag/", {"action": "approve", "_selected_action": [r.pk for r in rows]})
    assert set(VideoTag.objects.filter(pk__in=[r.pk for r in rows]).values_list("state", flat=True)) == {"active"}
    assert list(TagCorrection.objects.values_list("action", flat=True)) == ["approve", "block"]


def test_keyword_admin_bumps_the_library_version_and_audits(admin_client_):
    response = admin_client_.post("/admin/tagging/keywordentry/add/", {"word": "炒糖色", "kind": "user_word",
                                                                        "canonical": ""})
    assert response.status_code == 302
    assert KeywordEntry.objects.filter(word="炒糖色").exists()
    assert LibraryVersion.objects.get().version == 1
    assert TagCorrection.objects.get().action == "keyword"


def test_renaming_in_the_admin_is_an_audited_rename(admin_client_):
    tag = TagFactory(name="旅游", category="旅行")
    response = admin_client_.post(f"/admin/tagging/tag/{tag.pk}/change/", {
        "name": "旅行攻略", "category": "旅行", "display_order": 0, "offered_in_onboarding": "on",
    })
    assert response.status_code == 302
    tag.refresh_from_db()
    assert tag.name == "旅行攻略"
    assert TagCorrection.objects.get().before == {"name": "旅游"}


def test_audit_is_read_only_and_lists_render(admin_client_):
    TagCorrection.objects.create(action="merge", target="x")
    for model in ["tag", "keywordentry", "videotag", "tagcorrection", "userinterest", "viewertagvote", "idftable"]:
        assert admin_client_.get(f"/admin/tagging/{model}/").status_code == 200, model
    assert admin_client_.get("/admin/tagging/tagcorrection/add/").status_code == 403
