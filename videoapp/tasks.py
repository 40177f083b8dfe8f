"""Celery tasks of the core app: take ids, load rows, call one service."""

from __future__ import annotations

from celery import shared_task
from django.db import DatabaseError


@shared_task(
    name="videoapp.video_process",
    autoretry_for=(DatabaseError,),
    retry_backoff=5,
    retry_backoff_max=300,
    max_retries=5,
    acks_late=True,
)
def video_process(video_id: int) -> str | None:
    """Probe, poster and web-playable rendition of an uploaded video; publish it or mark it failed.

    Idempotent: running it again (or twice at once) rewrites the same outputs atomically.
    """
    from videoapp.services.videos import video_process as process

    video = process(video_id=video_id)
    return video.status if video is not None else None
