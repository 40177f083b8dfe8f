"""Back office for staff: recommender dashboard, job runs, tag correction (merge, bulk review), keyword library.

The Django admin stays the place for row-by-row edits; these screens do what it does poorly:
charts, merging synonyms in one step, and reviewing many suggested tags at once.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from recommender.records import ArtefactVersion, JobRun
from tagging import extraction
from tagging.models import KeywordEntry, Tag, VideoTag
from tagging.selectors import keyword_entry_list, tag_correction_list, video_tag_review_list
from tagging.services import corrections
from videoapp.pages import charts, selectors
from videoapp.pages.accounts import _form_errors_from
from videoapp.pages.common import paginate, staff_required

DASHBOARD_DAYS = (1, 7, 30)
JOB_TASKS = {
    "interactions_rebuild": "recommender.tasks.interactions_rebuild",
    "model_train": "recommender.tasks.model_train",
    "hot_refresh": "recommender.tasks.hot_refresh",
    "offline_evaluate": "recommender.tasks.offline_evaluate",
}


@staff_required
def dashboard(request: HttpRequest) -> HttpResponse:
    try:
        days = int(request.GET.get("days", 7))
    except ValueError:
        days = 7
    days = days if days in DASHBOARD_DAYS else 7
    since = selectors.dashboard_since(days=days)
    funnel = selectors.channel_funnel(since=since)
    coverage = selectors.catalogue_coverage(since=since)
    daily = selectors.daily_impressions(since=since)
    history = selectors.offline_metrics_history()
    metric_series = charts.metric_series(history)
    return render(request, "site/backoffice/dashboard.html", {
        "days": days, "day_choices": DASHBOARD_DAYS, "funnel": funnel, "coverage": coverage,
        "share_chart": charts.bar_chart(
            [(row["channel"], row["share"]) for row in funnel], percent=True,
            label=_("各召回通道的曝光占比")),
        "ctr_chart": charts.bar_chart(
            [(row["channel"], row["ctr"] or 0.0) for row in funnel], percent=True,
            label=_("各召回通道的点击率")),
        "coverage_chart": charts.bar_chart(
            [(_("曝光过"), coverage["shown_ratio"]), (_("被观看"), coverage["watched_ratio"])], percent=True,
            label=_("目录覆盖率")),
        "daily_chart": charts.line_chart(
            {_("曝光"): [(d["day"].isoformat(), d["impression"]) for d in daily],
             _("观看"): [(d["day"].isoformat(), d["view"]) for d in daily]},
            label=_("每日曝光与观看")),
        "metric_charts": [
            {"metric": metric, "chart": charts.line_chart(series, label=metric)}
            for metric, series in metric_series.items()
        ],
        "fit_chart": charts.line_chart(charts.fit_series(history), label=_("各通道训练耗时（秒）")),
        "artefacts": ArtefactVersion.objects.order_by("kind"),
    })


@staff_required
@require_http_methods(["GET", "POST"])
def jobs(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        job = request.POST.get("job", "")
        if job not in JOB_TASKS:
            messages.error(request, _("未知的任务。"))
        else:
            from django.utils.module_loading import import_string

            import_string(JOB_TASKS[job]).delay()
            messages.success(request, _("任务 %(job)s 已提交。") % {"job": job})
        return redirect("site-backoffice-jobs")
    page = paginate(request, JobRun.objects.order_by("-started_at", "-pk"), per_page=50)
    return render(request, "site/backoffice/jobs.html", {"page": page, "jobs": list(JOB_TASKS)})


def _tags_by_names(raw: str, *, field: str) -> list[Tag]:
    import re

    names = [extraction.normalize_tag(n) for n in re.split(r"[,，、\s]+", raw or "") if n.strip()]
    names = [n for n in dict.fromkeys(names) if n]
    found = {tag.name: tag for tag in Tag.objects.filter(name__in=names)}
    missing = [n for n in names if n not in found]
    if missing:
        raise ValidationError({field: [_("找不到这些标签：%(names)s") % {"names": "、".join(missing)}]})
    return [found[n] for n in names]


class MergeForm(forms.Form):
    sources = forms.CharField(label=gettext_lazy("要合并的标签"), max_length=500,
                              help_text=gettext_lazy("一个或多个，用逗号分隔"))
    target = forms.CharField(label=gettext_lazy("合并到（规范标签）"), max_length=64)


class ReviewForm(forms.Form):
    ids = forms.TypedMultipleChoiceField(coerce=int, choices=[], required=True,
                                         error_messages={"required": gettext_lazy("请至少选择一个视频标签。")})
    decision = forms.ChoiceField(choices=[("approve", "approve"), ("reject", "reject")])

    def __init__(self, *args, ids: list[int], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["ids"].choices = [(i, i) for i in ids]


class KeywordForm(forms.Form):
    word = forms.CharField(label=gettext_lazy("词"), max_length=64)
    kind = forms.ChoiceField(label=gettext_lazy("类型"), choices=KeywordEntry.Kind.choices)
    canonical = forms.CharField(label=gettext_lazy("规范词"), max_length=64, required=False,
                                help_text=gettext_lazy("同义词必填"))


@staff_required
@require_http_methods(["GET", "POST"])
def tags(request: HttpRequest) -> HttpResponse:
    review_qs = video_tag_review_list(state=VideoTag.State.SUGGESTED)
    review = list(review_qs[:100])
    merge_form = MergeForm(request.POST if request.POST.get("form") == "merge" else None)
    review_form = ReviewForm(request.POST if request.POST.get("form") == "review" else None,
                             ids=[vt.pk for vt in review])
    if request.method == "POST" and merge_form.is_bound and merge_form.is_valid():
        try:
            sources = _tags_by_names(merge_form.cleaned_data["sources"], field="sources")
            target = _tags_by_names(merge_form.cleaned_data["target"], field="target")[0]
            correction = corrections.tag_merge(sources=sources, target=target, actor=request.user)
        except ValidationError as exc:
            _form_errors_from(merge_form, exc)
        else:
            messages.success(request, _("已合并：%(what)s（改动 %(n)d 行）") % {
                "what": correction.target, "n": correction.rows_changed})
            return redirect("site-backoffice-tags")
    if request.method == "POST" and review_form.is_bound and review_form.is_valid():
        state = VideoTag.State.ACTIVE if review_form.cleaned_data["decision"] == "approve" else VideoTag.State.REJECTED
        try:
            correction = corrections.video_tags_set_state(
                video_tag_ids=review_form.cleaned_data["ids"], state=state, actor=request.user)
        except ValidationError as exc:
            _form_errors_from(review_form, exc)
        else:
            messages.success(request, _("已处理 %(n)d 个视频标签。") % {"n": correction.rows_changed})
            return redirect("site-backoffice-tags")
    status = 400 if request.method == "POST" else 200
    return render(request, "site/backoffice/tags.html", {
        "merge_form": merge_form, "review_form": review_form, "review": review,
        "top_tags": Tag.objects.usable().order_by("-usage_count", "name")[:40],
        "corrections": tag_correction_list()[:20],
    }, status=status)


@staff_required
@require_http_methods(["GET", "POST"])
def keywords(request: HttpRequest) -> HttpResponse:
    form = KeywordForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            corrections.keyword_correction_add(actor=request.user, **form.cleaned_data)
        except ValidationError as exc:
            _form_errors_from(form, exc)
        else:
            messages.success(request, _("已加入关键词库，提取会立即使用新词库。"))
            return redirect("site-backoffice-keywords")
    kind = request.GET.get("kind", "")
    kind = kind if kind in KeywordEntry.Kind.values else ""
    page = paginate(request, keyword_entry_list(kind=kind, q=request.GET.get("q", "")[:64]), per_page=50)
    return render(request, "site/backoffice/keywords.html", {
        "form": form, "page": page, "kind": kind, "kinds": KeywordEntry.Kind.choices, "q": request.GET.get("q", ""),
    }, status=400 if form.errors else 200)


@staff_required
@require_POST
def keyword_delete(request: HttpRequest, entry_id: int) -> HttpResponse:
    entry = KeywordEntry.objects.filter(pk=entry_id).first()
    if entry is None:
        messages.error(request, _("该词条不存在。"))
    else:
        corrections.keyword_correction_delete(entry=entry, actor=request.user)
        messages.success(request, _("已删除。"))
    return redirect("site-backoffice-keywords")
