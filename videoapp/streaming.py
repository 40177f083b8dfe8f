"""HTTP Range responses for media files (RFC 9110 section 14), so a browser's <video> can seek.

Only single byte ranges are honoured; a request with several ranges, or a syntactically invalid
Range header, gets the whole file (200), which RFC 9110 allows. Out-of-bounds ranges get 416.
The body is read in chunks from the open file; the file never goes whole into memory and the
iterator is not a real file, so a WSGI server's ``sendfile`` cannot send past the range.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.utils.http import http_date, quote_etag

CHUNK_BYTES = 256 * 1024
_RANGE = re.compile(r"^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$", re.IGNORECASE)


class Unsatisfiable(Exception):
    pass


def parse_range(header: str | None, *, size: int) -> tuple[int, int] | None:
    """The inclusive ``(first, last)`` byte positions of a single-range header, or None for the whole file.

    Raises Unsatisfiable when the range is valid but outside the file (answer 416).
    """
    if not header:
        return None
    match = _RANGE.match(header)
    if match is None:  # several ranges, another unit, or garbage: ignore the header
        return None
    first_text, last_text = match.groups()
    if not first_text and not last_text:
        return None
    if not first_text:  # suffix: the last N bytes
        length = int(last_text)
        if length == 0 or size == 0:
            raise Unsatisfiable
        return max(0, size - length), size - 1
    first = int(first_text)
    if last_text and int(last_text) < first:
        return None  # invalid range-spec: ignored, as RFC 9110 says
    if first >= size:
        raise Unsatisfiable
    last = min(int(last_text), size - 1) if last_text else size - 1
    return first, last


def _read_range(path: Path, first: int, length: int) -> Iterator[bytes]:
    with open(path, "rb") as fh:
        fh.seek(first)
        remaining = length
        while remaining > 0:
            chunk = fh.read(min(CHUNK_BYTES, remaining))
            if not chunk:
                break
            remaining -= len(chunk)
            yield chunk


def ranged_file_response(request: HttpRequest, *, path: Path, content_type: str) -> HttpResponse:
    """200, 206 or 416 for ``path`` according to the request's Range / If-Range headers."""
    stat = os.stat(path)
    size = stat.st_size
    etag = quote_etag(f"{stat.st_mtime_ns:x}-{size:x}")
    last_modified = http_date(stat.st_mtime)
    byte_range = None
    if_range = request.headers.get("If-Range")
    # A Range is only honoured when the client's copy is the current one (If-Range absent or matching).
    if not if_range or if_range in (etag, last_modified):
        try:
            byte_range = parse_range(request.headers.get("Range"), size=size)
        except Unsatisfiable:
            response = HttpResponse(status=416)
            response["Content-Range"] = f"bytes */{size}"
            _common_headers(response, content_type=content_type, etag=etag, last_modified=last_modified)
            return response
    if byte_range is None:
        first, last, status = 0, size - 1, 200
    else:
        (first, last), status = byte_range, 206
    length = max(0, last - first + 1)
    if request.method == "HEAD":
        response = HttpResponse(status=status)
    else:
        response = StreamingHttpResponse(_read_range(path, first, length), status=status)
    response["Content-Length"] = str(length)
    if status == 206:
        response["Content-Range"] = f"bytes {first}-{last}/{size}"
    _common_headers(response, content_type=content_type, etag=etag, last_modified=last_modified)
    return response


def _common_headers(response: HttpResponse, *, content_type: str, etag: str, last_modified: str) -> None:
    response["Content-Type"] = content_type
    response["Accept-Ranges"] = "bytes"
    response["ETag"] = etag
    response["Last-Modified"] = last_modified
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Disposition"] = "inline"
    # Permission-checked content: browsers may cache it, shared caches must not.
    response["Cache-Control"] = "private, max-age=3600"
