"""Social actions: comments, likes, favourites, dislikes, follows.

Each action writes its behaviour event through :func:`videoapp.services.events.event_record` in the same
transaction.  The toggles are idempotent: setting a mark that exists (or removing one that does not) changes
nothing and writes no event.  Removing a mark writes no event either: the log has no "undo" kinds, and the
recommender reads the live mark tables (Like, Favourite, Dislike, Follow) for the current state.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, models, transaction
from django.utils.translation import gettext as _

from videoapp.models import Comment, Dislike, Event, Favourite, Follow, Like, Video
from videoapp.services.events import event_record, task_queue_on_commit

COMMENT_MAX_LENGTH = 2000


def _mark_create(
    *, model: type[models.Model], user: AbstractBaseUser, video: Video, kind: str, session_key: str = "",
    context: dict[str, Any] | None = None,
) -> bool:
    """Create the user's mark on the video once; True when it was created (and its event written)."""
    if model.objects.filter(user=user, video=video).exists():
        return False
    try:
        with transaction.atomic():
            model.objects.create(user=user, video=video)
            event_record(user=user, session_key=session_key, video=video, kind=kind, context=context)
    except IntegrityError:  # a concurrent request made the same mark: the toggle stays idempotent
        return False
    _card_invalidate_on_commit(video_id=video.pk)
    return True


def _mark_delete(*, model: type[models.Model], user: AbstractBaseUser, video: Video) -> bool:
    deleted, _per_model = model.objects.filter(user=user, video=video).delete()
    if deleted:
        _card_invalidate_on_commit(video_id=video.pk)
    return deleted > 0


def _card_invalidate_on_commit(*, video_id: int) -> None:
    """The video's counts changed: the feed's cached card of it goes once this commits."""
    from recommender.services.feed_queue import card_invalidate_on_commit

    card_invalidate_on_commit(video_ids=[video_id])


@transaction.atomic
def like_create(
    *, user: AbstractBaseUser, video: Video, session_key: str = "", context: dict[str, Any] | None = None
) -> bool:
    """Like a video; a like replaces a "not interested" mark on the same video."""
    created = _mark_create(
        model=Like, user=user, video=video, kind=Event.Kind.LIKE, session_key=session_key, context=context
    )
    if created:
        Dislike.objects.filter(user=user, video=video).delete()
    return created


def like_delete(*, user: AbstractBaseUser, video: Video) -> bool:
    return _mark_delete(model=Like, user=user, video=video)


@transaction.atomic
def favourite_create(
    *, user: AbstractBaseUser, video: Video, session_key: str = "", context: dict[str, Any] | None = None
) -> bool:
    return _mark_create(
        model=Favourite, user=user, video=video, kind=Event.Kind.FAVOURITE, session_key=session_key, context=context
    )


def favourite_delete(*, user: AbstractBaseUser, video: Video) -> bool:
    return _mark_delete(model=Favourite, user=user, video=video)


@transaction.atomic
def dislike_create(
    *, user: AbstractBaseUser, video: Video, session_key: str = "", context: dict[str, Any] | None = None
) -> bool:
    """Mark a video "not interested"; it removes the viewer's like on it (the two contradict each other)."""
    created = _mark_create(
        model=Dislike, user=user, video=video, kind=Event.Kind.DISLIKE, session_key=session_key, context=context
    )
    if created:
        Like.objects.filter(user=user, video=video).delete()
        _feed_plan_invalidate_on_commit(user_id=user.pk)
    return created


def dislike_delete(*, user: AbstractBaseUser, video: Video) -> bool:
    deleted = _mark_delete(model=Dislike, user=user, video=video)
    if deleted:
        _feed_plan_invalidate_on_commit(user_id=user.pk)
    return deleted


def _feed_plan_invalidate_on_commit(*, user_id: int) -> None:
    """The viewer's feed plan and served queue are rebuilt on their next request, without the
    disliked video (recommender.services.feed_queue)."""
    from recommender.services.feed_queue import feed_plan_invalidate_on_commit

    feed_plan_invalidate_on_commit(user_id=user_id)


@transaction.atomic
def follow_create(
    *, follower: AbstractBaseUser, followee: AbstractBaseUser, video: Video | None = None, session_key: str = "",
) -> bool:
    """Follow an uploader; ``video`` is the video the viewer followed from, when known (kept on the event)."""
    if follower.pk == followee.pk:
        raise ValidationError({"username": [_("不能关注自己。")]})
    if Follow.objects.filter(follower=follower, followee=followee).exists():
        return False
    try:
        with transaction.atomic():
            Follow.objects.create(follower=follower, followee=followee)
            event_record(
                user=follower, session_key=session_key, video=video, kind=Event.Kind.FOLLOW,
                context={"followee_id": followee.pk},
            )
    except IntegrityError:
        return False
    return True


def follow_delete(*, follower: AbstractBaseUser, followee: AbstractBaseUser) -> bool:
    deleted, _per_model = Follow.objects.filter(follower=follower, followee=followee).delete()
    return deleted > 0


def comment_text_clean(*, text: str) -> str:
    text = (text or "").strip()
    if not text:
        raise ValidationError({"text": [_("评论内容不能为空。")]})
    if len(text) > COMMENT_MAX_LENGTH:
        raise ValidationError({"text": [_("评论不能超过 %(limit)d 个字符。") % {"limit": COMMENT_MAX_LENGTH}]})
    return text


@transaction.atomic
def comment_create(
    *, video: Video, author: AbstractBaseUser, text: str, parent: Comment | None = None, session_key: str = "",
) -> Comment:
    """Comment on a video, or reply to a comment of the same video.

    There is one level of replies: a reply to a reply is attached to that reply's top-level comment.
    Queues the comment-keyword extraction (tagging) and the author's profile refresh on commit.
    """
    text = comment_text_clean(text=text)
    if parent is not None:
        if parent.video_id != video.pk:
            raise ValidationError({"parent": [_("回复的评论不属于这个视频。")]})
        if parent.parent_id is not None:
            parent = Comment.objects.get(pk=parent.parent_id)
    comment = Comment.objects.create(video=video, author=author, text=text, parent=parent)
    event_record(
        user=author, session_key=session_key, video=video, kind=Event.Kind.COMMENT,
        context={"comment_id": comment.pk},
    )
    task_queue_on_commit(task_path="tagging.tasks.comment_keywords_apply", args=(comment.pk,))
    _card_invalidate_on_commit(video_id=video.pk)
    return comment


def comment_can_delete(*, comment: Comment, user: AbstractBaseUser, video_owner_id: int | None = None) -> bool:
    """The author, the video's owner and staff may delete a comment."""
    if user is None or not user.is_authenticated:
        return False
    owner_id = video_owner_id if video_owner_id is not None else comment.video.owner_id
    return bool(user.is_staff or comment.author_id == user.pk or owner_id == user.pk)


@transaction.atomic
def comment_delete(*, comment: Comment, actor: AbstractBaseUser) -> None:
    """Delete a comment and its replies; only its author, the video owner or staff may."""
    if not comment_can_delete(comment=comment, user=actor):
        raise PermissionDenied(_("只有评论作者、视频作者或管理员可以删除这条评论。"))
    comment.delete()
    _card_invalidate_on_commit(video_id=comment.video_id)
