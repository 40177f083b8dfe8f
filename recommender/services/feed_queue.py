"""The feed's served queue: a logged-in viewer's next feed items, ready to send, kept in Redis.

Why: a feed page that has to gather candidates, filter them in Python, query the database and
serialise 20 cards costs many times a trivial request.  Instead, when the slow path
(``services.feed.feed_build``) ranks a viewer's candidates, it also writes the rest of that ranking
- diversified page by page, explained, with an exploration slot per page, each item's JSON ready -
into Redis, and later pages are one Lua script call (:data:`SERVE_SCRIPT`): pop the next items,
log the exposure and the impressions, return the items' JSON, which Python joins with the cards.
No database query on the way.

What keeps it correct (tested in ``tests/recommender/test_feed_queue.py``):

* **Stale ranking.** The queue is thrown away (the script answers "rebuild" and the slow path ranks
  afresh) when its stamp differs - artefact versions and staleness (a rebuild, the 5-minute hot
  refresh) - or the viewer's plan version (``rec:planver:u<id>``, bumped on commit by a like,
  favourite, comment or completed view through the profile refresh, a dislike, an interest edit).
* **Servable** (published, public, no active blocked tag).  The ranking was checked in the
  database when the queue was built.  Every service that hides, deletes or blocks a video removes
  it from the Redis set ``rec:servable`` on commit and bumps ``rec:servable:epoch``
  (:func:`servable_refresh_on_commit`); a queue built before the current epoch tests each item
  against the set.  The set is rebuilt in full by the hot refresh job and whenever it is missing.
* **Already shown or watched.**  Items were tested against the viewer's Bloom filter when the queue
  was built and are popped when served; what the script serves goes to the viewer's served log,
  folded into the filter by whoever reads it next (``services.exposure``).  Any other exposure
  (related and hot lists, another feed page, the profile refresh) bumps the viewer's external
  exposure counter, and a queue built before it tests every item against the filter.
* **Cards** (title, owner, counts) are joined in Python: the process's copy (30 s), else the Redis
  card cache (``rec:card:<id>``, 1 h, deleted on commit when a like, favourite, comment or edit
  changes them), else the database (stored again).  Counts may lag a like by those 30 s.

When the queue runs out the script walks a shared fallback list (global hot, then the latest
uploads; per language and hot version) from a per-viewer cursor, skipping what a per-viewer bitmap
built with the queue marks as already seen, queued, disliked or the viewer's own, until the next
stamp change ranks afresh.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import threading
import time
from dataclasses import dataclass, field

from django.conf import settings
from django.db import transaction
from redis.exceptions import NoScriptError

from recommender import selectors
from recommender.services.exposure import (
    FOLD_FUNCTION,
    BloomExposure,
    bloom_positions,
    exposure_backend,
    exposure_mark_down,
)
from videoapp.apis.authentication import token_cache_key

logger = logging.getLogger(__name__)

# The "5" in the names is the format of the entries and of the fallback list the meta points to:
# bump it when either changes shape (queues of an older format are then simply not found: rebuilt).
QUEUE_KEY = "rec:q:5:{lang}:u{user_id}"
QUEUE_META_KEY = "rec:qm:5:{lang}:u{user_id}"
# The shared fallback list: its entries one a line, their byte offsets, their Bloom bits (fixed width).
FALLBACK_KEY = "rec:fb:5:{lang}:{version}"
FALLBACK_OFFSETS_KEY = "rec:fbo:5:{lang}:{version}"
FALLBACK_BITS_KEY = "rec:fbb:5:{lang}:{version}"
FALLBACK_META_KEY = "rec:fbm:5:{lang}:{version}"  # ids + owners in list order, servable epoch
SERVABLE_KEY = "rec:servable"
SERVABLE_EPOCH_KEY = "rec:servable:epoch"
CARD_KEY = "rec:card:{video_id}"
PLAN_VERSION_KEY = "rec:planver:{viewer}"
IMPRESSION_BUFFER_KEY = "rec:impressions"

CARD_SECONDS = 3600
FALLBACK_LENGTH = 5000
SERVED_LOG_FOLD_AT = 200  # answers logged before the script folds the log itself

# KEYS: 1 the token cache entry ("" when the viewer's id is given), 2 servable set, 3 impression buffer.
# ARGV: 1 stamp, 2 size, 3 request id, 4 created_at, 5 Bloom bucket TTL, 6 impression buffer cap,
#       7 language, 8 fallback list version, 9 first and 10 current Bloom bucket number,
#       11 viewer user id ("" to read it from the token entry "<id>|..."), 12 width of one entry's bits
#       in the fallback list's bits string.
# The viewer's own keys (queue, meta, plan version, Bloom buckets, served log...) are named here from
# the user id, as the Python constants name them, so that one round trip serves a token-authenticated
# request.  (Keys not passed in KEYS are fine on a single Redis; a Redis Cluster would need hash tags.)
# An entry is "video_id|owner_id|bit,bit,...|[video_id,channel,version]|{item JSON without the card}"
# (json.dumps escapes newlines, so an entry has none).
# Reply: {2} = token not cached; {0, uid} = queue to rebuild;
#        {1, uid, the answer's members from "source" to "cold_start" (no braces), cold start (0/1)
#         [, the impression record's header line, then the entries served, one a line]}
# The served entries go whole, one a line after the impression record's header line, to the reply
# and to the impression buffer (parsed when flushed); their bit positions go to the served log.  The
# caller puts each item's card in front of it (:func:`cards_json`): cards are not fetched here,
# because copying them through Lua cost Redis more than all the rest.
SERVE_SCRIPT = FOLD_FUNCTION + r"""
local uid = ARGV[11]
if uid == '' then
  local cached = redis.call('GET', KEYS[1])
  if not cached then return {2} end
  uid = string.match(cached, '^(%d+)|')
  if not uid then return {2} end
end
local lang = ARGV[7]
local mkey = 'rec:qm:5:' .. lang .. ':u' .. uid
local meta = redis.call('HMGET', mkey, 'stamp', 'planver', 'header', 'cursor', 'source', 'cold', 'expgen',
  'qepoch', 'fepoch', 'skip')
if not meta[1] or meta[1] ~= ARGV[1] then return {0, uid} end
local now = redis.call('MGET', 'rec:planver:u' .. uid, 'rec:expgen:u' .. uid, 'rec:servable:epoch')
if meta[2] ~= (now[1] or '') then return {0, uid} end
local epoch = now[3] or '0'
local check_seen = meta[7] ~= (now[2] or '0')
local check_queue = meta[8] ~= epoch
local check_fallback = meta[9] ~= epoch
if (check_queue or check_fallback) and redis.call('EXISTS', KEYS[2]) == 0 then return {0, uid} end
local size = tonumber(ARGV[2])
local ttl = tonumber(ARGV[5])
local served = 'rec:served:u' .. uid
local current = 'rec:exp:u' .. uid .. ':' .. ARGV[10]
local MASK = {[0] = 128, 64, 32, 16, 8, 4, 2, 1}  -- bit i of a byte, most significant first
local function bit_set(bitmap, i)  -- bit i of a bitmap string, in Redis's bit order
  local byte = string.byte(bitmap, (i - i % 8) / 8 + 1)
  if not byte then return false end
  local mask = MASK[i % 8]
  return byte % (2 * mask) >= mask
end
local map, loaded = nil, false
local function seen(pos)
  if not loaded then  -- the live buckets OR-ed into one bitmap (in C), once per call
    loaded = true
    fold(served, current, ttl)
    local scratch, buckets = 'rec:scratch:u' .. uid, {}
    for b = tonumber(ARGV[9]), tonumber(ARGV[10]) do buckets[#buckets + 1] = 'rec:exp:u' .. uid .. ':' .. b end
    if redis.call('BITOP', 'OR', scratch, unpack(buckets)) > 0 then
      map = redis.call('GET', scratch)
      redis.call('DEL', scratch)
    end
  end
  if not map then return false end
  for p in string.gmatch(pos, '%d+') do
    if not bit_set(map, tonumber(p)) then return false end
  end
  return true
end
-- Entries are taken whole: the only string cut from one is its Bloom bits (and its id when a check
-- needs it), since every string made in Lua costs Redis about as much as a redis.call.
local chosen, bits, n = {}, {}, 0  -- n: entries chosen (an element of chosen may hold a run of them)
local function offer(entry, check)
  local id, pos
  if check then
    id, pos = string.match(entry, '^(%d+)|%d+|([%d,]*)|')
    if redis.call('SISMEMBER', KEYS[2], id) == 0 then return end
  else
    pos = string.match(entry, '^%d+|%d+|([%d,]*)|')
  end
  if check_seen and seen(pos) then return end
  chosen[#chosen + 1] = entry
  bits[#bits + 1] = pos
  n = n + 1
end
local cursor = tonumber(meta[4]) or 0
if cursor == 0 then  -- a walk of the fallback list starts only once the queue is empty
  local qkey = 'rec:q:5:' .. lang .. ':u' .. uid
  while n < size do
    local batch = redis.call('LPOP', qkey, size - n)
    if not batch then break end
    for _, e in ipairs(batch) do offer(e, check_queue) end
  end
end
if n < size then
  -- The fallback list is three strings (written by queue_store): the entries one a line, each entry's
  -- byte offset (8 hex digits), each entry's bits (fixed width, ARGV[12]); so a run of entries not
  -- skipped is three GETRANGEs and two strings, however long it is.
  local suffix = ':5:' .. lang .. ':' .. ARGV[8]
  local offsets, width = 'rec:fbo' .. suffix, tonumber(ARGV[12])
  local total = redis.call('STRLEN', offsets) / 8 - 1
  local skip = meta[10] or ''  -- the viewer's skip bit per fallback entry (seen, queued, disliked, own)
  while n < size and cursor < total do
    while cursor < total and bit_set(skip, cursor) do cursor = cursor + 1 end
    local first = cursor
    while cursor < total and n + cursor - first < size and not bit_set(skip, cursor) do cursor = cursor + 1 end
    if cursor > first then
      local span = redis.call('GETRANGE', offsets, first * 8, cursor * 8 + 7)
      local run = redis.call('GETRANGE', 'rec:fb' .. suffix, tonumber(string.sub(span, 1, 8), 16),
        tonumber(string.sub(span, -8), 16) - 2)  -- without the run's last newline
      if check_fallback or check_seen then  -- entry by entry
        for entry in string.gmatch(run, '[^\n]+') do offer(entry, check_fallback) end
      else
        chosen[#chosen + 1] = run
        bits[#bits + 1] = redis.call('GETRANGE', 'rec:fbb' .. suffix, first * width, cursor * width - 1)
        n = n + cursor - first
      end
    end
  end
  redis.call('HSET', mkey, 'cursor', cursor)
end
local out = {1, uid, meta[3], tonumber(meta[6]) or 0}
if n > 0 then
  -- One string for the reply and the impression buffer: a header line, then the entries.
  table.insert(chosen, 1, '{"user_id":' .. uid .. ',"session_key":"","created_at":"' .. ARGV[4] ..
    '","request_id":"' .. ARGV[3] .. '","surface":"feed","source":"' .. (meta[5] or '') .. '"}')
  local answer = table.concat(chosen, '\n')
  out[5] = answer
  local logged = redis.call('RPUSH', served, table.concat(bits, ','))
  if logged >= """ + str(SERVED_LOG_FOLD_AT) + r""" then
    fold(served, current, ttl)
  elseif logged == 1 then  -- a new log: it expires with the filter's buckets (older entries no longer matter)
    redis.call('EXPIRE', served, ttl)
  end
  local length = redis.call('RPUSH', KEYS[3], answer)
  if length > tonumber(ARGV[6]) then redis.call('LTRIM', KEYS[3], -tonumber(ARGV[6]), -1) end
end
return out
"""


def impression_buffer_cap() -> int:
    """Buffered responses kept at most when no flush runs (``RECOMMENDER_IMPRESSION_BUFFER_MAX``;
    a served-queue answer of 20 items takes about 4 KB, so the default bounds the buffer near 100 MB)."""
    return int(getattr(settings, "RECOMMENDER_IMPRESSION_BUFFER_MAX", 25_000))


def queue_seconds() -> int:
    """How long an untouched queue is kept (a stamp change replaces it sooner)."""
    return int(getattr(settings, "RECOMMENDER_QUEUE_SECONDS", 3600))


def _client():
    backend = exposure_backend()
    return backend if isinstance(backend, BloomExposure) else None


def _dumps(value) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _entry(*, video_id: int, owner_id: int, positions, item_fields: dict) -> str:
    impression = _dumps([video_id, item_fields["channel"], item_fields["artefact_version"]])
    return f"{video_id}|{owner_id}|{','.join(map(str, positions))}|{impression}|{_dumps(item_fields)}"


def bits_width(backend: BloomExposure) -> int:
    """Characters of one entry's bits in the fallback list's bits string: k positions, each padded
    with spaces to the width of the largest and followed by a comma (the readers take the digits)."""
    return backend.k * (len(str(backend.m - 1)) + 1)


def fallback_strings(backend: BloomExposure, items: list[tuple[int, int, dict]]) -> tuple[bytes, bytes, bytes]:
    """The fallback list as the serve script reads it: the entries one a line, the byte offset of
    each line and of the end (8 hex digits each), and each entry's bits at a fixed width."""
    entries, positions = _entries(backend, items)
    lines = [(entry + "\n").encode() for entry in entries]
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line))
    digits = len(str(backend.m - 1))
    bits = "".join(f"{p:>{digits}}," for row in positions for p in row)
    return b"".join(lines), "".join(f"{start:08x}" for start in starts).encode(), bits.encode()


def _entries(backend: BloomExposure, items: list[tuple[int, int, dict]]) -> tuple[list[str], list[list[int]]]:
    """Queue entries of ``(video_id, owner_id, item fields)`` and their Bloom bit positions (which
    travel with each entry)."""
    if not items:
        return [], []
    positions = bloom_positions([v for v, _, _ in items], m=backend.m, k=backend.k).tolist()
    return [_entry(video_id=v, owner_id=o, positions=p, item_fields=f)
            for (v, o, f), p in zip(items, positions, strict=True)], positions


# --------------------------------------------------------------------------- shared state: servable, cards


def servable_set_sync(*, client=None) -> int:
    """Rebuild the Redis set of servable video ids from the database (atomic RENAME).

    The servable epoch moves only when the rebuild takes ids out that the set still held (a change
    that bypassed the services, which update the set and the epoch themselves): every queue and
    fallback list written before an epoch change tests each entry, so a rebuild that changes
    nothing must not move it."""
    backend = client or _client()
    if backend is None:
        return 0
    ids = sorted(selectors.servable_video_ids())
    tmp = SERVABLE_KEY + ":tmp"
    pipe = backend.client.pipeline(transaction=False)
    pipe.delete(tmp)
    for start in range(0, len(ids), 5000):
        pipe.sadd(tmp, *ids[start:start + 5000])
    if not ids:  # nothing servable: an empty set cannot exist in Redis, so the marker is a non-id member
        pipe.sadd(tmp, "none")
    pipe.sdiff(SERVABLE_KEY, tmp)
    removed = pipe.execute()[-1]
    pipe = backend.client.pipeline(transaction=True)
    pipe.rename(tmp, SERVABLE_KEY)
    if removed - {b"none"}:
        pipe.incr(SERVABLE_EPOCH_KEY)
    pipe.execute()
    return len(ids)


def servable_refresh(*, video_ids) -> None:
    """Re-check ``video_ids`` in the database and update the servable set and their cached cards."""
    backend = _client()
    ids = [int(v) for v in video_ids]
    if backend is None or not ids:
        return
    allowed = selectors.servable_among(ids=ids)
    try:
        pipe = backend.client.pipeline(transaction=False)
        if allowed:
            pipe.sadd(SERVABLE_KEY, *allowed)
        gone = [v for v in ids if v not in allowed]
        if gone:
            pipe.srem(SERVABLE_KEY, *gone)
            pipe.incr(SERVABLE_EPOCH_KEY)  # queues built before this re-check each item
        pipe.delete(*[CARD_KEY.format(video_id=v) for v in ids])
        pipe.execute()
    except Exception as exc:
        exposure_mark_down(exc)


def servable_refresh_on_commit(*, video_ids) -> None:
    """After the surrounding transaction commits, bring ``video_ids`` up to date in the served queues'
    servable set (publish, visibility change, delete, tag block).  Without Redis: nothing to do."""
    if not settings.REDIS_URL:
        return
    ids = [int(v) for v in video_ids]
    if ids:
        transaction.on_commit(lambda: servable_refresh(video_ids=ids))


def feed_plan_invalidate(*, user_id: int) -> None:
    """Make the viewer's next feed request rank afresh (their plan and served queue are stale): after
    a like, dislike, interest edit... .  Dislikes are also checked in the database whenever a
    ranking is built, and the version is read before that, so an invalidation racing a rebuild
    makes the rebuilt queue a miss rather than serving the old answer."""
    backend = _client()
    if backend is None:
        return
    try:
        backend.client.incr(PLAN_VERSION_KEY.format(viewer=f"u{user_id}"))
    except Exception as exc:
        exposure_mark_down(exc)


def feed_plan_invalidate_on_commit(*, user_id: int) -> None:
    if settings.REDIS_URL:
        transaction.on_commit(lambda: feed_plan_invalidate(user_id=user_id))


def card_invalidate_on_commit(*, video_ids) -> None:
    """After commit, drop the cached cards of ``video_ids`` (their counts, title or owner changed)."""
    if not settings.REDIS_URL:
        return
    ids = [int(v) for v in video_ids]

    def drop() -> None:
        backend = _client()
        if backend is not None and ids:
            try:
                backend.client.delete(*[CARD_KEY.format(video_id=v) for v in ids])
            except Exception as exc:
                exposure_mark_down(exc)

    if ids:
        transaction.on_commit(drop)


def cards_missing(*, backend: BloomExposure, ids: list[int]) -> list[int]:
    """Which of ``ids`` have no card in the shared card cache."""
    if not ids:
        return []
    pipe = backend.client.pipeline(transaction=False)
    for video_id in ids:
        pipe.exists(CARD_KEY.format(video_id=video_id))
    return [v for v, present in zip(ids, pipe.execute(), strict=True) if not present]


def cards_store(pipe, cards: dict[int, dict]) -> None:
    for video_id, card in cards.items():
        pipe.set(CARD_KEY.format(video_id=video_id), _dumps(card), ex=CARD_SECONDS)


# --------------------------------------------------------------------------- writing a viewer's queue


@dataclass
class QueueBuild:
    """What the slow path knows when it writes a viewer's queue."""

    user_id: int
    lang: str
    stamp: str
    planver: str  # read before the ranking read the database (a racing invalidation makes a miss)
    external_exposure: str  # the viewer's external exposure counter, read before the filter was
    servable_epoch: str  # read before the ranking's servable check
    header: dict  # the answer's members other than request_id, page, size, results, suggested_users
    source: str
    items: list[tuple[int, int, dict]]  # (video id, owner id, item fields) in serving order
    cards: dict[int, dict]  # cards known now (stored in the card cache)
    skip: set[int]  # ids the fallback walk must skip for this viewer: seen, queued, disliked, own


@dataclass
class Fallback:
    """The shared fallback list of one language and hot version."""

    version: str
    ids: list[int]
    owners: list[int]
    epoch: str
    entries: list[tuple[int, int, dict]] | None = None  # set when it must be written (was missing)


def fallback_read(*, backend: BloomExposure, lang: str, version: str) -> Fallback | None:
    """The stored fallback list's ids, owners and epoch (None when it is not stored)."""
    raw_ids, epoch = backend.client.hmget(FALLBACK_META_KEY.format(lang=lang, version=version), "ids", "epoch")
    if raw_ids is None or not backend.client.exists(FALLBACK_OFFSETS_KEY.format(lang=lang, version=version)):
        return None
    pairs = [pair.split(":") for pair in raw_ids.decode().split(",") if pair]
    return Fallback(version=version, ids=[int(v) for v, _ in pairs], owners=[int(o) for _, o in pairs],
                    epoch=(epoch or b"0").decode())


def servable_epoch(*, backend: BloomExposure) -> str:
    return (backend.client.get(SERVABLE_EPOCH_KEY) or b"0").decode()


def queue_store(*, backend: BloomExposure, build: QueueBuild, fallback: Fallback) -> None:
    """Write the viewer's queue, its meta and the cards known (and the shared fallback list when it
    was missing) in one transaction."""
    import numpy as np

    queue_key = QUEUE_KEY.format(lang=build.lang, user_id=build.user_id)
    meta_key = QUEUE_META_KEY.format(lang=build.lang, user_id=build.user_id)
    ttl = queue_seconds()
    skip = np.fromiter(((v in build.skip or o == build.user_id) for v, o in zip(fallback.ids, fallback.owners,
                                                                                 strict=True)),
                       dtype=bool, count=len(fallback.ids))
    pipe = backend.client.pipeline(transaction=True)
    pipe.delete(queue_key, meta_key)
    entries, _positions = _entries(backend, build.items)
    if entries:
        pipe.rpush(queue_key, *entries)
        pipe.expire(queue_key, ttl)
    pipe.hset(meta_key, mapping={
        "stamp": build.stamp, "planver": build.planver, "header": _dumps(build.header)[1:-1], "cursor": 0,
        "source": build.source, "cold": int(bool(build.header.get("cold_start"))),
        "expgen": build.external_exposure, "qepoch": build.servable_epoch, "fepoch": fallback.epoch,
        "skip": np.packbits(skip).tobytes(),
    })
    pipe.expire(meta_key, ttl)
    cards_store(pipe, build.cards)
    if fallback.entries is not None:
        data, offsets, bits = fallback_strings(backend, fallback.entries)
        for key, value in ((FALLBACK_KEY, data), (FALLBACK_OFFSETS_KEY, offsets), (FALLBACK_BITS_KEY, bits)):
            pipe.set(key.format(lang=build.lang, version=fallback.version), value, ex=ttl)
        meta = FALLBACK_META_KEY.format(lang=build.lang, version=fallback.version)
        pipe.hset(meta, mapping={"ids": ",".join(f"{v}:{o}" for v, o in zip(fallback.ids, fallback.owners,
                                                                             strict=True)),
                                 "epoch": fallback.epoch})
        pipe.expire(meta, ttl)
    pipe.execute()


# --------------------------------------------------------------------------- serving


@dataclass
class Served:
    """What the serve script answered: ``status`` "served", "rebuild" or "no-token"."""

    status: str
    user_id: int | None = None
    head: bytes = b""  # the answer up to '"results":['
    cold_start: bool = False
    items: list[tuple[int, bytes]] = field(default_factory=list)  # (video id, item JSON without the card)


SERVE_SHA = hashlib.sha1(SERVE_SCRIPT.encode()).hexdigest()
_ENTRY = re.compile(rb"\n(\d+)\|[^|\n]*\|[^|\n]*\|[^|\n]*\|([^\n]*)")

# The serve script's own connection, one per process and thread (made from the client's pool settings,
# kept out of the pool): a request sends one command on it and reads the whole reply, so it is never
# left with unread data, and the pool's per-command bookkeeping (its lock, its "has the connection
# unread data" probe, the retry wrapper) is not paid on every feed page.
_serve_connections = threading.local()


def _serve_call(client, keys: list, args: list):
    key = (id(client), os.getpid())
    conn = getattr(_serve_connections, "conn", None)
    if conn is None or getattr(_serve_connections, "key", None) != key:
        conn = client.connection_pool.make_connection()
        _serve_connections.conn, _serve_connections.key = conn, key
    try:
        try:
            conn.send_command("EVALSHA", SERVE_SHA, len(keys), *keys, *args)
            return conn.read_response()
        except NoScriptError:  # a restarted or flushed Redis: load the script, then call it again
            client.script_load(SERVE_SCRIPT)
            conn.send_command("EVALSHA", SERVE_SHA, len(keys), *keys, *args)
            return conn.read_response()
    except BaseException:
        conn.disconnect()  # whatever state it is in, the next call starts on a new connection
        _serve_connections.conn = None
        raise


def queue_serve(*, backend: BloomExposure, lang: str, stamp: str, size: int, page: int, request_id: str,
                created_at: str, fallback_version: str, user_id: int | None = None,
                token: str | None = None) -> Served:
    """Serve the next ``size`` items of a viewer's queue in one script call; the viewer is given by
    ``user_id``, or by ``token`` when only the request's token is known (a token not in the cache
    answers ``no-token``)."""
    first, last, bucket_ttl = backend.bucket_span()
    keys = [token_cache_key(token) if user_id is None else "", SERVABLE_KEY, IMPRESSION_BUFFER_KEY]
    reply = _serve_call(backend.client, keys, [
        stamp, size, request_id, created_at, bucket_ttl, impression_buffer_cap(), lang, fallback_version,
        first, last, "" if user_id is None else user_id, bits_width(backend),
    ])
    if reply[0] == 2:
        return Served("no-token")
    if reply[0] == 0:
        return Served("rebuild", user_id=int(reply[1]))
    # After the impression record's header line, one entry a line: the id and the item JSON are wanted.
    items = [(int(v), item) for v, item in _ENTRY.findall(reply[4])] if len(reply) > 4 else []
    head = b"".join((b"{", reply[2], b',"request_id":"', request_id.encode(), b'","page":', str(page).encode(),
                     b',"size":', str(size).encode(), b',"results":['))
    return Served("served", user_id=int(reply[1]), head=head, cold_start=bool(reply[3]), items=items)


# Card JSON per process, for RECOMMENDER_LOCAL_CACHE_SECONDS (a like's count may lag by that much here;
# visibility never does: that is the servable set's job).
_card_bytes: dict[int, tuple[float, bytes]] = {}


def cards_json(*, backend: BloomExposure, ids: list[int]) -> dict[int, bytes]:
    """Card JSON of ``ids``: this process's copies, then the shared card cache (one MGET for the
    rest); ids in neither are absent from the result (the caller reads them from the database)."""
    ttl = float(getattr(settings, "RECOMMENDER_LOCAL_CACHE_SECONDS", 30))
    now = time.monotonic()
    out, wanted = {}, []
    for video_id in ids:
        hit = _card_bytes.get(video_id)
        if hit is not None and now - hit[0] < ttl:
            out[video_id] = hit[1]
        else:
            wanted.append(video_id)
    if wanted:
        if len(_card_bytes) > 50_000:
            _card_bytes.clear()
        for video_id, raw in zip(wanted, backend.client.mget([CARD_KEY.format(video_id=v) for v in wanted]),
                                 strict=True):
            if raw is not None:
                out[video_id] = raw
                _card_bytes[video_id] = (now, raw)
    return out


def card_bytes_forget() -> None:
    """Forget this process's card copies (tests; ``serving_caches_clear``)."""
    _card_bytes.clear()
