"""Keyword library (关键词库) writes, the IDF table, and the per-process extractor cache.

Every keyword-library change bumps ``LibraryVersion``; :func:`extractor_get` compares the stored
version (and the newest ``IdfTable`` row) with the extractor it built last and rebuilds when
either moved, so an edit takes effect in web and worker processes without a restart.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable

from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from tagging import extraction
from tagging.models import IdfTable, KeywordEntry, LibraryVersion

logger = logging.getLogger(__name__)

STATE_CACHE_KEY = "tagging:extractor-state"
# A reader in another process may cache a state it read just before a commit; the TTL bounds how
# long such a stale state can live (the writer also deletes the key on commit).
STATE_CACHE_TTL = 10
IDF_TABLES_KEPT = 3
LIBRARY_VERSION_PK = 1

_lock = threading.Lock()
_built: tuple[tuple, extraction.KeywordExtractor] | None = None
_library: tuple[tuple, extraction.KeywordLibrary] | None = None


# --- state and extractor cache -------------------------------------------------------------


def _state_from_db() -> tuple:
    # Version before entries (see _build): entries read later can only be newer than the version.
    row = LibraryVersion.objects.filter(pk=LIBRARY_VERSION_PK).values_list("version", "updated_at").first()
    idf = IdfTable.objects.order_by("-created_at", "-id").values_list("id", "created_at").first()
    # Timestamps are part of the key: ids and versions repeat after a database is reset.
    return (
        row[0] if row else 0,
        row[1].isoformat() if row else "",
        idf[0] if idf else 0,
        idf[1].isoformat() if idf else "",
    )


def library_state() -> tuple:
    """(library version, its timestamp, IDF row id, its timestamp): cheap, cached for a few seconds."""
    state = cache.get(STATE_CACHE_KEY)
    if state is None:
        state = _state_from_db()
        cache.set(STATE_CACHE_KEY, state, STATE_CACHE_TTL)
    return tuple(state)


def _invalidate_state() -> None:
    cache.delete(STATE_CACHE_KEY)
    # Again after commit: a reader between now and the commit may have cached the old state.
    transaction.on_commit(lambda: cache.delete(STATE_CACHE_KEY))


def library_snapshot(*, version: str = "0") -> extraction.KeywordLibrary:
    """The keyword library as the pure extraction module's ``KeywordLibrary``."""
    user_words: list[str] = []
    stop_words: list[str] = []
    blocked: list[str] = []
    synonyms: dict[str, str] = {}
    for word, kind, canonical in KeywordEntry.objects.values_list("word", "kind", "canonical"):
        if kind == KeywordEntry.Kind.USER_WORD:
            user_words.append(word)
        elif kind == KeywordEntry.Kind.STOP_WORD:
            stop_words.append(word)
        elif kind == KeywordEntry.Kind.BLOCKED:
            blocked.append(word)
        elif kind == KeywordEntry.Kind.SYNONYM and canonical:
            synonyms[word] = canonical
    return extraction.KeywordLibrary(
        version=version,
        user_words=frozenset(user_words),
        stop_words=frozenset(stop_words),
        synonyms=synonyms,
        blocked=frozenset(blocked),
    )


def idf_table_current() -> extraction.IdfTable | None:
    """The newest stored IDF table, or None before the first ``tagging.idf_recompute``."""
    row = IdfTable.objects.order_by("-created_at", "-id").first()
    if row is None:
        return None
    data = row.idf or {}
    if "idf" in data and "default_idf" in data:
        return extraction.IdfTable(
            idf={str(k): float(v) for k, v in data["idf"].items()},
            doc_count=int(data.get("doc_count", row.document_count)),
            default_idf=float(data["default_idf"]),
        )
    return None


def library_get() -> extraction.KeywordLibrary:
    """The current keyword library snapshot (cached per process per version; no jieba load)."""
    global _library
    state = library_state()
    with _lock:
        if _library is not None and _library[0] == state:
            return _library[1]
    snapshot = library_snapshot(version=f"{state[0]}@{state[1]}")
    with _lock:
        _library = (state, snapshot)
    return snapshot


def extractor_get() -> extraction.KeywordExtractor:
    """The process's extractor for the current keyword library and IDF table (rebuilt on change)."""
    global _built
    state = library_state()
    with _lock:
        if _built is not None and _built[0] == state:
            return _built[1]
    extractor = extraction.KeywordExtractor(library=library_get(), idf=idf_table_current())
    with _lock:
        _built = (state, extractor)
    return extractor


# --- writes ----------------------------------------------------------------------------------


def library_version_bump() -> int:
    """Move the keyword library to a new version (call inside the transaction of the change)."""
    now = timezone.now()
    with transaction.atomic():
        updated = LibraryVersion.objects.filter(pk=LIBRARY_VERSION_PK).update(
            version=F("version") + 1, updated_at=now
        )
        if not updated:
            try:
                with transaction.atomic():
                    LibraryVersion.objects.create(pk=LIBRARY_VERSION_PK, version=1)
            except IntegrityError:  # created concurrently: bump that one
                LibraryVersion.objects.filter(pk=LIBRARY_VERSION_PK).update(
                    version=F("version") + 1, updated_at=now
                )
    _invalidate_state()
    return LibraryVersion.objects.values_list("version", flat=True).get(pk=LIBRARY_VERSION_PK)


def _clean_word(value: str, *, field: str) -> str:
    word = extraction.normalize_tag(value or "")
    if not word:
        raise ValidationError({field: [_("词不能为空。")]})
    if len(word) > KeywordEntry._meta.get_field("word").max_length:
        raise ValidationError({field: [_("词太长。")]})
    return word


def keyword_entry_create(*, word: str, kind: str, canonical: str = "", created_by=None) -> KeywordEntry:
    """Add one keyword-library entry (idempotent on word+kind; a synonym's canonical is updated)."""
    if kind not in KeywordEntry.Kind.values:
        raise ValidationError({"kind": [_("未知的关键词类型：%(kind)s") % {"kind": kind}]})
    word = _clean_word(word, field="word")
    if kind == KeywordEntry.Kind.SYNONYM:
        canonical = _clean_word(canonical, field="canonical")
        if canonical == word:
            raise ValidationError({"canonical": [_("同义词不能指向自己。")]})
    else:
        canonical = ""
    with transaction.atomic():
        entry, created = KeywordEntry.objects.get_or_create(
            word=word, kind=kind, defaults={"canonical": canonical, "created_by": created_by}
        )
        if not created and entry.canonical != canonical:
            entry.canonical = canonical
            entry.save(update_fields=["canonical"])
        elif not created:
            return entry
        library_version_bump()
    return entry


def keyword_entries_create(*, words: Iterable[str], kind: str, created_by=None) -> int:
    """Add many entries of one kind (not synonyms) with a single version bump; returns how many are new."""
    cleaned = {extraction.normalize_tag(w or "") for w in words}
    cleaned.discard("")
    with transaction.atomic():
        existing = set(KeywordEntry.objects.filter(kind=kind, word__in=cleaned).values_list("word", flat=True))
        new = [KeywordEntry(word=w, kind=kind, created_by=created_by) for w in sorted(cleaned - existing)]
        KeywordEntry.objects.bulk_create(new, ignore_conflicts=True)
        if new:
            library_version_bump()
    return len(new)


def keyword_entry_update(*, entry: KeywordEntry, word: str, kind: str, canonical: str = "") -> KeywordEntry:
    with transaction.atomic():
        entry.word = _clean_word(word, field="word")
        entry.kind = kind
        entry.canonical = _clean_word(canonical, field="canonical") if kind == KeywordEntry.Kind.SYNONYM else ""
        if KeywordEntry.objects.filter(word=entry.word, kind=kind).exclude(pk=entry.pk).exists():
            raise ValidationError({"word": [_("该词已在关键词库中。")]})
        entry.save(update_fields=["word", "kind", "canonical"])
        library_version_bump()
    return entry


def keyword_entry_delete(*, entry: KeywordEntry) -> None:
    with transaction.atomic():
        entry.delete()
        library_version_bump()


def idf_table_store(*, table: extraction.IdfTable, keep: int = IDF_TABLES_KEPT) -> IdfTable:
    """Store a learnt IDF table as the newest row and drop all but the ``keep`` newest."""
    with transaction.atomic():
        row = IdfTable.objects.create(
            document_count=table.doc_count,
            idf={"doc_count": table.doc_count, "default_idf": table.default_idf, "idf": dict(table.idf)},
        )
        stale = list(IdfTable.objects.order_by("-created_at", "-id").values_list("id", flat=True)[keep:])
        if stale:
            IdfTable.objects.filter(id__in=stale).delete()
        _invalidate_state()
    return row
