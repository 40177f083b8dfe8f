"""Django models of the recommender: job runs and the artefact version readers serve from."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class JobRun(models.Model):
    class Status(models.TextChoices):
        RUNNING = "running", _("运行中")
        SUCCEEDED = "succeeded", _("成功")
        FAILED = "failed", _("失败")
        SKIPPED = "skipped", _("跳过（已有任务在运行）")

    job = models.CharField(max_length=64, db_index=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RUNNING)
    started_at = models.DateTimeField(auto_now_add=True, db_index=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    artefact_version = models.CharField(max_length=64, blank=True)
    error = models.TextField(blank=True)
    stats = models.JSONField(default=dict, blank=True)

    class Meta:
        app_label = "recommender"
        verbose_name = _("任务运行")
        verbose_name_plural = _("任务运行")
        ordering = ["-started_at"]

    @property
    def duration_seconds(self) -> float | None:
        if self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()


class ArtefactVersion(models.Model):
    """The version of each artefact kind that readers use; switched in one UPDATE."""

    kind = models.CharField(max_length=64, unique=True)
    version = models.CharField(max_length=64)
    path = models.CharField(max_length=500)
    built_at = models.DateTimeField()
    stats = models.JSONField(default=dict, blank=True)

    class Meta:
        app_label = "recommender"
