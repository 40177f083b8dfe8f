"""Tag correction services, the keyword library and its reload, usage counts, the tag-library seed."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from tagging.models import KeywordEntry, LibraryVersion, Tag, TagCorrection, UserInterest, VideoTag, ViewerTagVote
from tagging.services import corrections, library
from tagging.services import tags as tag_services
from tests.factories import (
    StaffFactory,
    TagFactory,
    UserFactory,
    UserInterestFactory,
    VideoFactory,
    VideoTagFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff():
    return StaffFactory()


# --- merge --------------------------------------------------------------------------------------------


def test_merge_moves_rows_collapses_duplicates_and_adds_weights(staff):
    tomato, xihongshi = TagFactory(name="番茄"), TagFactory(name="西红柿")
    both, only_source = VideoFactory(), VideoFactory()
    VideoTagFactory(video=both, tag=tomato, state=VideoTag.State.SUGGESTED, score=0.4)
    VideoTagFactory(video=both, tag=xihongshi, state=VideoTag.State.ACTIVE, score=0.9)
    VideoTagFactory(video=only_source, tag=xihongshi, state=VideoTag.State.ACTIVE)
    fan = UserFactory()
    UserInterestFactory(user=fan, tag=tomato, weight=1.0, source=UserInterest.Source.ONBOARDING)
    UserInterestFactory(user=fan, tag=xihongshi, weight=0.5, source=UserInterest.Source.ONBOARDING)
    UserInterestFactory(user=fan, tag=xihongshi, weight=0.25, source=UserInterest.Source.COMMENT)

    correction = corrections.tag_merge(sources=[xihongshi], target=tomato, actor=staff)

    assert not VideoTag.objects.filter(tag=xihongshi).exists()
    kept = VideoTag.objects.get(video=both, tag=tomato)
    assert (kept.state, kept.score) == (VideoTag.State.ACTIVE, 0.9)  # strongest state, higher score
    assert VideoTag.objects.get(video=only_source).tag == tomato
    weights = dict(UserInterest.objects.filter(user=fan).values_list("source", "weight"))
    assert weights == {UserInterest.Source.ONBOARDING: 1.5, UserInterest.Source.COMMENT: 0.25}
    assert not UserInterest.objects.filter(tag=xihongshi).exists()
    xihongshi.refresh_from_db()
    tomato.refresh_from_db()
    assert xihongshi.merged_into == tomato
    assert tomato.usage_count == 2
    # Audit: who, what, before and after, and how many rows changed.
    assert correction.action == TagCorrection.Action.MERGE and correction.actor == staff
    assert correction.before["sources"][0]["video_tags"] == 2
    assert correction.after["target"]["video_tags"] == 2
    assert correction.rows_changed >= 5
    with pytest.raises(ValidationError):  # a merged tag is acted on through its canonical tag
        corrections.tag_block(tag=xihongshi, actor=staff)
    # The merged word is a synonym now: text saying 西红柿 yields the canonical tag.
    assert KeywordEntry.objects.filter(word="西红柿", kind=KeywordEntry.Kind.SYNONYM, canonical="番茄").exists()
    assert [t.name for t in tag_services.tags_resolve(refs=["西红柿"], create=True).tags] == ["番茄"]


def test_merge_collapses_viewer_votes_and_flattens_chains(staff):
    a, b, c = TagFactory(name="猫咪"), TagFactory(name="猫猫"), TagFactory(name="小猫")
    video, viewer = VideoFactory(), UserFactory()
    ViewerTagVote.objects.create(video=video, tag=a, user=viewer)
    ViewerTagVote.objects.create(video=video, tag=b, user=viewer)
    corrections.tag_merge(sources=[b], target=a, actor=staff)
    corrections.tag_merge(sources=[a], target=c, actor=staff)
    assert ViewerTagVote.objects.get(video=video, user=viewer).tag == c
    assert set(Tag.objects.filter(merged_into=c).values_list("name", flat=True)) == {"猫咪", "猫猫"}


def test_merge_into_itself_or_a_blocked_tag_is_refused(staff):
    a, b = TagFactory(name="足球"), TagFactory(name="篮球")
    with pytest.raises(ValidationError):
        corrections.tag_merge(sources=[a], target=a, actor=staff)
    corrections.tag_block(tag=b, actor=staff)
    with pytest.raises(ValidationError):
        corrections.tag_merge(sources=[a], target=b, actor=staff)
    assert TagCorrection.objects.filter(action=TagCorrection.Action.MERGE).count() == 0


# --- block --------------------------------------------------------------------------------------------


def test_block_removes_everywhere_and_prevents_resuggestion(staff):
    bad = TagFactory(name="广告")
    video = VideoFactory(title="广告 广告 广告", description="这是广告，纯广告，全是广告。#广告")
    VideoTagFactory(video=video, tag=bad)
    ViewerTagVote.objects.create(video=video, tag=bad, user=UserFactory())
    UserInterestFactory(tag=bad)

    correction = corrections.tag_block(tag=bad, actor=staff)

    assert correction.rows_changed >= 3
    assert not VideoTag.objects.filter(tag=bad).exists()
    assert not UserInterest.objects.filter(tag=bad).exists()
    assert not ViewerTagVote.objects.filter(tag=bad).exists()
    assert KeywordEntry.objects.filter(word="广告", kind=KeywordEntry.Kind.BLOCKED).exists()
    tag_services.video_tags_suggest(video=video)
    assert not VideoTag.objects.filter(video=video, tag__name="广告").exists()
    resolution = tag_services.tags_resolve(refs=["广告", "#广告"], create=True)
    assert resolution.tags == [] and resolution.invalid == ["广告", "#广告"]


# --- rename -------------------------------------------------------------------------------------------


def test_rename_keeps_rows_and_maps_the_old_word(staff):
    tag = TagFactory(name="vlog日常")
    VideoTagFactory(tag=tag)
    correction = corrections.tag_rename(tag=tag, name="Vlog 日常", actor=staff)
    tag.refresh_from_db()
    assert tag.name == "vlog 日常"
    assert VideoTag.objects.filter(tag=tag).count() == 1
    assert (correction.before, correction.after) == ({"name": "vlog日常"}, {"name": "vlog 日常"})
    assert [t.pk for t in tag_services.tags_resolve(refs=["vlog日常"], create=True).tags] == [tag.pk]


def test_rename_to_an_existing_name_is_refused(staff):
    TagFactory(name="旅行")
    tag = TagFactory(name="旅游")
    with pytest.raises(ValidationError):
        corrections.tag_rename(tag=tag, name="旅行", actor=staff)
    assert not TagCorrection.objects.exists()


# --- bulk approve / reject, add / remove -----------------------------------------------------------------


def test_bulk_approve_and_reject_record_counts_and_refresh_usage(staff):
    tag = TagFactory(name="风景")
    rows = [VideoTagFactory(tag=tag, state=VideoTag.State.SUGGESTED) for _ in range(3)]
    approved = corrections.video_tags_set_state(
        video_tag_ids=[r.pk for r in rows], state=VideoTag.State.ACTIVE, actor=staff
    )
    tag.refresh_from_db()
    assert approved.rows_changed == 3 and approved.before["states"] == {"suggested": 3}
    assert tag.usage_count == 3
    rejected = corrections.video_tags_set_state(video_tag_ids=[rows[0].pk], state=VideoTag.State.REJECTED, actor=staff)
    tag.refresh_from_db()
    assert rejected.action == TagCorrection.Action.REJECT and tag.usage_count == 2
    with pytest.raises(ValidationError):
        corrections.video_tags_set_state(video_tag_ids=[999999], state=VideoTag.State.ACTIVE, actor=staff)


def test_admin_add_and_remove_on_many_videos(staff):
    videos = VideoFactory.create_batch(3)
    ids = [v.pk for v in videos]
    added = corrections.video_tags_admin_add(video_ids=ids, names=["美食", "#探店"], actor=staff)
    assert added.rows_changed == 6
    assert VideoTag.objects.filter(source=VideoTag.Source.ADMIN, state=VideoTag.State.ACTIVE).count() == 6
    assert Tag.objects.get(name="探店").usage_count == 3
    removed = corrections.video_tags_admin_remove(video_ids=ids[:2], names=["探店"], actor=staff)
    assert removed.rows_changed == 2
    assert Tag.objects.get(name="探店").usage_count == 1
    # Removed tags stay off after re-extraction even when the text names them.
    videos[0].description = "#探店 今天去探店"
    videos[0].save(update_fields=["description"])
    tag_services.video_tags_suggest(video=videos[0])
    assert VideoTag.objects.get(video=videos[0], tag__name="探店").state == VideoTag.State.REJECTED
    with pytest.raises(ValidationError):
        corrections.video_tags_admin_add(video_ids=[424242], names=["美食"], actor=staff)


def test_reextract_is_audited(staff):
    video = VideoFactory(title="红烧肉的家常做法", description="今天教大家做红烧肉，红烧肉肥而不腻。")
    correction = corrections.videos_reextract(video_ids=[video.pk], actor=staff)
    assert correction.action == TagCorrection.Action.REEXTRACT
    assert correction.after["suggested"] >= 1
    assert correction.rows_changed == VideoTag.objects.filter(video=video).count()


# --- keyword library: versioned, reloaded without a restart ----------------------------------------------


def test_keyword_library_change_takes_effect_in_the_next_extraction(staff):
    text = "今天教大家做红烧肉，红烧肉肥而不腻，五花肉先焯水再炒糖色。"
    before = library.extractor_get()
    words = [w for w, _s in before.extract(text=text, k=10)]
    assert "红烧肉" in words and "东坡肉" not in words

    corrections.keyword_correction_add(word="红烧肉", kind=KeywordEntry.Kind.SYNONYM, canonical="东坡肉", actor=staff)
    corrections.keyword_correction_add(word="五花肉", kind=KeywordEntry.Kind.BLOCKED, actor=staff)

    after = library.extractor_get()
    assert after is not before
    words = [w for w, _s in after.extract(text=text, k=10)]
    assert "东坡肉" in words and "红烧肉" not in words and "五花肉" not in words
    assert LibraryVersion.objects.get().version == 2
    assert library.extractor_get() is after  # unchanged library: the same extractor is reused
    assert TagCorrection.objects.filter(action=TagCorrection.Action.KEYWORD).count() == 2

    entry = KeywordEntry.objects.get(word="五花肉")
    corrections.keyword_correction_delete(entry=entry, actor=staff)
    assert "五花肉" in [w for w, _s in library.extractor_get().extract(text=text, k=10)]


def test_user_word_is_kept_whole_after_it_is_added(staff):
    text = "学会炒糖色，炒糖色很重要。"
    assert "炒糖色" not in library.extractor_get().tokens(text)
    corrections.keyword_correction_add(word="炒糖色", kind=KeywordEntry.Kind.USER_WORD, actor=staff)
    assert "炒糖色" in library.extractor_get().tokens(text)


def test_keyword_entry_validation():
    with pytest.raises(ValidationError):
        library.keyword_entry_create(word="  ", kind=KeywordEntry.Kind.STOP_WORD)
    with pytest.raises(ValidationError):
        library.keyword_entry_create(word="甲", kind=KeywordEntry.Kind.SYNONYM, canonical="甲")
    with pytest.raises(ValidationError):
        library.keyword_entry_create(word="甲", kind="nonsense")
    entry = library.keyword_entry_create(word="ＡＢＣ", kind=KeywordEntry.Kind.USER_WORD)
    assert entry.word == "abc"
    version = LibraryVersion.objects.get().version
    library.keyword_entry_create(word="abc", kind=KeywordEntry.Kind.USER_WORD)  # no change, no bump
    assert LibraryVersion.objects.get().version == version


# --- usage counts and the tag-library seed ------------------------------------------------------------


def test_usage_refresh_counts_active_video_tags_in_the_database():
    tag = TagFactory(name="健身")
    VideoTagFactory.create_batch(2, tag=tag, state=VideoTag.State.ACTIVE)
    VideoTagFactory(tag=tag, state=VideoTag.State.SUGGESTED)
    Tag.objects.filter(pk=tag.pk).update(usage_count=99)
    assert tag_services.tag_usage_refresh(tag_ids=[tag.pk]) == 1
    tag.refresh_from_db()
    assert tag.usage_count == 2


def test_tag_library_seed_offers_categories_and_their_most_used_tags():
    for _ in range(3):
        VideoTagFactory(video=VideoFactory(category="美食"), tag=TagFactory(name="家常菜", category=""))
    VideoTagFactory(video=VideoFactory(category="美食"), tag=TagFactory(name="甜品", category=""))
    VideoTagFactory(video=VideoFactory(category="运动"), tag=TagFactory(name="跑步", category=""))
    Tag.objects.update(offered_in_onboarding=False)
    tag_services.tag_library_seed(per_category=5)
    offered = list(Tag.objects.onboarding().values_list("category", "name", "display_order"))
    assert ("美食", "美食", 0) in offered
    assert ("美食", "家常菜", 1) in offered and ("美食", "甜品", 2) in offered
    assert ("运动", "跑步", 1) in offered
