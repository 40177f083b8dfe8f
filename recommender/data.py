"""Behaviour events -> weighted, de-noised, normalised user x item matrix (pure: no Django import).

The pipeline, in order (every step can be switched off in :class:`DenoiseConfig` so that its
effect on quality can be measured, see ``docs/recommender.md``):

1. validate the log (clear ``ValueError`` for bad input, never a crash inside numpy);
2. drop bots: users whose volume is implausible for a person;
3. drop floods: repeats of the same (user, item, kind) inside one time window count once;
4. drop accidental clicks: views under a watch-ratio or a watch-seconds floor;
5. weight each event by its kind (``DEFAULT_WEIGHTS``; views may be scaled by the watch ratio);
6. time decay with a half-life, relative to each user's latest event;
7. sum per (user, item); replays capped (the view part of a pair never exceeds
   ``max_watch_ratio`` view-weights); pairs whose net value is <= 0 (e.g. disliked) leave the
   positive matrix and go to ``Interactions.negatives``;
8. per-user normalisation (log scaling and/or L2), so that a heavy user does not dominate
   co-occurrence counts.

Input is a plain table of events: a sequence of dicts, or a dict of equal-length columns, with
``user``, ``item``, ``kind`` and optionally ``value`` (watch ratio), ``seconds`` (watch time),
``timestamp`` (seconds, or any increasing number such as a row order) and ``session``.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from recommender.base import Interactions
from recommender.hot import decayed_engagement
from recommender.kuairec import VIDEOS_FILE as KUAIREC_VIDEOS_FILE
from recommender.kuairec import read_kuairec_videos
from recommender.weights import EVENT_WEIGHTS

# The site's event weights (``recommender.weights``), plus an explicit rating (MovieLens) or an
# imported positive: one unit, like a view.
DEFAULT_WEIGHTS: dict[str, float] = {**EVENT_WEIGHTS, "rating": 1.0}

VIEW_KINDS = frozenset({"view"})
NEGATIVE_KINDS = frozenset({"dislike"})


@dataclass(frozen=True)
class DenoiseConfig:
    """Switches and thresholds of the de-noising pipeline.  ``None`` / ``False`` disables a step."""

    # Accidental clicks: a view shorter than this (ratio of the video / seconds) is dropped.
    min_watch_ratio: float | None = 0.1
    min_watch_seconds: float | None = 2.0
    # Replays: the view contribution of one (user, item) pair is capped at this many view weights.
    max_watch_ratio: float | None = 2.0
    # Views count by watch ratio (``True``) or as one unit each (``False``).
    view_strength_from_ratio: bool = True
    # Floods: identical (user, item, kind) events inside this window count once.
    flood_window: float | None = 60.0
    # Bots: users with more events than this inside one ``bot_window`` are dropped entirely.
    bot_max_events: int | None = 1500
    bot_window: float = 86_400.0
    # Time decay: an event ``half_life`` older than the user's latest event counts half.
    half_life: float | None = 30 * 86_400.0
    # Per-user normalisation: "none", "log" (log1p of the values), "l2" (unit rows), "log+l2".
    normalisation: str = "log+l2"
    # Hot lists: engagement decays with this half-life from the newest event of the whole log
    # (``None``: all-time popularity).  Unlike ``half_life`` this is global: "hot now".
    hot_half_life: float | None = 3 * 86_400.0

    def without(self, *steps: str) -> DenoiseConfig:
        """A copy with the named steps switched off (names as in :data:`ABLATION_STEPS`)."""
        changes: dict = {}
        for step in steps:
            if step not in ABLATION_STEPS:
                raise ValueError(f"unknown de-noising step {step!r}; known: {sorted(ABLATION_STEPS)}")
            changes.update(ABLATION_STEPS[step])
        return replace(self, **changes)


#: The switchable steps and the settings that turn each off.
ABLATION_STEPS: dict[str, dict] = {
    "accidental_clicks": {"min_watch_ratio": None, "min_watch_seconds": None},
    "replay_cap": {"max_watch_ratio": None},
    "watch_ratio_strength": {"view_strength_from_ratio": False},
    "floods": {"flood_window": None},
    "bots": {"bot_max_events": None},
    "time_decay": {"half_life": None},
    "normalisation": {"normalisation": "none"},
}

#: Everything off: each event of weight > 0 is a plain positive.
RAW = DenoiseConfig(
    min_watch_ratio=None,
    min_watch_seconds=None,
    max_watch_ratio=None,
    view_strength_from_ratio=False,
    flood_window=None,
    bot_max_events=None,
    half_life=None,
    normalisation="none",
)

_NORMALISATIONS = frozenset({"none", "log", "l2", "log+l2"})


@dataclass
class EventTable:
    """Validated column arrays of an event log (one entry per event)."""

    user: np.ndarray
    item: np.ndarray
    kind: np.ndarray
    value: np.ndarray  # watch ratio, NaN when unknown
    seconds: np.ndarray  # watch seconds, NaN when unknown
    timestamp: np.ndarray  # float, row order when the log has none
    session: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.user)

    def take(self, mask_or_index: np.ndarray) -> EventTable:
        return EventTable(
            user=self.user[mask_or_index],
            item=self.item[mask_or_index],
            kind=self.kind[mask_or_index],
            value=self.value[mask_or_index],
            seconds=self.seconds[mask_or_index],
            timestamp=self.timestamp[mask_or_index],
            session=None if self.session is None else self.session[mask_or_index],
        )


@dataclass
class BuildReport:
    """How many events each step removed (for logs and the ablation table)."""

    n_events: int = 0
    dropped: dict[str, int] = field(default_factory=dict)
    bot_users: list = field(default_factory=list)


def _column(events, name: str, n: int, default=None) -> np.ndarray | None:
    if isinstance(events, Mapping):
        col = events.get(name)
        if col is None:
            return None if default is None else np.full(n, default)
        col = np.asarray(col)
        if len(col) != n:
            raise ValueError(f"event column {name!r} has {len(col)} entries, expected {n}")
        return col
    values = [row.get(name, default) for row in events]
    if all(v is None for v in values):
        return None if default is None else np.full(n, default)
    return np.asarray(values, dtype=object)


def _as_float(col: np.ndarray | None, name: str, n: int) -> np.ndarray:
    if col is None:
        return np.full(n, np.nan)
    try:
        out = (
            np.asarray([np.nan if v is None else v for v in col], dtype=np.float64)
            if col.dtype == object
            else col.astype(np.float64)
        )
    except (TypeError, ValueError) as exc:
        raise ValueError(f"event column {name!r} must be numeric: {exc}") from None
    return out


def event_table(events: Sequence[Mapping] | Mapping[str, Sequence]) -> EventTable:
    """Validate a plain event table and turn it into column arrays.

    Raises ``ValueError`` with a readable message for an empty log, missing user/item/kind,
    negative or infinite watch values, NaN timestamps, or event kinds not in a known form.
    A missing ``kind`` column means every row is a ``"view"``; a missing ``timestamp``
    means row order.
    """
    if isinstance(events, Mapping):
        if "user" not in events or "item" not in events:
            raise ValueError("event table needs 'user' and 'item' columns")
        n = len(events["user"])
    else:
        events = list(events)
        n = len(events)
        if n and any(("user" not in row or "item" not in row) for row in events):
            raise ValueError("every event needs a 'user' and an 'item'")
    if n == 0:
        raise ValueError("the event log is empty: nothing to learn from")
    user = np.asarray(_column(events, "user", n))
    item = np.asarray(_column(events, "item", n))
    if any(v is None for v in user.tolist()) or any(v is None for v in item.tolist()):
        raise ValueError("an event has no user or no item id")
    kind = _column(events, "kind", n, default="view").astype(str)
    value = _as_float(_column(events, "value", n), "value", n)
    seconds = _as_float(_column(events, "seconds", n), "seconds", n)
    ts_col = _column(events, "timestamp", n)
    timestamp = np.arange(n, dtype=np.float64) if ts_col is None else _as_float(ts_col, "timestamp", n)
    if np.isnan(timestamp).any():
        raise ValueError(f"{int(np.isnan(timestamp).sum())} events have a missing (NaN) timestamp")
    for name, col in (("value", value), ("seconds", seconds)):
        finite = col[~np.isnan(col)]
        if (finite < 0).any():
            raise ValueError(f"{int((finite < 0).sum())} events have a negative {name}")
        if np.isinf(finite).any():
            raise ValueError(f"{int(np.isinf(finite).sum())} events have an infinite {name}")
    session_col = _column(events, "session", n)
    return EventTable(
        user=user,
        item=item,
        kind=kind,
        value=value,
        seconds=seconds,
        timestamp=timestamp,
        session=session_col,
    )


def _codes(values: np.ndarray, known: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Map ids to 0..n-1 codes; ``known`` fixes the id order (unknown ids -> ValueError)."""
    if known is None:
        uniques, codes = np.unique(values, return_inverse=True)
        return uniques, codes
    index = {v: i for i, v in enumerate(np.asarray(known).tolist())}
    codes = np.fromiter((index.get(v, -1) for v in values.tolist()), dtype=np.int64, count=len(values))
    if (codes < 0).any():
        unknown = sorted({str(v) for v, c in zip(values.tolist(), codes.tolist(), strict=True) if c < 0})
        raise ValueError(f"{len(unknown)} unknown ids, e.g. {unknown[:5]}")
    return np.asarray(known), codes


def _drop_bots(table: EventTable, config: DenoiseConfig, report: BuildReport) -> EventTable:
    if config.bot_max_events is None:
        return table
    window = np.floor(table.timestamp / config.bot_window).astype(np.int64)
    users, ucodes = np.unique(table.user, return_inverse=True)
    keys = ucodes.astype(np.int64) * (int(window.max()) - int(window.min()) + 1) + (window - window.min())
    _, kinv, kcounts = np.unique(keys, return_inverse=True, return_counts=True)
    busiest = np.zeros(len(users), dtype=np.int64)
    np.maximum.at(busiest, ucodes, kcounts[kinv])
    bots = busiest > config.bot_max_events
    if not bots.any():
        return table
    keep = ~bots[ucodes]
    report.dropped["bots"] = int((~keep).sum())
    report.bot_users = users[bots].tolist()
    return table.take(keep)


def _drop_floods(table: EventTable, config: DenoiseConfig, report: BuildReport) -> EventTable:
    if config.flood_window is None or len(table) == 0:
        return table
    bucket = np.floor(table.timestamp / config.flood_window).astype(np.int64)
    # Views are exempt: a replay is capped later, and dropping it here would lose its watch time.
    exempt = np.isin(table.kind, list(VIEW_KINDS))
    keys = np.rec.fromarrays([_str(table.user), _str(table.item), table.kind, bucket])
    _, first = np.unique(keys, return_index=True)
    keep = np.zeros(len(table), dtype=bool)
    keep[first] = True
    keep |= exempt
    if (~keep).any():
        report.dropped["floods"] = int((~keep).sum())
    return table.take(keep)


def _str(values: np.ndarray) -> np.ndarray:
    return values.astype(str) if values.dtype == object else values


def _drop_accidental(table: EventTable, config: DenoiseConfig, report: BuildReport) -> EventTable:
    is_view = np.isin(table.kind, list(VIEW_KINDS))
    short = np.zeros(len(table), dtype=bool)
    with np.errstate(invalid="ignore"):
        if config.min_watch_ratio is not None:
            short |= table.value < config.min_watch_ratio
        if config.min_watch_seconds is not None:
            short |= table.seconds < config.min_watch_seconds
    drop = is_view & short
    if drop.any():
        report.dropped["accidental_clicks"] = int(drop.sum())
    return table.take(~drop)


def build_interactions(
    *,
    events: Sequence[Mapping] | Mapping[str, Sequence] | EventTable,
    weights: Mapping[str, float] | None = None,
    config: DenoiseConfig = DenoiseConfig(),  # noqa: B008 - frozen dataclass, safe default
    user_ids: Sequence | None = None,
    item_ids: Sequence | None = None,
    item_tags: Mapping | None = None,
    user_tags: Mapping | None = None,
    item_groups: Mapping | None = None,
    user_groups: Mapping | None = None,
    report: BuildReport | None = None,
) -> Interactions:
    """Turn an event log into an :class:`Interactions` (see the module docstring for the steps).

    ``user_ids`` / ``item_ids`` fix the catalogue and its order (items without events, e.g. a
    new upload, get an empty column; an event with an id outside them raises ``ValueError``).
    ``item_tags`` maps item id -> {tag: weight} or a list of tags; ``user_tags`` maps user id
    -> {tag: weight} (onboarding interests).  Both feed ``item_features`` / ``user_features``
    over a shared tag vocabulary; the user vector also gains the tags of what the user engaged
    with, weighted by the interaction strength.  ``item_groups`` maps item id -> category label,
    ``user_groups`` user id -> demographic group (hot lists per group).  ``report`` (if given)
    is filled with how many events each step dropped.
    Duplicated rows are not an error: a repeated view is a replay (capped), a repeated like
    within ``flood_window`` is a flood (counted once).  A user with a single event is kept.
    """
    weights = dict(DEFAULT_WEIGHTS if weights is None else weights)
    if config.normalisation not in _NORMALISATIONS:
        raise ValueError(
            f"normalisation must be one of {sorted(_NORMALISATIONS)}, not {config.normalisation!r}"
        )
    table = events if isinstance(events, EventTable) else event_table(events)
    unknown_kinds = sorted(set(np.unique(table.kind).tolist()) - set(weights))
    if unknown_kinds:
        raise ValueError(f"no weight for event kind(s) {unknown_kinds}; known: {sorted(weights)}")
    report = report if report is not None else BuildReport()
    report.n_events = len(table)

    users, ucodes = _codes(table.user, None if user_ids is None else np.asarray(user_ids))
    items, icodes = _codes(table.item, None if item_ids is None else np.asarray(item_ids))
    del ucodes, icodes  # validation only: the ids are re-coded after filtering below

    table = _drop_bots(table, config, report)
    table = _drop_floods(table, config, report)
    table = _drop_accidental(table, config, report)

    n_users, n_items = len(users), len(items)
    _, ucodes = _codes(table.user, users)
    _, icodes = _codes(table.item, items)

    kind_weight = np.array([weights[k] for k in table.kind.tolist()], dtype=np.float64)
    is_view = np.isin(table.kind, list(VIEW_KINDS))
    strength = np.ones(len(table))
    if config.view_strength_from_ratio:
        ratio = np.where(np.isnan(table.value), 1.0, table.value)
        strength = np.where(is_view, ratio, 1.0)
    value = kind_weight * strength
    positive = value > 0
    engagement = decayed_engagement(
        item_codes=icodes[positive],
        values=np.minimum(value[positive], _hot_cap(weights, config)),
        timestamps=table.timestamp[positive],
        n_items=n_items,
        now=float(table.timestamp.max()) if len(table) else 0.0,
        half_life=config.hot_half_life,
    )

    if config.half_life is not None and len(table):
        if config.half_life <= 0:
            raise ValueError("half_life must be positive")
        latest = np.full(n_users, -np.inf)
        np.maximum.at(latest, ucodes, table.timestamp)
        age = latest[ucodes] - table.timestamp
        value = value * np.power(0.5, age / config.half_life)

    shape = (n_users, n_items)
    views = sp.csr_matrix((np.where(is_view, value, 0.0), (ucodes, icodes)), shape=shape)
    other = sp.csr_matrix((np.where(is_view, 0.0, value), (ucodes, icodes)), shape=shape)
    views.sum_duplicates()
    if config.max_watch_ratio is not None:
        # Replays: a video looped 50 times is one strong view, not 50.
        views.data = np.minimum(views.data, weights.get("view", 1.0) * config.max_watch_ratio)
    total = (views + other).tocsr()
    total.sum_duplicates()
    negatives = total.copy()
    negatives.data = np.where(negatives.data < 0, negatives.data, 0.0)
    negatives.eliminate_zeros()
    total.data = np.where(total.data > 0, total.data, 0.0)
    total.eliminate_zeros()
    matrix = normalise_rows(total, how=config.normalisation)

    feature_names, item_features, user_features = _tag_features(
        users=users, items=items, matrix=matrix, item_tags=item_tags, user_tags=user_tags
    )
    groups = None
    if item_groups is not None:
        groups = [str(item_groups.get(i, "")) for i in items.tolist()]
    out = Interactions(
        matrix=matrix,
        user_ids=users,
        item_ids=items,
        item_features=item_features,
        user_features=user_features,
        feature_names=feature_names,
        item_groups=groups,
        negatives=negatives.astype(np.float32),
        item_engagement=engagement.astype(np.float32),
        user_groups=None if user_groups is None else [str(user_groups.get(u, "")) for u in users.tolist()],
    )
    return out


def _hot_cap(weights: Mapping[str, float], config: DenoiseConfig) -> float:
    # One event never counts for more than the strongest kind (a 100x replay is not 100 views).
    cap = max(weights.values())
    if config.max_watch_ratio is not None:
        cap = max(cap, weights.get("view", 1.0) * config.max_watch_ratio)
    return cap


def normalise_rows(matrix: sp.csr_matrix, *, how: str) -> sp.csr_matrix:
    """Per-user normalisation: ``none``, ``log`` (log1p), ``l2`` (unit rows) or ``log+l2``."""
    out = sp.csr_matrix(matrix, dtype=np.float64, copy=True)
    if how in ("log", "log+l2"):
        out.data = np.log1p(out.data)
    if how in ("l2", "log+l2"):
        norms = np.sqrt(np.asarray(out.multiply(out).sum(axis=1)).ravel())
        norms[norms == 0] = 1.0
        out = sp.csr_matrix(sp.diags(1.0 / norms) @ out)
    return out.astype(np.float32)


def _tag_features(*, users, items, matrix, item_tags, user_tags):
    if item_tags is None and user_tags is None:
        return [], None, None
    vocab: dict[str, int] = {}

    def rows(keys, mapping) -> sp.csr_matrix:
        data, cols, indptr = [], [], [0]
        for key in keys.tolist():
            tags = mapping.get(key) if mapping else None
            if tags:
                pairs = tags.items() if isinstance(tags, Mapping) else ((t, 1.0) for t in tags)
                for tag, weight in pairs:
                    weight = float(weight)
                    if not math.isfinite(weight):
                        raise ValueError(f"tag weight for {key!r}/{tag!r} is not a finite number")
                    cols.append(vocab.setdefault(str(tag), len(vocab)))
                    data.append(weight)
            indptr.append(len(cols))
        return sp.csr_matrix(
            (np.asarray(data, dtype=np.float32), np.asarray(cols, dtype=np.int64), np.asarray(indptr)),
            shape=(len(keys), 0 if not vocab else max(vocab.values()) + 1),
        )

    item_rows = rows(items, item_tags or {})
    user_rows = rows(users, user_tags or {})
    n_features = len(vocab)
    item_rows.resize((len(items), n_features))
    user_rows.resize((len(users), n_features))
    item_rows.sum_duplicates()
    # Behaviour feeds the profile: tags of what the user engaged with, weighted by strength.
    behaviour = matrix @ normalise_rows(item_rows, how="l2")
    user_rows = normalise_rows(user_rows, how="l2") + normalise_rows(sp.csr_matrix(behaviour), how="l2")
    names = [None] * n_features
    for tag, col in vocab.items():
        names[col] = tag
    return names, item_rows.tocsr(), sp.csr_matrix(user_rows, dtype=np.float32)


# --------------------------------------------------------------------------- raw file loaders


@dataclass
class RatingsLog:
    """A ratings/watch table as read from a CSV (one entry per row, in file order)."""

    user: np.ndarray
    item: np.ndarray
    rating: np.ndarray
    timestamp: np.ndarray

    def __len__(self) -> int:
        return len(self.user)

    def take(self, index: np.ndarray) -> RatingsLog:
        return RatingsLog(self.user[index], self.item[index], self.rating[index], self.timestamp[index])

    def to_events(self, *, kind: str = "rating") -> EventTable:
        """As an event table: ``rating`` becomes the watch-ratio ``value`` of the event."""
        n = len(self)
        return EventTable(
            user=self.user,
            item=self.item,
            kind=np.full(n, kind),
            value=self.rating,
            seconds=np.full(n, np.nan),
            timestamp=self.timestamp.astype(np.float64),
        )


def _read_rows(path: Path, columns: Iterable[tuple[str, tuple[str, ...]]], *, optional: set[str]) -> dict:
    path = Path(path)
    if not path.exists():
        raise ValueError(f"{path}: no such file")
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.reader(fh)
        header = next(reader, None)
        if header is None:
            raise ValueError(f"{path}: empty file (expected a header row)")
        header = [h.strip() for h in header]
        positions: dict[str, int | None] = {}
        for name, aliases in columns:
            pos = next((header.index(a) for a in aliases if a in header), None)
            if pos is None and name not in optional:
                raise ValueError(f"{path}: header {header} has no column {' / '.join(aliases)}")
            positions[name] = pos
        out: dict[str, list] = {name: [] for name in positions}
        for line_no, row in enumerate(reader, start=2):
            if not row:
                continue
            for name, pos in positions.items():
                if pos is None:
                    continue
                try:
                    out[name].append(row[pos])
                except IndexError:
                    raise ValueError(
                        f"{path}:{line_no}: expected {len(header)} fields, got {len(row)}"
                    ) from None
    return {name: values for name, values in out.items() if positions[name] is not None}


def _to_float(values: list[str], path: Path, name: str) -> np.ndarray:
    try:
        arr = np.asarray(values, dtype=np.float64)
    except ValueError:
        bad = next(v for v in values if not _is_float(v))
        raise ValueError(f"{path}: column {name!r} has a non-numeric value {bad!r}") from None
    if np.isnan(arr).any():
        raise ValueError(f"{path}: column {name!r} has {int(np.isnan(arr).sum())} NaN values")
    if (arr < 0).any():
        raise ValueError(f"{path}: column {name!r} has {int((arr < 0).sum())} negative values")
    return arr


def _is_float(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _ids(values: list[str]) -> np.ndarray:
    """Integer ids when every id is an integer (MovieLens, KuaiRec), else strings."""
    try:
        return np.asarray(values, dtype=np.int64)
    except ValueError:
        return np.asarray(values, dtype=str)


def load_ratings_csv(path: str | Path) -> RatingsLog:
    """Read ``user_id,item_id,rating,timestamp`` (``timestamp`` optional: row order is used).

    Also accepts MovieLens' ``userId,movieId`` and KuaiRec's ``video_id,watch_ratio`` names.
    An empty file, a NaN or negative rating / timestamp raises ``ValueError``.  Exact duplicate
    (user, item) rows are kept: the de-noising steps decide what a repeat means.
    """
    path = Path(path)
    cols = _read_rows(
        path,
        [
            ("user", ("user_id", "userId", "user")),
            ("item", ("item_id", "movieId", "video_id", "item")),
            ("rating", ("rating", "watch_ratio", "value")),
            ("timestamp", ("timestamp", "time", "ts")),
        ],
        optional={"timestamp", "rating"},
    )
    n = len(cols["user"])
    if n == 0:
        raise ValueError(f"{path}: no data rows")
    rating = _to_float(cols["rating"], path, "rating") if "rating" in cols else np.ones(n)
    ts = _to_float(cols["timestamp"], path, "timestamp") if "timestamp" in cols else np.arange(n, dtype=float)
    return RatingsLog(user=_ids(cols["user"]), item=_ids(cols["item"]), rating=rating, timestamp=ts)


def write_ratings_csv(path: str | Path, log: RatingsLog) -> None:
    """Write a :class:`RatingsLog` with the header ``user_id,item_id,rating,timestamp``."""
    with Path(path).open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["user_id", "item_id", "rating", "timestamp"])
        for row in zip(
            log.user.tolist(), log.item.tolist(), log.rating.tolist(), log.timestamp.tolist(), strict=True
        ):
            writer.writerow(row)


def load_movielens_small(directory: str | Path) -> tuple[RatingsLog, dict, dict, dict]:
    """MovieLens latest-small: ratings, plus item tags (genres + user tags), titles, groups."""
    directory = Path(directory)
    log = load_ratings_csv(directory / "ratings.csv")
    tags: dict = {}
    titles: dict = {}
    groups: dict = {}
    movies = directory / "movies.csv"
    if movies.exists():
        with movies.open(newline="", encoding="utf-8") as fh:
            for row in csv.DictReader(fh):
                mid = int(row["movieId"])
                titles[mid] = row["title"]
                genres = [g for g in row["genres"].split("|") if g and g != "(no genres listed)"]
                tags[mid] = {f"genre:{g}": 1.0 for g in genres}
                groups[mid] = genres[0] if genres else ""
    tag_file = directory / "tags.csv"
    if tag_file.exists():
        with tag_file.open(newline="", encoding="utf-8") as fh:
            for row in csv.DictReader(fh):
                mid = int(row["movieId"])
                tag = row["tag"].strip().lower()
                if tag:
                    entry = tags.setdefault(mid, {})
                    entry[tag] = entry.get(tag, 0.0) + 1.0
    return log, tags, titles, groups


def load_kuairec(directory: str | Path) -> tuple[RatingsLog, dict, dict, dict]:
    """KuaiRec watch log (rating = watch ratio, no timestamp: row order) plus video side info.

    Tags are the three category levels and the caption hashtags; titles are captions; groups
    are the first-level category names (Chinese).
    """
    directory = Path(directory)
    log = load_ratings_csv(directory / "interactions.csv")
    tags: dict = {}
    titles: dict = {}
    groups: dict = {}
    side = directory / KUAIREC_VIDEOS_FILE
    if side.exists():
        # Titles are one line: a caption broken over lines is joined with a space.
        for video in read_kuairec_videos(side, line_break=" "):
            vid = video.video_id
            levels = (video.category, video.subcategory, video.subsubcategory)
            entry = {f"cat:{name}": 1.0 for name in levels if name}
            entry.update((f"#{tag}", 1.0) for tag in video.topic_tags)
            tags[vid] = entry
            caption = video.caption
            titles[vid] = caption[:30] if caption and caption != "UNKNOWN" else f"视频{vid}"
            groups[vid] = video.category
    return log, tags, titles, groups
