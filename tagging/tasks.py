"""Celery tasks of the tagging app: take ids, load rows, call one service."""

from __future__ import annotations

import logging

from celery import shared_task
from django.core.cache import cache

from tagging import extraction
from tagging.services import interests as interest_services
from tagging.services import library as library_services
from tagging.services import tags as tag_services
from videoapp.models import Comment, Video

logger = logging.getLogger(__name__)

IDF_LOCK_KEY = "tagging:idf-recompute-lock"
IDF_LOCK_SECONDS = 30 * 60


@shared_task(name="tagging.video_tags_suggest")
def video_tags_suggest(video_id: int) -> dict | None:
    """Suggest tags for a video from its title and description (after publish and after an edit)."""
    video = Video.objects.filter(pk=video_id).first()
    if video is None:
        return None
    return tag_services.video_tags_suggest(video=video)


@shared_task(name="tagging.comment_keywords_apply")
def comment_keywords_apply(comment_id: int) -> int | None:
    """Let a new comment's keywords strengthen the commenter's interests and the video's tags."""
    comment = Comment.objects.filter(pk=comment_id).first()
    if comment is None:
        return None
    record = interest_services.comment_keywords_apply(comment=comment)
    return record.pk if record is not None else None


@shared_task(name="tagging.idf_recompute")
def idf_recompute() -> int | None:
    """Learn the IDF table from all published videos' titles and descriptions and store it.

    One run at a time (cache lock, SET NX EX on Redis); a run that finds the lock taken does nothing.
    Readers switch to the new table when its row commits (the extractor cache keys on the row).
    """
    if not cache.add(IDF_LOCK_KEY, "1", IDF_LOCK_SECONDS):
        logger.info("idf_recompute already running")
        return None
    try:
        # The extractor of the current keyword library, but the built-in IDF: candidates only.
        extractor = extraction.KeywordExtractor(library=library_services.library_get())
        texts = (
            f"{title}\n{description}"
            for title, description in Video.objects.published().values_list("title", "description").iterator(
                chunk_size=2000
            )
        )
        table = extraction.learn_idf(texts, extractor=extractor)
        row = library_services.idf_table_store(table=table)
        logger.info("idf_recompute stored table %s over %s documents", row.pk, table.doc_count)
        return row.pk
    finally:
        cache.delete(IDF_LOCK_KEY)


@shared_task(name="tagging.tag_usage_refresh")
def tag_usage_refresh() -> int:
    """Recount every tag's usage (the services keep it current; this repairs drift)."""
    return tag_services.tag_usage_refresh()


@shared_task(name="tagging.tag_library_seed")
def tag_library_seed() -> int:
    """Offer the catalogue's categories and most used hashtags in onboarding (after a catalogue import)."""
    return tag_services.tag_library_seed()
