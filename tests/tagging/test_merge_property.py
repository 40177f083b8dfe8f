"""Property: however tags are merged (chains, repeats, merging back), no row points at a merged tag."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tagging.models import Tag, UserInterest, VideoTag, ViewerTagVote
from tagging.services import corrections
from tests.factories import StaffFactory, UserFactory, VideoFactory

pytestmark = pytest.mark.django_db

N_TAGS, N_VIDEOS, N_USERS = 5, 3, 2

rows = st.lists(
    st.tuples(st.integers(0, N_VIDEOS - 1), st.integers(0, N_TAGS - 1), st.sampled_from(VideoTag.State.values),
              st.floats(0, 1)),
    max_size=12,
)
interests = st.lists(
    st.tuples(st.integers(0, N_USERS - 1), st.integers(0, N_TAGS - 1), st.sampled_from(["onboarding", "comment"]),
              st.floats(0.1, 2)),
    max_size=8,
)
merges = st.lists(
    st.tuples(st.lists(st.integers(0, N_TAGS - 1), min_size=1, max_size=3), st.integers(0, N_TAGS - 1)),
    min_size=1, max_size=5,
)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(video_tags=rows, user_interests=interests, plan=merges)
def test_merge_never_leaves_rows_on_a_merged_tag(video_tags, user_interests, plan):
    Tag.objects.all().delete()
    staff = StaffFactory(username="merger")
    videos = [VideoFactory(owner=staff) for _ in range(N_VIDEOS)]
    users = [UserFactory(username=f"fan{i}") for i in range(N_USERS)]
    tags = [Tag.objects.create(name=f"t{i}") for i in range(N_TAGS)]
    for v, t, state, score in video_tags:
        VideoTag.objects.get_or_create(video=videos[v], tag=tags[t], defaults={"state": state, "score": score,
                                                                             "source": "extracted"})
        ViewerTagVote.objects.get_or_create(video=videos[v], tag=tags[t], user=users[0])
    total_weight = {}
    for u, t, source, weight in user_interests:
        row, created = UserInterest.objects.get_or_create(user=users[u], tag=tags[t], source=source,
                                                          defaults={"weight": weight})
        if created:
            total_weight[(u, source)] = total_weight.get((u, source), 0.0) + weight
    pairs_before = {(v, t) for v, t, _s, _w in video_tags}

    for sources, target in plan:
        try:
            corrections.tag_merge(sources=[tags[i] for i in sources], target=tags[target], actor=staff)
        except Exception as error:  # refused merges (only the target selected) must be validation errors
            from django.core.exceptions import ValidationError

            assert isinstance(error, ValidationError)

    assert not VideoTag.objects.filter(tag__merged_into__isnull=False).exists()
    assert not UserInterest.objects.filter(tag__merged_into__isnull=False).exists()
    assert not ViewerTagVote.objects.filter(tag__merged_into__isnull=False).exists()
    # Every merged tag points straight at a canonical (unmerged) tag.
    assert not Tag.objects.filter(merged_into__merged_into__isnull=False).exists()
    # Nothing is lost: every video keeps one row per canonical tag it had, and weights add up.
    videos_with_tags = {v for v, _t in pairs_before}
    assert set(VideoTag.objects.values_list("video_id", flat=True)) == {videos[v].pk for v in videos_with_tags}
    for (u, source), weight in total_weight.items():
        got = sum(UserInterest.objects.filter(user=users[u], source=source).values_list("weight", flat=True))
        assert got == pytest.approx(weight)
