"""Celery tasks of the recommender: explicit names, no arguments or ids only, idempotent.

Each batch task holds a lock and writes a new artefact version (see services.jobs); running one
twice, or two at once, is safe (the second run is recorded as skipped).
"""

from __future__ import annotations

from celery import shared_task

from recommender.services import jobs
from recommender.services.profile import user_profile_refresh as _user_profile_refresh


def _summary(run) -> dict:
    return {"job_run": run.id, "status": run.status, "version": run.artefact_version}


@shared_task(name="recommender.interactions_rebuild", ignore_result=False)
def interactions_rebuild() -> dict:
    return _summary(jobs.interactions_rebuild())


@shared_task(name="recommender.model_train", ignore_result=False)
def model_train() -> dict:
    return _summary(jobs.model_train())


@shared_task(name="recommender.hot_refresh", ignore_result=False)
def hot_refresh() -> dict:
    return _summary(jobs.hot_refresh())


@shared_task(name="recommender.offline_evaluate", ignore_result=False)
def offline_evaluate() -> dict:
    """Offline metrics per channel on a holdout of the site's events -> JobRun.stats["metrics"]."""
    run = jobs.offline_evaluate()
    return {"job_run": run.id, "status": run.status, "metrics": run.stats.get("metrics", {})}


@shared_task(name="recommender.user_profile_refresh", ignore_result=True)
def user_profile_refresh(user_id: int) -> dict:
    """Queued on commit after a like, favourite, comment, dislike or completed view (contract)."""
    from django.contrib.auth import get_user_model

    if not get_user_model().objects.filter(id=user_id).exists():
        return {"skipped": "no such user"}
    return _user_profile_refresh(user_id=user_id)


@shared_task(name="recommender.impressions_flush", ignore_result=True)
def impressions_flush() -> int:
    """Write the impressions buffered in Redis to the event log (no-op without Redis)."""
    from recommender.services.feed import impressions_flush as flush

    return flush()
