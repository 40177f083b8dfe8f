"""Streaming upload handling: every uploaded file goes to a temporary file in chunks, with a size cap.

Django's multipart parser feeds chunks (64 KiB) to the upload handlers; nothing is ever held whole
in memory. ``CappedTemporaryFileUploadHandler`` refuses a body whose Content-Length is already over
the cap before reading any of it, and counts the bytes really received (a client can lie about, or
omit, Content-Length) and aborts as soon as the cap is passed, deleting the partial temporary file.

Upload handlers must be installed before anything reads ``request.POST``/``FILES`` (including the
CSRF check), hence ``install_upload_handlers`` in ``initialize_request`` of the API view and the
csrf_exempt/csrf_protect pair on the page view.
"""

from __future__ import annotations

from django.conf import settings
from django.core.files.uploadhandler import TemporaryFileUploadHandler
from django.utils.translation import gettext_lazy as _
from rest_framework import status
from rest_framework.exceptions import APIException

# Room for the other form fields and the multipart boundaries around the file.
MULTIPART_OVERHEAD_BYTES = 256 * 1024


def human_size(num_bytes: int) -> str:
    size = float(num_bytes)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GB"


class UploadTooLarge(APIException):
    """413: raised from inside the multipart parser, so the rest of the body is never read."""

    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "upload_too_large"

    def __init__(self, cap: int) -> None:
        super().__init__(_("文件太大：上传上限为 %(cap)s。") % {"cap": human_size(cap)})


class CappedTemporaryFileUploadHandler(TemporaryFileUploadHandler):
    """TemporaryFileUploadHandler for every file size, aborting past ``max_bytes`` in total."""

    def __init__(self, request=None, *, max_bytes: int | None = None) -> None:
        super().__init__(request)
        self.max_bytes = settings.VIDEO_MAX_UPLOAD_BYTES if max_bytes is None else max_bytes
        self.received = 0

    def handle_raw_input(self, input_data, META, content_length, boundary, encoding=None):
        if content_length and content_length > self.max_bytes + MULTIPART_OVERHEAD_BYTES:
            raise UploadTooLarge(self.max_bytes)
        return None

    def receive_data_chunk(self, raw_data, start):
        self.received += len(raw_data)
        if self.received > self.max_bytes:
            # Closing the NamedTemporaryFile deletes it: no partial file is left behind.
            if getattr(self, "file", None) is not None:
                self.file.close()
            raise UploadTooLarge(self.max_bytes)
        return super().receive_data_chunk(raw_data, start)


def install_upload_handlers(request) -> None:
    """Replace the request's upload handlers; call before anything touches POST or FILES."""
    request.upload_handlers = [CappedTemporaryFileUploadHandler(request)]
