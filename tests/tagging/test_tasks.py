"""Celery tasks of the tagging app: suggestion, comment keywords, IDF recompute (eager, and one real worker)."""

from __future__ import annotations

import pytest

from tagging import tasks
from tagging.models import CommentKeywords, IdfTable, Tag, UserInterest, VideoTag
from tagging.services import library
from tests.factories import CommentFactory, TagFactory, UserFactory, VideoFactory, VideoTagFactory

pytestmark = pytest.mark.django_db

RECIPE_TITLE = "红烧肉的家常做法"
RECIPE_TEXT = "今天教大家做红烧肉，红烧肉肥而不腻，五花肉先焯水再炒糖色。#美食教程 #家常菜"


def _snapshot(video):
    return sorted(VideoTag.objects.filter(video=video).values_list("tag__name", "source", "state", "score"))


def test_suggest_creates_suggestions_and_uploader_hashtags_and_is_idempotent():
    video = VideoFactory(title=RECIPE_TITLE, description=RECIPE_TEXT)
    counts = tasks.video_tags_suggest.delay(video.pk).get()
    assert counts["uploader"] == 2 and counts["suggested"] >= 2
    rows = {name: (source, state) for name, source, state, _score in _snapshot(video)}
    assert rows["美食教程"] == (VideoTag.Source.UPLOADER, VideoTag.State.ACTIVE)
    assert rows["家常菜"] == (VideoTag.Source.UPLOADER, VideoTag.State.ACTIVE)
    assert rows["红烧肉"] == (VideoTag.Source.EXTRACTED, VideoTag.State.SUGGESTED)
    assert VideoTag.objects.get(video=video, tag__name="家常菜").added_by == video.owner
    assert Tag.objects.get(name="美食教程").usage_count == 1

    first = _snapshot(video)
    again = tasks.video_tags_suggest.delay(video.pk).get()
    assert again == {"uploader": 0, "suggested": 0, "withdrawn": 0}
    assert _snapshot(video) == first


def test_suggest_after_an_edit_withdraws_stale_suggestions_but_keeps_decisions():
    video = VideoFactory(title=RECIPE_TITLE, description=RECIPE_TEXT)
    tasks.video_tags_suggest(video.pk)
    VideoTag.objects.filter(video=video, tag__name="红烧肉").update(state=VideoTag.State.REJECTED)
    accepted = VideoTag.objects.filter(video=video, state=VideoTag.State.SUGGESTED).first()
    VideoTag.objects.filter(pk=accepted.pk).update(state=VideoTag.State.ACTIVE)

    video.title, video.description = "量子计算入门", "量子计算机的原理讲解，量子比特与量子纠缠。"
    video.save(update_fields=["title", "description"])
    counts = tasks.video_tags_suggest(video.pk)

    assert counts["withdrawn"] >= 1
    states = dict(VideoTag.objects.filter(video=video).values_list("tag__name", "state"))
    assert states["红烧肉"] == VideoTag.State.REJECTED  # a rejection survives re-extraction
    assert states[accepted.tag.name] == VideoTag.State.ACTIVE
    assert not VideoTag.objects.filter(
        video=video, source=VideoTag.Source.EXTRACTED, state=VideoTag.State.SUGGESTED, tag__name="五花肉"
    ).exists()
    assert any("量子" in name for name in states)


def test_suggest_never_suggests_blocked_tags_and_ignores_missing_videos():
    TagFactory(name="红烧肉", is_blocked=True)
    video = VideoFactory(title=RECIPE_TITLE, description=RECIPE_TEXT + " #红烧肉")
    tasks.video_tags_suggest(video.pk)
    assert not VideoTag.objects.filter(video=video, tag__name="红烧肉").exists()
    assert tasks.video_tags_suggest(987654) is None


def test_comment_keywords_strengthen_interests_and_weakly_the_video_tags():
    video = VideoFactory()
    quantum = TagFactory(name="量子计算")
    row = VideoTagFactory(video=video, tag=quantum, score=0.5)
    commenter = UserFactory()
    comment = CommentFactory(video=video, author=commenter, text="量子计算太有意思了，想多看量子计算的视频 #量子计算")

    record_id = tasks.comment_keywords_apply.delay(comment.pk).get()

    interest = UserInterest.objects.get(user=commenter, tag=quantum)
    assert interest.source == UserInterest.Source.COMMENT
    assert 0 < interest.weight <= 1.0
    row.refresh_from_db()
    assert 0.5 < row.score <= 0.6  # weakly
    record = CommentKeywords.objects.get(pk=record_id)
    assert record.interests_changed == 1 and record.video_tags_changed == 1

    # Idempotent: a second run (a redelivered task) changes nothing.
    assert tasks.comment_keywords_apply(comment.pk) is None
    assert UserInterest.objects.get(pk=interest.pk).weight == interest.weight
    row.refresh_from_db()
    assert row.score == pytest.approx(0.55)


def test_comment_interests_accumulate_over_comments_up_to_a_cap():
    tag = TagFactory(name="摄影")
    user = UserFactory()
    for _ in range(30):
        tasks.comment_keywords_apply(CommentFactory(author=user, text="#摄影 摄影技巧").pk)
    weight = UserInterest.objects.get(user=user, tag=tag, source=UserInterest.Source.COMMENT).weight
    assert weight == pytest.approx(5.0)
    # Comments never create tags.
    tasks.comment_keywords_apply(CommentFactory(author=user, text="#从未见过的话题").pk)
    assert not Tag.objects.filter(name="从未见过的话题").exists()


def test_idf_recompute_stores_a_table_keeps_the_last_three_and_extraction_switches_to_it():
    for i in range(6):
        VideoFactory(title=f"猫咪日常 {i}", description="猫咪 可爱 猫咪 日常")
    VideoFactory(title="红烧肉", description="红烧肉 做法", status="processing")  # not published: not learnt
    before = library.extractor_get()
    row_id = tasks.idf_recompute.delay().get()
    row = IdfTable.objects.get(pk=row_id)
    assert row.document_count == 6
    assert row.idf["idf"]["猫咪"] < row.idf["default_idf"]  # in every document: low IDF
    after = library.extractor_get()
    assert after is not before and after.idf.doc_count == 6
    for _ in range(3):
        tasks.idf_recompute()
    assert IdfTable.objects.count() == 3


@pytest.mark.worker
def test_suggest_through_a_real_worker(celery_worker):
    video = VideoFactory(title=RECIPE_TITLE, description=RECIPE_TEXT)
    counts = tasks.video_tags_suggest.delay(video.pk).get(timeout=60)
    assert counts["uploader"] == 2
    assert VideoTag.objects.filter(video=video, state=VideoTag.State.ACTIVE).count() == 2
