"""Site pages: video upload, detail/player, edit and delete.

Same flow as the API: validate the form -> one service or selector -> render.
"""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_http_methods, require_POST

from videoapp.apis.videos import DESCRIPTION_MAX_LENGTH, TITLE_MAX_LENGTH, video_poster_url, video_stream_url
from videoapp.models import Video
from videoapp.selectors import videos as video_selectors
from videoapp.services import media
from videoapp.services import videos as video_services
from videoapp.upload import UploadTooLarge, human_size, install_upload_handlers


class VideoEditForm(forms.Form):
    title = forms.CharField(label=gettext_lazy("标题"), max_length=TITLE_MAX_LENGTH)
    description = forms.CharField(
        label=gettext_lazy("简介"), max_length=DESCRIPTION_MAX_LENGTH, required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
    )
    visibility = forms.ChoiceField(
        label=gettext_lazy("可见范围"), choices=Video.Visibility.choices, initial=Video.Visibility.PUBLIC
    )


class VideoUploadForm(VideoEditForm):
    file = forms.FileField(
        label=gettext_lazy("视频文件"),
        allow_empty_file=True,
        widget=forms.ClearableFileInput(attrs={"accept": "video/*"}),
    )
    field_order = ["file", "title", "description", "visibility"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["title"].required = False
        self.fields["title"].help_text = gettext_lazy("留空则使用文件名")


def _upload_context(form: forms.Form) -> dict:
    return {
        "form": form,
        "max_upload": human_size(settings.VIDEO_MAX_UPLOAD_BYTES),
        "max_duration": media.seconds_label(settings.VIDEO_MAX_DURATION_SECONDS),
    }


@login_required
@csrf_protect
def _video_upload(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        return render(request, "videos/upload.html", _upload_context(VideoUploadForm()))
    form = VideoUploadForm(request.POST, request.FILES)
    if form.is_valid():
        data = form.cleaned_data
        try:
            video = video_services.video_create(
                owner=request.user, file=data["file"], title=data["title"],
                description=data["description"], visibility=data["visibility"],
            )
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        else:
            messages.success(request, _("上传成功，视频正在处理，完成后会自动发布。"))
            return redirect("video-detail", video_id=video.pk)
    return render(request, "videos/upload.html", _upload_context(form), status=400)


@csrf_exempt  # the CSRF check runs in _video_upload, after the capped upload handler is installed
@require_http_methods(["GET", "POST"])
def video_upload_page(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        install_upload_handlers(request)
    try:
        return _video_upload(request)
    except UploadTooLarge as exc:
        form = VideoUploadForm()
        context = {**_upload_context(form), "upload_error": str(exc.detail)}
        return render(request, "videos/upload.html", context, status=413)


def video_detail_page(request: HttpRequest, video_id: int) -> HttpResponse:
    video = video_selectors.video_get_for_viewer(video_id=video_id, user=request.user)
    playable = video_selectors.video_playable_path(video=video) is not None
    return render(
        request,
        "videos/detail.html",
        {
            "video": video,
            "playable": playable,
            "stream_url": video_stream_url(video) if playable else None,
            "poster_url": video_poster_url(video),
            "can_edit": video_services.video_can_edit(video=video, user=request.user),
            "duration_label": media.seconds_label(video.duration_seconds),
        },
    )


def _editable(request: HttpRequest, video_id: int) -> Video:
    video = video_selectors.video_get_editable(video_id=video_id, user=request.user)
    if not video_services.video_can_edit(video=video, user=request.user):
        raise PermissionDenied(_("只有上传者或管理员可以修改或删除这个视频。"))
    return video


@login_required
@require_http_methods(["GET", "POST"])
def video_edit_page(request: HttpRequest, video_id: int) -> HttpResponse:
    video = _editable(request, video_id)
    if request.method == "POST":
        form = VideoEditForm(request.POST)
        if form.is_valid():
            video_services.video_update(video=video, **form.cleaned_data)
            messages.success(request, _("已保存。"))
            return redirect("video-detail", video_id=video.pk)
        status = 400
    else:
        form = VideoEditForm(
            initial={"title": video.title, "description": video.description, "visibility": video.visibility}
        )
        status = 200
    return render(request, "videos/edit.html", {"video": video, "form": form}, status=status)


@login_required
@require_POST
def video_delete_page(request: HttpRequest, video_id: int) -> HttpResponse:
    video_services.video_delete(video=_editable(request, video_id))
    messages.success(request, _("视频已删除。"))
    return redirect(reverse("video-upload"))


urlpatterns = [
    path("videos/upload/", video_upload_page, name="video-upload"),
    path("videos/<int:video_id>/", video_detail_page, name="video-detail"),
    path("videos/<int:video_id>/edit/", video_edit_page, name="video-edit"),
    path("videos/<int:video_id>/delete/", video_delete_page, name="video-delete"),
]
