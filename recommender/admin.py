from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from recommender.records import ArtefactVersion, JobRun


@admin.register(JobRun)
class JobRunAdmin(admin.ModelAdmin):
    list_display = ("id", "job", "status", "started_at", "finished_at", "duration", "artefact_version", "short_error")
    list_filter = ("job", "status")
    search_fields = ("artefact_version", "error")
    readonly_fields = ("job", "status", "started_at", "finished_at", "artefact_version", "error", "stats")
    date_hierarchy = "started_at"

    @admin.display(description=_("耗时（秒）"))
    def duration(self, obj: JobRun) -> str:
        return "" if obj.duration_seconds is None else f"{obj.duration_seconds:.1f}"

    @admin.display(description=_("错误"))
    def short_error(self, obj: JobRun) -> str:
        return obj.error.splitlines()[0][:80] if obj.error else ""

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(ArtefactVersion)
class ArtefactVersionAdmin(admin.ModelAdmin):
    list_display = ("kind", "version", "built_at", "path")
    readonly_fields = ("kind", "version", "path", "built_at", "stats")

    def has_add_permission(self, request) -> bool:
        return False
