"""Writes for videos: upload (validate + store), processing, edit and delete."""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
import unicodedata
import uuid
from collections.abc import Iterator
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.move import file_move_safe
from django.core.files.storage import default_storage
from django.db import DatabaseError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from videoapp.models import Video
from videoapp.services import media
from videoapp.upload import human_size

logger = logging.getLogger(__name__)

ORIGINAL_DIR = "videos/original"
PLAYABLE_DIR = "videos/playable"
POSTER_DIR = "videos/posters"
ORIGINAL_NAME_MAX_LENGTH = 150


def media_error_message(*, error: media.MediaError) -> str:
    """The user-facing (translated) message for a media error code."""
    if error.code == "too_long":
        return _("视频太长：时长上限为 %(limit)s。") % {
            "limit": media.seconds_label(settings.VIDEO_MAX_DURATION_SECONDS)
        }
    messages = {
        "empty": _("文件是空的。"),
        "not_video": _("这不是视频文件。支持 MP4、MOV、WebM、MKV、AVI、FLV、TS、MPEG、OGG 和 WMV 格式。"),
        "damaged": _("无法读取这个视频文件，文件可能已损坏或不完整。"),
        "no_video_stream": _("文件里没有视频画面（可能是纯音频文件）。"),
        "too_large_resolution": _("视频分辨率过高，最大支持 7680×4320。"),
        "truncated": _("视频文件不完整（上传中断或文件被截断），请重新上传完整的文件。"),
        "undecodable": _("无法解码视频画面，文件可能已损坏或使用了不支持的编码。"),
        "transcode_failed": _("视频转码失败，文件可能已损坏。"),
    }
    return messages.get(error.code, _("无法处理这个视频文件。"))


def sanitize_filename(*, name: str, max_length: int = ORIGINAL_NAME_MAX_LENGTH) -> str:
    """A client's file name made safe to store and display (it is never used as a path).

    Keeps the last path component only, drops control and formatting characters (NUL, RTL/LTR
    overrides, zero-width joiners), leading dots and surrounding space, and shortens long names
    while keeping the extension.
    """
    name = unicodedata.normalize("NFC", str(name or ""))
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    kept = []
    for ch in name:
        category = unicodedata.category(ch)
        if category == "Zs":
            kept.append(" ")
        elif not category.startswith("C") and category not in ("Zl", "Zp"):
            kept.append(ch)
    name = "".join(kept)
    name = " ".join(name.split()).strip().lstrip(".").strip()
    if len(name) > max_length:
        stem, dot, ext = name.rpartition(".")
        if dot and 0 < len(ext) <= 10 and stem:
            name = f"{stem[: max_length - len(ext) - 1]}.{ext}"
        else:
            name = name[:max_length]
    return name or "video"


@contextlib.contextmanager
def _file_on_disk(file) -> Iterator[str]:
    """A path to the upload's bytes: Django's temporary file, or a chunked copy of an in-memory file."""
    if hasattr(file, "temporary_file_path"):
        try:
            yield file.temporary_file_path()
        finally:
            file.close()  # deletes the temporary file unless it was moved into storage
        return
    fd, path = tempfile.mkstemp(prefix="upload-", suffix=".part", dir=settings.FILE_UPLOAD_TEMP_DIR)
    try:
        with os.fdopen(fd, "wb") as out:
            if hasattr(file, "seek"):
                file.seek(0)
            for chunk in file.chunks() if hasattr(file, "chunks") else iter(lambda: file.read(1 << 20), b""):
                out.write(chunk)
        yield path
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)


def _storage_path(name: str) -> Path:
    path = Path(default_storage.path(name))
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def video_create(
    *,
    owner,
    file,
    title: str = "",
    description: str = "",
    visibility: str = Video.Visibility.PUBLIC,
    original_name: str | None = None,
) -> Video:
    """Validate an uploaded file, store it and queue processing. Raises ValidationError on a bad file.

    Nothing is left behind on failure: the temporary upload is deleted and no row is created.
    """
    safe_name = sanitize_filename(name=original_name or getattr(file, "name", "") or "")
    cap = settings.VIDEO_MAX_UPLOAD_BYTES
    with _file_on_disk(file) as path:
        size = os.path.getsize(path)
        if size > cap:
            raise ValidationError({"file": [_("文件太大：上传上限为 %(cap)s。") % {"cap": human_size(cap)}]})
        try:
            probe = media.probe_video(path=path, max_duration_seconds=settings.VIDEO_MAX_DURATION_SECONDS)
        except media.MediaError as exc:
            logger.info("upload rejected (%s): %s", exc.code, exc.detail)
            raise ValidationError({"file": [media_error_message(error=exc)]}, code=exc.code)
        # A random stem: file names reveal nothing and never collide, whatever the client sent.
        stored_name = f"{ORIGINAL_DIR}/{uuid.uuid4().hex}{probe.extension}"
        destination = _storage_path(stored_name)
        file_move_safe(path, str(destination))
        if settings.FILE_UPLOAD_PERMISSIONS is not None:
            os.chmod(destination, settings.FILE_UPLOAD_PERMISSIONS)
    try:
        with transaction.atomic():
            video = Video.objects.create(
                owner=owner,
                title=(title or "").strip() or Path(safe_name).stem[:200] or _("未命名视频"),
                description=description or "",
                visibility=visibility,
                status=Video.Status.PROCESSING,
                original=stored_name,
                original_name=safe_name,
                size_bytes=size,
                duration_seconds=probe.duration_seconds,
                width=probe.width,
                height=probe.height,
            )
            from videoapp.tasks import video_process

            video_process.delay_on_commit(video.pk)
    except BaseException:
        destination.unlink(missing_ok=True)
        raise
    return video


def _derived_names(video: Video) -> tuple[str, str]:
    """Poster and playable names follow the original's stem, so a re-run overwrites, never piles up."""
    stem = Path(video.original.name).stem
    return f"{POSTER_DIR}/{stem}.jpg", f"{PLAYABLE_DIR}/{stem}.mp4"


def _video_fail(*, video_id: int, reason: str) -> None:
    Video.objects.filter(pk=video_id).update(
        status=Video.Status.FAILED, failure_reason=reason[:500], updated_at=timezone.now()
    )


def video_tags_suggest_queue(*, video_id: int) -> None:
    """Queue the tagging app's suggestion task (contract: ``tagging.tasks.video_tags_suggest``) on commit."""
    from tagging.tasks import video_tags_suggest  # lazy: tagging imports videoapp models

    video_tags_suggest.delay_on_commit(video_id)


def video_process(*, video_id: int) -> Video | None:
    """Probe the stored original, write the poster and a web-playable MP4, publish (or mark failed).

    Idempotent: outputs have fixed names derived from the original and are replaced atomically, the
    row is updated only at the end, ``published_at`` keeps its first value. Safe when the video was
    deleted meanwhile (returns None).
    """
    video = Video.objects.filter(pk=video_id).first()
    if video is None:
        return None
    if not video.original or not default_storage.exists(video.original.name):
        _video_fail(video_id=video_id, reason=_("原始视频文件缺失，请重新上传。"))
        return Video.objects.filter(pk=video_id).first()
    source = default_storage.path(video.original.name)
    poster_name, playable_name = _derived_names(video)
    try:
        probe = media.probe_video(path=source, max_duration_seconds=settings.VIDEO_MAX_DURATION_SECONDS)
        media.extract_poster(path=source, dest=_storage_path(poster_name))
        if probe.web_compatible and probe.moov_first:
            playable_name = video.original.name  # already plays in a browser as it is
        else:
            media.make_web_playable(path=source, dest=_storage_path(playable_name), probe=probe)
    except media.MediaError as exc:
        logger.warning("video %s failed processing (%s): %s", video_id, exc.code, exc.detail)
        _video_fail(video_id=video_id, reason=media_error_message(error=exc))
        return Video.objects.filter(pk=video_id).first()
    except DatabaseError:
        raise  # transient: the task retries
    except Exception:  # a bug or a full disk must not leave the video "processing" forever
        logger.exception("video %s: unexpected processing error", video_id)
        _video_fail(video_id=video_id, reason=_("处理视频时发生内部错误，请稍后重试或重新上传。"))
        return Video.objects.filter(pk=video_id).first()

    with transaction.atomic():
        video = Video.objects.select_for_update().filter(pk=video_id).first()
        if video is None:  # deleted while we were transcoding: drop what we wrote
            _files_remove(names=[poster_name, playable_name])
            return None
        video.duration_seconds = probe.duration_seconds
        video.width, video.height = probe.width, probe.height
        video.poster.name = poster_name
        video.playable.name = playable_name
        video.status = Video.Status.PUBLISHED
        video.failure_reason = ""
        video.published_at = video.published_at or timezone.now()
        video.save(
            update_fields=[
                "duration_seconds", "width", "height", "poster", "playable", "status", "failure_reason",
                "published_at", "updated_at",
            ]
        )
        video_tags_suggest_queue(video_id=video.pk)
        _served_lists_refresh_on_commit(video_id=video.pk)
    if playable_name == video.original.name:
        # A previous run may have written a rendition that is no longer needed.
        _files_remove(names=[_derived_names(video)[1]])
    return video


def video_can_edit(*, video: Video, user) -> bool:
    return bool(user and user.is_authenticated and (user.is_staff or video.owner_id == user.pk))


def video_update(
    *,
    video: Video,
    title: str | None = None,
    description: str | None = None,
    visibility: str | None = None,
) -> Video:
    """Change title, description or visibility; a new title or description re-runs tag suggestion."""
    changed: list[str] = []
    if title is not None and title.strip() and title.strip() != video.title:
        video.title = title.strip()
        changed.append("title")
    if description is not None and description != video.description:
        video.description = description
        changed.append("description")
    if visibility is not None and visibility != video.visibility:
        if visibility not in Video.Visibility.values:
            raise ValidationError({"visibility": [_("无效的可见范围。")]})
        video.visibility = visibility
        changed.append("visibility")
    if not changed:
        return video
    with transaction.atomic():
        video.save(update_fields=[*changed, "updated_at"])
        _served_lists_refresh_on_commit(video_id=video.pk)
        if ("title" in changed or "description" in changed) and video.status == Video.Status.PUBLISHED:
            video_tags_suggest_queue(video_id=video.pk)
    return video


def _served_lists_refresh_on_commit(*, video_id: int) -> None:
    """Published, hidden, edited or deleted: the feed's served queues re-check the video and drop its
    cached card once this commits (recommender.services.feed_queue)."""
    from recommender.services.feed_queue import servable_refresh_on_commit

    servable_refresh_on_commit(video_ids=[video_id])


def _files_remove(*, names: list[str]) -> None:
    for name in {n for n in names if n}:
        try:
            default_storage.delete(name)
        except OSError:
            logger.warning("could not remove %s", name, exc_info=True)


def video_delete(*, video: Video) -> None:
    """Delete the video and, once the deletion is committed, its files."""
    names = [video.original.name, video.playable.name, video.poster.name]
    if video.original:
        names.extend(_derived_names(video))  # outputs of a run that had not finished
    video_id = video.pk
    with transaction.atomic():
        video.delete()
        transaction.on_commit(lambda: _files_remove(names=names))
        _served_lists_refresh_on_commit(video_id=video_id)
