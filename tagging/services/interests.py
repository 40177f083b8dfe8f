"""User interests over tags: onboarding seeds them, comments strengthen them, the user may set them."""

from __future__ import annotations

from collections.abc import Sequence

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F, Value
from django.db.models.functions import Least
from django.utils.translation import gettext as _

from recommender.services.feed_queue import feed_plan_invalidate_on_commit
from tagging.models import CommentKeywords, Tag, UserInterest, VideoTag
from tagging.services.library import extractor_get
from tagging.services.tags import TagResolution, tags_resolve
from videoapp.models import Comment, Profile

ONBOARDING_WEIGHT = 1.0
# A comment keyword adds up to this much to the commenter's interest (times the keyword's relative
# score); a hashtag counts as score 1. Comment interests saturate at COMMENT_WEIGHT_CAP.
COMMENT_INTEREST_STEP = 0.3
COMMENT_WEIGHT_CAP = 5.0
# "Weakly the video's tags": a mention in a comment nudges the matching video tag's score.
COMMENT_VIDEO_TAG_STEP = 0.05
VIDEO_TAG_SCORE_CAP = 2.0
COMMENT_KEYWORDS = 5
MANUAL_WEIGHT_MAX = 10.0


def profile_onboarding_set(*, user, state: str, age_range: str | None = None, gender: str | None = None) -> Profile:
    """Write the onboarding answers on the user's profile (created if missing)."""
    profile, _created = Profile.objects.get_or_create(user=user)
    fields = ["onboarding_state"]
    profile.onboarding_state = state
    if age_range is not None:
        profile.age_range = age_range
        fields.append("age_range")
    if gender is not None:
        profile.gender = gender
        fields.append("gender")
    profile.save(update_fields=fields)
    return profile


def onboarding_complete(
    *,
    user,
    tags: Sequence[str | int] = (),
    age_range: str | None = None,
    gender: str | None = None,
    skip: bool = False,
) -> Profile:
    """Finish (or skip) onboarding: chosen tags become ``onboarding`` interests of weight 1.0.

    Re-running replaces the previous onboarding choice. Unknown or blocked tags are a
    ValidationError naming them, and nothing is written.
    """
    resolution = tags_resolve(refs=list(tags), create=False) if not skip else None
    if resolution is not None:
        resolution.raise_if_invalid()
        if not resolution.tags:
            raise ValidationError({"tags": [_("请至少选择一个兴趣标签，或选择跳过。")]})
    with transaction.atomic():
        if resolution is not None:
            chosen = [t.pk for t in resolution.tags]
            UserInterest.objects.filter(user=user, source=UserInterest.Source.ONBOARDING).exclude(
                tag_id__in=chosen
            ).delete()
            for tag_id in chosen:
                UserInterest.objects.update_or_create(
                    user=user, tag_id=tag_id, source=UserInterest.Source.ONBOARDING,
                    defaults={"weight": ONBOARDING_WEIGHT},
                )
        state = Profile.Onboarding.SKIPPED if skip else Profile.Onboarding.DONE
        feed_plan_invalidate_on_commit(user_id=user.pk)
        return profile_onboarding_set(user=user, state=state, age_range=age_range, gender=gender)


def user_interests_set(*, user, interests: Sequence[tuple[str | int, float]]) -> list[UserInterest]:
    """Replace the user's ``manual`` interests with these (tag, weight) pairs; other sources are kept.

    Weights of names that resolve to the same tag (synonyms, merged tags) add up.
    """
    weights: dict[int, float] = {}
    refused = TagResolution()
    for ref, weight in interests:
        resolution = tags_resolve(refs=[ref], create=False)
        if resolution.invalid:
            refused.invalid.append(str(ref))
            continue
        if not 0 < weight <= MANUAL_WEIGHT_MAX:
            raise ValidationError({"weight": [_("权重必须大于 0 且不超过 %(max)s。") % {"max": MANUAL_WEIGHT_MAX}]})
        tag_id = resolution.tags[0].pk
        weights[tag_id] = weights.get(tag_id, 0.0) + float(weight)
    refused.raise_if_invalid()
    with transaction.atomic():
        UserInterest.objects.filter(user=user, source=UserInterest.Source.MANUAL).exclude(
            tag_id__in=list(weights)
        ).delete()
        for tag_id, weight in weights.items():
            UserInterest.objects.update_or_create(
                user=user, tag_id=tag_id, source=UserInterest.Source.MANUAL,
                defaults={"weight": min(weight, MANUAL_WEIGHT_MAX)},
            )
        feed_plan_invalidate_on_commit(user_id=user.pk)
    return list(UserInterest.objects.filter(user=user).select_related("tag"))


def user_interest_strengthen(*, user_id: int, tag_id: int, amount: float, source: str) -> None:
    """Add ``amount`` to one interest (created when missing), saturating at the source's cap."""
    try:
        with transaction.atomic():
            _row, created = UserInterest.objects.get_or_create(
                user_id=user_id, tag_id=tag_id, source=source, defaults={"weight": min(amount, COMMENT_WEIGHT_CAP)}
            )
    except IntegrityError:
        created = False
    if not created:
        UserInterest.objects.filter(user_id=user_id, tag_id=tag_id, source=source).update(
            weight=Least(F("weight") + amount, Value(COMMENT_WEIGHT_CAP))
        )


def comment_keywords_apply(*, comment: Comment) -> CommentKeywords | None:
    """Keywords of a comment strengthen the commenter's interests and, weakly, the video's tags.

    Only tags already in the library count (a comment never creates tags). Idempotent: the first
    run records a ``CommentKeywords`` row and later runs return None without changing anything.
    """
    extractor = extractor_get()
    scored: dict[str, float] = {tag: 1.0 for tag in extractor.hashtags(comment.text)}
    for word, score in extractor.extract(text=comment.text, k=COMMENT_KEYWORDS):
        scored.setdefault(word, float(score))
    try:
        with transaction.atomic():
            record = CommentKeywords.objects.create(
                comment=comment, keywords=[[w, round(s, 6)] for w, s in scored.items()]
            )
            tags = {t.name: t for t in Tag.objects.usable().filter(name__in=list(scored))}
            for name, tag in tags.items():
                user_interest_strengthen(
                    user_id=comment.author_id, tag_id=tag.pk, amount=COMMENT_INTEREST_STEP * scored[name],
                    source=UserInterest.Source.COMMENT,
                )
            video_tag_changes = 0
            for row in VideoTag.objects.filter(
                video_id=comment.video_id, tag_id__in=[t.pk for t in tags.values()]
            ).exclude(state=VideoTag.State.REJECTED).select_related("tag"):
                video_tag_changes += VideoTag.objects.filter(pk=row.pk).update(
                    score=Least(F("score") + COMMENT_VIDEO_TAG_STEP * scored[row.tag.name], Value(VIDEO_TAG_SCORE_CAP))
                )
            record.interests_changed = len(tags)
            record.video_tags_changed = video_tag_changes
            record.save(update_fields=["interests_changed", "video_tags_changed"])
    except IntegrityError:  # already applied (or being applied concurrently)
        return None
    return record
