"""recommender.offline_evaluate: offline metrics per channel on a holdout of the site's own events."""

import pytest
from django.conf import settings
from django.core.management import call_command

from recommender import evaluation
from recommender.records import ArtefactVersion, JobRun
from recommender.services import jobs
from tests.factories import EventFactory, UserInterestFactory
from tests.recommender.serving_support import build_catalogue, fresh_serving_state, lock_held_elsewhere  # noqa: F401
from videoapp.models import Event

pytestmark = pytest.mark.django_db

CHEAP_CHANNELS = {"itemcf", "usercf", "ease", "content", "hot"}


def test_the_job_records_recall_ndcg_hr_and_coverage_per_channel():
    build_catalogue()
    run = jobs.offline_evaluate()
    assert run.status == JobRun.Status.SUCCEEDED, run.error
    assert run.job == "offline_evaluate" and run.artefact_version == ""
    metrics = run.stats["metrics"]
    assert set(metrics) == CHEAP_CHANNELS, "the cheap channels, EASE too on a small catalogue, never tf"
    for channel, values in metrics.items():
        assert set(values) == {"ndcg", "recall", "hr", "coverage"}, channel
        assert all(0.0 <= v <= 1.0 for v in values.values()), (channel, values)
    # 15 fans with 4 watched videos each: one held-out video per fan (the harness's 25 %).
    assert run.stats["users"] == 15 and run.stats["k"] == 10 and run.stats["held_out_pairs"] == 15
    # Fans of a category watched overlapping windows of its videos: co-occurrence finds the held-out one.
    assert metrics["itemcf"]["ndcg"] > metrics["hot"]["ndcg"]
    assert not ArtefactVersion.objects.exists(), "an evaluation switches no artefact"


def test_the_split_is_the_harness_split_over_viewer_video_pairs(monkeypatch):
    build_catalogue(per_category=4, fans_per_category=3, watched=4)
    calls = []
    real_split = evaluation.split_per_user

    def spy(log_rows, **kwargs):
        calls.append((len(log_rows), kwargs))
        return real_split(log_rows, **kwargs)

    monkeypatch.setattr(evaluation, "split_per_user", spy)
    run = jobs.offline_evaluate()
    assert run.status == JobRun.Status.SUCCEEDED, run.error
    assert calls == [(36, {"test_fraction": 0.25, "seed": 42})]  # 9 fans x 4 distinct videos


def test_a_like_and_a_view_of_the_same_video_stay_on_one_side():
    catalogue = build_catalogue(per_category=4, fans_per_category=3, watched=4)
    for fans in catalogue.fans.values():
        for fan in fans:
            # Every watched video also liked: had events been split one by one, a held-out video's
            # like would sit in train and the video would be excluded from the ranking.
            for event in list(Event.objects.filter(user=fan, kind="view")):
                EventFactory(user=fan, video=event.video, kind="like", watch_ratio=None, watch_seconds=None)
    run = jobs.offline_evaluate()
    assert run.status == JobRun.Status.SUCCEEDED, run.error
    assert run.stats["held_out_pairs"] == 9 and run.stats["users"] == 9


def test_behaviour_interests_do_not_leak_the_held_out_video_into_the_content_channel():
    catalogue = build_catalogue(per_category=4, fans_per_category=3, watched=4)
    inputs = jobs._evaluation_inputs()[1]
    fan = catalogue.fans["美食"][0]
    UserInterestFactory(user=fan, tag=catalogue.tags["科技"], source="behaviour")
    UserInterestFactory(user=fan, tag=catalogue.tags["旅行"], source="onboarding")
    tags = jobs._evaluation_inputs()[1]["user_tags"]
    assert tags[fan.id] == {"旅行": 1.0}
    assert inputs["user_tags"] == {}


def test_without_events_the_run_fails_clearly():
    run = jobs.offline_evaluate()
    assert run.status == JobRun.Status.FAILED
    assert "empty" in run.error


def test_a_run_while_another_holds_the_lock_is_skipped_and_the_job_is_idempotent():
    build_catalogue(per_category=3, fans_per_category=3, watched=3)
    with lock_held_elsewhere("offline_evaluate"):
        skipped = jobs.offline_evaluate()
    assert skipped.status == JobRun.Status.SKIPPED and "metrics" not in skipped.stats
    first, second = jobs.offline_evaluate(), jobs.offline_evaluate()
    assert first.status == second.status == JobRun.Status.SUCCEEDED
    assert first.stats["metrics"] == second.stats["metrics"], "same data, same seeded split, same figures"


def test_the_task_is_registered_scheduled_and_runs_the_job():
    from recommender import tasks
    from videoapp.celery import app

    assert tasks.offline_evaluate.name == "recommender.offline_evaluate" and tasks.offline_evaluate.name in app.tasks
    schedule = {entry["task"]: entry["schedule"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert schedule["recommender.offline_evaluate"] > 0
    build_catalogue(per_category=3, fans_per_category=3, watched=3)
    result = tasks.offline_evaluate.delay().get()
    assert result["status"] == "succeeded" and set(result["metrics"]) >= {"itemcf", "hot"}
    assert JobRun.objects.get(pk=result["job_run"]).stats["metrics"] == result["metrics"]


def test_rebuild_recommender_runs_it_by_name(capsys):
    build_catalogue(per_category=3, fans_per_category=3, watched=3)
    call_command("rebuild_recommender", "--job", "offline_evaluate", "--quiet")
    assert "offline_evaluate: succeeded" in capsys.readouterr().out
    assert JobRun.objects.filter(job="offline_evaluate", status=JobRun.Status.SUCCEEDED).count() == 1
