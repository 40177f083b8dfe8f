"""The rebuild job in a real Celery worker process (PostgreSQL + Redis; skipped on SQLite)."""

from recommender.records import ArtefactVersion, JobRun
from tests.recommender.serving_support import build_catalogue, fresh_serving_state, served_ids  # noqa: F401


def test_rebuild_runs_in_the_worker_and_the_feed_serves_the_new_version(celery_worker, api_client, settings):
    from recommender import tasks

    catalogue = build_catalogue(per_category=4, fans_per_category=3, watched=2)
    # The worker process writes artefacts where it is told by its own environment; point this
    # process (the web side) at the same place.
    from django.conf import settings as live

    settings.ARTEFACT_ROOT = live.DATA_DIR / "artefacts"
    before = set(ArtefactVersion.objects.values_list("version", flat=True))
    # The queue named explicitly, as a client on another host would.
    result = tasks.interactions_rebuild.apply_async(queue=celery_worker).get(timeout=120)
    assert result["status"] == "succeeded", JobRun.objects.get(id=result["job_run"]).error
    current = ArtefactVersion.objects.get(kind="interactions")
    assert current.version == result["version"] and current.version not in before
    run = JobRun.objects.get(id=result["job_run"])
    assert run.finished_at is not None and run.stats["items"] == 12

    fan = catalogue.fans["美食"][0]
    api_client.force_authenticate(fan)
    body = api_client.get("/api/v1/feed?size=4").json()
    assert body["source"] == "personalised"
    assert body["artefact_versions"]["interactions"] == current.version
    assert served_ids(body)
    assert any(item["artefact_version"] == current.version for item in body["results"])

