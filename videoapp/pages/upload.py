"""The upload flow: pick or drop a file, a real progress bar, processing status, then tag confirmation.

The page itself is static; ``static/site/upload.js`` posts to the videos API with XMLHttpRequest
(upload progress events), polls the video until it is published or failed, then shows the
suggested tags from the tagging API for the uploader to confirm or edit.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from videoapp.models import Video
from videoapp.services import media
from videoapp.upload import human_size

TITLE_MAX_LENGTH = 200
DESCRIPTION_MAX_LENGTH = 5000


@login_required
@require_GET
def upload(request: HttpRequest) -> HttpResponse:
    return render(request, "site/upload.html", {
        "max_upload": human_size(settings.VIDEO_MAX_UPLOAD_BYTES),
        "max_upload_bytes": settings.VIDEO_MAX_UPLOAD_BYTES,
        "max_duration": media.seconds_label(settings.VIDEO_MAX_DURATION_SECONDS),
        "visibilities": Video.Visibility.choices,
        "title_max": TITLE_MAX_LENGTH,
        "description_max": DESCRIPTION_MAX_LENGTH,
    })
