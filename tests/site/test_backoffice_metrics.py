"""The staff dashboard charts the offline metrics that recommender.offline_evaluate records."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from recommender.records import JobRun
from recommender.services import jobs
from tests.factories import StaffFactory
from tests.recommender.serving_support import build_catalogue, fresh_serving_state  # noqa: F401
from videoapp.pages import charts, selectors

pytestmark = pytest.mark.django_db


def _offline_section(body: str) -> str:
    return body.split('id="offline-h"', 1)[1].split("</section>", 1)[0]


def test_the_dashboard_charts_the_stored_metrics_with_a_line_per_channel(client):
    build_catalogue(per_category=3, fans_per_category=3, watched=3)
    runs = [jobs.offline_evaluate() for _ in range(2)]
    for days_ago, run in zip((2, 1), runs, strict=True):  # two daily runs, not two in the same minute
        assert run.status == JobRun.Status.SUCCEEDED, run.error
        JobRun.objects.filter(pk=run.pk).update(started_at=timezone.now() - timedelta(days=days_ago))
    channels = set(runs[0].stats["metrics"])
    client.force_login(StaffFactory())
    response = client.get(reverse("site-backoffice"))
    assert response.status_code == 200
    section = _offline_section(response.content.decode())
    assert "还没有记录离线评估结果" not in section
    for metric in ("ndcg", "recall", "hr", "coverage"):
        assert f"<h3>{metric}</h3>" in section
    for channel in channels:
        assert f">{channel}</text>" in section, f"legend entry for {channel}"
    # One polyline per channel in each metric chart, each through both runs.
    ndcg_chart = section.split("<h3>ndcg</h3>", 1)[1].split("</svg>", 1)[0]
    lines = [chunk.split('"', 1)[0] for chunk in ndcg_chart.split('<polyline points="')[1:]]
    assert len(lines) == len(channels) and all(len(line.split()) == 2 for line in lines)


def test_the_daily_evaluation_is_not_pushed_out_by_hourly_rebuilds():
    build_catalogue(per_category=2, fans_per_category=2, watched=2)
    evaluated = jobs.offline_evaluate()
    assert evaluated.status == JobRun.Status.SUCCEEDED, evaluated.error
    JobRun.objects.filter(pk=evaluated.pk).update(started_at=timezone.now() - timedelta(days=1))
    JobRun.objects.bulk_create([
        JobRun(job="interactions_rebuild", status=JobRun.Status.SUCCEEDED, stats={"fit_seconds": {"itemcf": 0.1}})
        for _ in range(40)
    ])
    series = charts.metric_series(selectors.offline_metrics_history(limit=30))
    assert set(series) == {"ndcg", "recall", "hr", "coverage"}
    assert set(series["ndcg"]) == set(evaluated.stats["metrics"])
