"""Batch jobs: lock, JobRun record, versioned artefacts switched atomically, pruning, hot lists."""

from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.utils import timezone

from recommender.records import ArtefactVersion, JobRun
from recommender.services import jobs
from tests.factories import EventFactory, UserFactory, VideoFactory
from tests.recommender.serving_support import build_catalogue, fresh_serving_state, lock_held_elsewhere  # noqa: F401

pytestmark = pytest.mark.django_db


def test_rebuild_writes_a_versioned_artefact_and_records_the_run():
    build_catalogue()
    run = jobs.interactions_rebuild()
    assert run.status == JobRun.Status.SUCCEEDED, run.error
    current = ArtefactVersion.objects.get(kind="interactions")
    assert current.version == run.artefact_version
    path = Path(current.path)
    assert path.parent == Path(settings.ARTEFACT_ROOT) / "interactions"
    assert (path / "meta.json").exists() and (path / "candidates.npz").exists()
    assert (path / "itemcf" / "meta.json").exists() and (path / "content" / "meta.json").exists()
    assert run.stats["users"] == 15 and run.stats["items"] == 18
    assert set(run.stats["channels"]) >= {"itemcf", "usercf", "content"}
    assert run.finished_at is not None and run.duration_seconds >= 0
    assert not list(path.parent.glob(".tmp-*")), "the temporary build directory was moved into place"


def test_versions_are_pruned_to_two_and_the_current_is_kept():
    build_catalogue(per_category=3, fans_per_category=2, watched=2)
    versions = [jobs.interactions_rebuild().artefact_version for _ in range(3)]
    assert len(set(versions)) == 3
    on_disk = sorted(p.name for p in (Path(settings.ARTEFACT_ROOT) / "interactions").iterdir())
    assert on_disk == sorted(versions[1:])
    assert ArtefactVersion.objects.get(kind="interactions").version == versions[2]


def test_a_second_run_while_the_lock_is_held_is_skipped():
    build_catalogue(per_category=2, fans_per_category=2, watched=2)
    with lock_held_elsewhere("interactions_rebuild"):
        run = jobs.interactions_rebuild()
    assert run.status == JobRun.Status.SKIPPED
    assert not ArtefactVersion.objects.filter(kind="interactions").exists()
    assert jobs.interactions_rebuild().status == JobRun.Status.SUCCEEDED  # lock released


def test_a_failed_rebuild_keeps_the_previous_version_serving(monkeypatch):
    build_catalogue(per_category=2, fans_per_category=2, watched=2)
    good = jobs.interactions_rebuild()

    def broken():
        raise ValueError("the event log is empty: nothing to learn from")

    monkeypatch.setattr(jobs, "interactions_from_database", broken)
    bad = jobs.interactions_rebuild()
    assert bad.status == JobRun.Status.FAILED
    assert "nothing to learn from" in bad.error
    assert ArtefactVersion.objects.get(kind="interactions").version == good.artefact_version
    assert not list((Path(settings.ARTEFACT_ROOT) / "interactions").glob(".tmp-*"))


def test_model_job_without_tensorflow_fails_clearly_and_keeps_the_old_artefact(monkeypatch):
    import builtins

    build_catalogue(per_category=2, fans_per_category=2, watched=2)
    real_import = builtins.__import__

    def no_tensorflow(name, *args, **kwargs):
        if name == "tensorflow" or name.startswith("tensorflow."):
            raise ImportError("No module named 'tensorflow'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_tensorflow)
    run = jobs.model_train()
    assert run.status == JobRun.Status.FAILED
    assert "TensorFlow is not available" in run.error
    assert not ArtefactVersion.objects.filter(kind="model").exists()


def test_model_job_trains_tensorflow_and_serves_candidates(settings):
    pytest.importorskip("tensorflow")
    settings.RECOMMENDER_TF_EPOCHS = 2
    settings.RECOMMENDER_TF_DIM = 8
    build_catalogue(per_category=3, fans_per_category=3, watched=2)
    run = jobs.model_train()
    assert run.status == JobRun.Status.SUCCEEDED, run.error
    path = Path(ArtefactVersion.objects.get(kind="model").path)
    assert (path / "tf" / "item_emb.npy").exists() and (path / "candidates.npz").exists()


def test_hot_lists_rank_by_decayed_engagement_per_category_and_group():
    now = timezone.now()
    food_old, food_new, tech = (VideoFactory(category="美食"), VideoFactory(category="美食"),
                                VideoFactory(category="科技"))
    women = [UserFactory(username=f"w{i}") for i in range(3)]
    for user in women:
        user.profile.age_range, user.profile.gender = "25_34", "female"
        user.profile.save()
    # The same engagement, but a month older, counts far less.
    for user in women:
        EventFactory(user=user, video=food_old, kind="view", watch_ratio=1.0, created_at=now - timedelta(days=20))
        EventFactory(user=user, video=food_new, kind="view", watch_ratio=1.0, created_at=now - timedelta(hours=1))
    EventFactory(user=UserFactory(username="m0"), video=tech, kind="view", watch_ratio=1.0,
                 created_at=now - timedelta(hours=1))
    hot = jobs.hot_compute(now=now)
    ranked = [v for v, _ in hot["global"]]
    assert ranked[0] == food_new.id and ranked.index(food_old.id) > ranked.index(food_new.id)
    assert [v for v, _ in hot["category"]["美食"]][0] == food_new.id
    assert [v for v, _ in hot["category"]["科技"]] == [tech.id]
    assert {v for v, _ in hot["group"]["25_34:female"]} == {food_old.id, food_new.id}
    assert "*:female" in hot["group"] and "25_34:*" in hot["group"]
    assert hot["uploaders"][0][0] == food_new.owner_id


def test_hot_refresh_job_and_management_commands(capsys):
    build_catalogue(per_category=2, fans_per_category=2, watched=2)
    call_command("refresh_hot", "--quiet")
    call_command("rebuild_recommender", "--skip-model", "--quiet")
    out = capsys.readouterr().out
    assert "hot_refresh: succeeded" in out and "interactions_rebuild: succeeded" in out
    assert set(ArtefactVersion.objects.values_list("kind", flat=True)) == {"hot", "interactions"}
    assert JobRun.objects.filter(job="hot_refresh", status=JobRun.Status.SUCCEEDED).count() == 2


def test_a_run_left_running_by_a_dead_worker_is_marked_interrupted():
    build_catalogue(per_category=2, fans_per_category=2, watched=2)
    orphan = JobRun.objects.create(job="hot_refresh")
    run = jobs.hot_refresh()
    orphan.refresh_from_db()
    assert run.status == JobRun.Status.SUCCEEDED
    assert orphan.status == JobRun.Status.FAILED and "interrupted" in orphan.error
    assert orphan.finished_at is not None


def test_rebuild_if_missing_builds_only_what_was_never_built(capsys):
    build_catalogue(per_category=2, fans_per_category=2, watched=2)
    call_command("refresh_hot", "--quiet")
    call_command("rebuild_recommender", "--skip-model", "--if-missing", "--quiet")
    assert JobRun.objects.filter(job="hot_refresh").count() == 1
    assert JobRun.objects.filter(job="interactions_rebuild", status=JobRun.Status.SUCCEEDED).count() == 1
    capsys.readouterr()
    call_command("rebuild_recommender", "--skip-model", "--if-missing", "--quiet")
    assert "already built" in capsys.readouterr().out
    assert JobRun.objects.filter(job="interactions_rebuild").count() == 1


def test_beat_schedules_every_job_and_tasks_are_registered():
    from videoapp.celery import app

    scheduled = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert scheduled >= {"recommender.hot_refresh", "recommender.interactions_rebuild",
                         "recommender.model_train", "tagging.idf_recompute"}
    import recommender.tasks  # noqa: F401

    for name in scheduled - {"tagging.idf_recompute"} | {"recommender.user_profile_refresh"}:
        assert name in app.tasks


def test_tasks_run_the_jobs():
    from recommender import tasks

    build_catalogue(per_category=2, fans_per_category=2, watched=2)
    result = tasks.hot_refresh.delay().get()
    assert result["status"] == "succeeded"
    assert ArtefactVersion.objects.get(kind="hot").version == result["version"]


def test_job_runs_are_listed_in_the_admin(client):
    from tests.factories import StaffFactory

    build_catalogue(per_category=2, fans_per_category=2, watched=2)
    jobs.hot_refresh()
    client.force_login(StaffFactory(username="boss"))
    response = client.get("/admin/recommender/jobrun/")
    assert response.status_code == 200
    assert "hot_refresh" in response.content.decode()
