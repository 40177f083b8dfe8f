"""Versioned artefacts on disk, switched atomically, loaded once per process and version.

Layout: ``settings.ARTEFACT_ROOT/<kind>/<version>/`` (``meta.json`` + numpy/JSON files).  A job
writes a new version into a hidden temporary directory next to the others and renames it into
place (atomic on one file system), then points ``ArtefactVersion(kind)`` at it in one UPDATE.
Readers never see a half-written version; the previous version stays on disk (``KEEP_VERSIONS``)
so that a reader can fall back to it when the current one is unreadable.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings
from django.utils import timezone

from recommender.records import ArtefactVersion

logger = logging.getLogger(__name__)

KEEP_VERSIONS = 2
META_FILE = "meta.json"


class ArtefactUnavailable(Exception):
    """No readable version of an artefact kind exists."""


def artefact_root(*, kind: str) -> Path:
    return Path(settings.ARTEFACT_ROOT) / kind


def new_version() -> str:
    # Sortable by time, unique across hosts that build at the same second.
    return timezone.now().strftime("%Y%m%dT%H%M%S%f") + "-" + uuid.uuid4().hex[:6]


def artefact_write(*, kind: str, writer: Callable[[Path], dict]) -> tuple[str, Path, dict]:
    """Run ``writer(tmp_dir) -> stats`` and move the finished directory into place.

    Returns ``(version, final_path, stats)``.  On any error the temporary directory is removed
    and nothing visible changes.
    """
    root = artefact_root(kind=kind)
    root.mkdir(parents=True, exist_ok=True)
    version = new_version()
    tmp = root / f".tmp-{version}"
    tmp.mkdir()
    try:
        stats = writer(tmp) or {}
        meta = {"kind": kind, "version": version, "built_at": timezone.now().isoformat(), "stats": stats}
        (tmp / META_FILE).write_text(json.dumps(meta, ensure_ascii=False))
        final = root / version
        os.replace(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return version, final, stats


def artefact_switch(*, kind: str, version: str, path: Path, stats: dict | None = None) -> None:
    """Point readers at ``version`` in one UPDATE (an INSERT the very first time)."""
    now = timezone.now()
    values = {"version": version, "path": str(path), "built_at": now, "stats": stats or {}}
    updated = ArtefactVersion.objects.filter(kind=kind).update(**values)
    if not updated:
        ArtefactVersion.objects.get_or_create(kind=kind, defaults=values)
        ArtefactVersion.objects.filter(kind=kind).update(**values)
    _versions_cache.clear()


def artefact_prune(*, kind: str, keep: int = KEEP_VERSIONS) -> list[str]:
    """Delete all but the ``keep`` newest versions of ``kind`` (never the current one)."""
    root = artefact_root(kind=kind)
    if not root.exists():
        return []
    current = ArtefactVersion.objects.filter(kind=kind).values_list("version", flat=True).first()
    versions = sorted((p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")),
                      key=lambda p: p.name, reverse=True)
    removed = []
    for path in versions[keep:]:
        if path.name == current:
            continue
        shutil.rmtree(path, ignore_errors=True)
        removed.append(path.name)
    # Temporary directories of crashed jobs older than an hour.
    for path in root.glob(".tmp-*"):
        if time.time() - path.stat().st_mtime > 3600:
            shutil.rmtree(path, ignore_errors=True)
    return removed


# --------------------------------------------------------------------------- reading


@dataclass
class LoadedArtefact:
    kind: str
    version: str
    path: Path
    built_at: Any  # datetime
    stale: bool  # older than the stale threshold, or a fallback to an older version on disk
    why: str = ""
    payload: Any = None
    extra: dict = field(default_factory=dict)


class _VersionsCache:
    """ArtefactVersion rows, re-read at most every ``RECOMMENDER_VERSION_TTL_SECONDS`` per process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rows: dict[str, tuple[str, str, Any]] = {}
        self._read_at = 0.0

    def clear(self) -> None:
        with self._lock:
            self._read_at = 0.0

    def get(self, kind: str) -> tuple[str, str, Any] | None:
        ttl = float(getattr(settings, "RECOMMENDER_VERSION_TTL_SECONDS", 5))
        with self._lock:
            if time.monotonic() - self._read_at >= ttl or ttl <= 0:
                rows = ArtefactVersion.objects.values_list("kind", "version", "path", "built_at")
                self._rows = {k: (v, p, b) for k, v, p, b in rows}
                self._read_at = time.monotonic()
            return self._rows.get(kind)


_versions_cache = _VersionsCache()
# (kind, version) -> loaded payload, or the exception and when it happened (negative cache).
_loaded: dict[tuple[str, str], Any] = {}
_failed: dict[tuple[str, str], tuple[float, str]] = {}
_load_lock = threading.Lock()
_FAILED_RETRY_SECONDS = 30.0


def artefacts_forget() -> None:
    """Drop every per-process cache (tests; a worker after a manual switch)."""
    _versions_cache.clear()
    with _load_lock:
        _loaded.clear()
        _failed.clear()


def _load_version(kind: str, version: str, path: Path, loader: Callable[[Path], Any]) -> Any:
    key = (kind, version)
    with _load_lock:
        if key in _loaded:
            return _loaded[key]
        failed = _failed.get(key)
        if failed and time.monotonic() - failed[0] < _FAILED_RETRY_SECONDS:
            raise ArtefactUnavailable(failed[1])
        try:
            if not (path / META_FILE).exists():
                raise FileNotFoundError(f"{path / META_FILE} is missing")
            payload = loader(path)
        except Exception as exc:  # unreadable for any reason: serve something else
            message = f"{kind} {version} unreadable: {exc.__class__.__name__}: {exc}"
            _failed[key] = (time.monotonic(), message)
            raise ArtefactUnavailable(message) from exc
        # Keep only the newest two versions of a kind in memory.
        same_kind = sorted(k for k in _loaded if k[0] == kind)
        for old in same_kind[:-1]:
            _loaded.pop(old, None)
        _loaded[key] = payload
        return payload


def artefact_load(*, kind: str, loader: Callable[[Path], Any]) -> LoadedArtefact:
    """The current version of ``kind`` (loaded once per process), else the newest readable older one.

    Raises :class:`ArtefactUnavailable` when nothing is readable.  ``stale`` is set when the
    version served is not the current one or was built longer ago than
    ``RECOMMENDER_STALE_AFTER_SECONDS[kind]``.
    """
    row = _versions_cache.get(kind)
    problems: list[str] = []
    if row is not None:
        version, path, built_at = row
        try:
            payload = _load_version(kind, version, Path(path), loader)
            age = (timezone.now() - built_at).total_seconds()
            limit = _stale_after(kind)
            stale = age > limit
            why = f"{kind} built {int(age)} s ago (limit {int(limit)} s)" if stale else ""
            return LoadedArtefact(kind, version, Path(path), built_at, stale, why, payload)
        except ArtefactUnavailable as exc:
            problems.append(str(exc))
            logger.error("artefact fallback: the current version is unreadable: %s", exc)
    else:
        problems.append(f"no {kind} artefact has been built yet")
    # An older version left on disk (the previous one is kept until the next switch).
    root = artefact_root(kind=kind)
    if root.exists():
        current = row[0] if row else None
        for candidate in sorted((p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")),
                                key=lambda p: p.name, reverse=True):
            if candidate.name == current:
                continue
            try:
                payload = _load_version(kind, candidate.name, candidate, loader)
            except ArtefactUnavailable as exc:
                problems.append(str(exc))
                continue
            meta = json.loads((candidate / META_FILE).read_text())
            built = meta.get("built_at")
            why = "; ".join(problems) + f"; serving older version {candidate.name}"
            return LoadedArtefact(kind, candidate.name, candidate, built, True, why, payload)
    raise ArtefactUnavailable("; ".join(problems))


def _stale_after(kind: str) -> float:
    defaults = {"interactions": 2 * 86400.0, "model": 3 * 86400.0, "hot": 3600.0}
    configured = getattr(settings, "RECOMMENDER_STALE_AFTER_SECONDS", {}) or {}
    return float(configured.get(kind, defaults.get(kind, 86400.0)))
