"""Batch jobs: rebuild the interaction artefact, train the TensorFlow model, refresh hot lists.

Every job runs through :func:`job_execute`: it takes a lock (so two workers or a worker and a
manual run never build the same kind at once), records a :class:`JobRun`, writes a new artefact
version and switches readers to it, and prunes old versions.  A failed job leaves the previous
artefact serving and says why in its JobRun.
"""

from __future__ import annotations

import contextlib
import logging
import time
import traceback
import zlib
from collections import defaultdict
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.db.models import Count, Sum
from django.db.models.functions import TruncHour
from django.utils import timezone

from recommender import selectors
from recommender.records import JobRun
from recommender.services.artefacts import artefact_prune, artefact_switch, artefact_write

logger = logging.getLogger(__name__)

Progress = Callable[[str, int, int], None]


def _no_progress(step: str, done: int, total: int) -> None:
    return None


# --------------------------------------------------------------------------- locking


def advisory_key(name: str) -> int:
    return zlib.crc32(f"recommender:{name}".encode())


def lock_cache_key(name: str) -> str:
    return f"recommender:lock:{name}"


@contextlib.contextmanager
def job_lock(*, name: str, ttl_seconds: int = 3600) -> Iterator[bool]:
    """Yield True when this process holds the lock for ``name``, False when someone else does.

    PostgreSQL: a session advisory lock (released even if the worker dies, with its connection).
    Otherwise the cache's atomic ``add`` (Redis ``SET NX EX``, or local memory), which expires
    after ``ttl_seconds`` so a crashed holder cannot block the job for ever.
    """
    if connection.vendor == "postgresql":
        key = advisory_key(name)
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_lock(%s)", [key])
            held = bool(cursor.fetchone()[0])
        try:
            yield held
        finally:
            if held:
                with connection.cursor() as cursor:
                    cursor.execute("SELECT pg_advisory_unlock(%s)", [key])
        return
    cache_key = lock_cache_key(name)
    held = bool(cache.add(cache_key, str(time.time()), ttl_seconds))
    try:
        yield held
    finally:
        if held:
            cache.delete(cache_key)


def job_execute(*, job: str, kind: str | None, build: Callable[[Path], dict]) -> JobRun:
    """Run ``build`` under the job's lock, as a new artefact version of ``kind``, and record it."""
    with job_lock(name=job) as held:
        if not held:
            return JobRun.objects.create(job=job, status=JobRun.Status.SKIPPED, finished_at=timezone.now(),
                                         error="another run of this job holds the lock")
        # Holding the lock, no other run of this job is alive: a row still "running" belongs to a
        # worker that died mid-job (kill -9, OOM, host lost).
        JobRun.objects.filter(job=job, status=JobRun.Status.RUNNING).update(
            status=JobRun.Status.FAILED, finished_at=timezone.now(),
            error="interrupted: the worker stopped before the job finished",
        )
        run = JobRun.objects.create(job=job)
        started = time.perf_counter()
        try:
            if kind is None:
                stats = build(Path(settings.ARTEFACT_ROOT)) or {}
                version = ""
            else:
                version, path, stats = artefact_write(kind=kind, writer=build)
                artefact_switch(kind=kind, version=version, path=path, stats=stats)
                stats = {**stats, "pruned": artefact_prune(kind=kind)}
        except Exception as exc:
            logger.exception("job %s failed", job)
            run.status = JobRun.Status.FAILED
            run.error = f"{exc.__class__.__name__}: {exc}\n{traceback.format_exc(limit=5)}"[:5000]
            run.finished_at = timezone.now()
            run.stats = {"seconds": round(time.perf_counter() - started, 3)}
            run.save(update_fields=["status", "error", "finished_at", "stats"])
            return run
        run.status = JobRun.Status.SUCCEEDED
        run.artefact_version = version
        run.stats = {**stats, "seconds": round(time.perf_counter() - started, 3)}
        run.finished_at = timezone.now()
        run.save(update_fields=["status", "artefact_version", "stats", "finished_at"])
        logger.info("job %s built %s in %.1f s", job, version, run.stats["seconds"])
        return run


# --------------------------------------------------------------------------- shared data prep


def _setting(name: str, default):
    return getattr(settings, name, default)


def interactions_from_database():
    """Events + tags + interests from the database -> ``recommender.data.Interactions``.

    Raises ``ValueError`` (from recommender.data) when there is nothing to learn from.
    """
    from recommender.data import build_interactions

    log, inputs = _training_inputs(behaviour_interests=True)
    return build_interactions(events=log, **inputs)


def _training_inputs(*, behaviour_interests: bool) -> tuple[dict[str, list], dict]:
    """The servable part of the site's event log and the other ``build_interactions`` arguments
    (settings' weights and de-noising, servable items, their tags and categories, viewers' interests).

    ``behaviour_interests=False`` leaves the interests derived from behaviour out of the user tags:
    the offline evaluation needs that, because they are derived from every engagement, held-out ones
    included, and would leak the answer into the content channel; onboarding, comment and manual
    interests stay.
    """
    from recommender.data import DenoiseConfig
    from tagging.models import UserInterest

    servable = selectors.servable_video_ids()
    log = selectors.training_event_log()
    keep = [i for i, item in enumerate(log["item"]) if item in servable]
    log = {name: [col[i] for i in keep] for name, col in log.items()}
    excluded = () if behaviour_interests else (UserInterest.Source.BEHAVIOUR,)
    return log, {
        "weights": settings.EVENT_WEIGHTS,
        "config": DenoiseConfig(
            min_watch_ratio=settings.EVENT_VIEW_MIN_RATIO,
            min_watch_seconds=settings.EVENT_VIEW_MIN_SECONDS,
            half_life=settings.EVENT_HALF_LIFE_DAYS * 86400.0,
        ),
        "item_ids": np.asarray(sorted(servable), dtype=np.int64),
        "item_tags": selectors.video_tag_map(video_ids=servable),
        "user_tags": selectors.user_interest_map(exclude_sources=excluded),
        "item_groups": dict(selectors.Video.objects.filter(id__in=servable).values_list("id", "category")),
    }


def top_candidates(*, channel, interactions, n: int, chunk: int = 256, progress: Progress = _no_progress,
                   label: str = "") -> sp.csr_matrix:
    """Per user row, the channel's top ``n`` items (already-interacted items excluded), as CSR."""
    from recommender.base import top_n

    seen = interactions.matrix.tocsr()
    if interactions.negatives is not None:
        seen = (seen + abs(interactions.negatives)).tocsr()
    n_users, n_items = interactions.n_users, interactions.n_items
    data, indices, indptr = [], [], [0]
    for start in range(0, n_users, chunk):
        rows = np.arange(start, min(start + chunk, n_users))
        scores = np.asarray(channel.score(rows), dtype=np.float32)
        block = seen[rows]
        scores[np.repeat(np.arange(len(rows)), np.diff(block.indptr)), block.indices] = -np.inf
        cols = top_n(scores, n)
        vals = np.take_along_axis(scores, cols, axis=1)
        for r in range(len(rows)):
            keep = np.isfinite(vals[r]) & (vals[r] > 0)
            indices.append(cols[r][keep].astype(np.int32))
            data.append(vals[r][keep].astype(np.float32))
            indptr.append(indptr[-1] + int(keep.sum()))
        progress(label, int(rows[-1]) + 1, n_users)
    return sp.csr_matrix(
        (np.concatenate(data) if data else np.zeros(0, np.float32),
         np.concatenate(indices) if indices else np.zeros(0, np.int32), np.asarray(indptr)),
        shape=(n_users, n_items),
    )


def _save_candidates(path: Path, candidates: dict[str, sp.csr_matrix], interactions) -> None:
    arrays = {"user_ids": np.asarray(interactions.user_ids), "item_ids": np.asarray(interactions.item_ids)}
    for name, matrix in candidates.items():
        arrays[f"{name}_data"] = matrix.data
        arrays[f"{name}_indices"] = matrix.indices
        arrays[f"{name}_indptr"] = matrix.indptr
    arrays["channels"] = np.asarray(list(candidates), dtype=str)
    np.savez(path / "candidates.npz", **arrays)


# --------------------------------------------------------------------------- the jobs


def interactions_rebuild(*, progress: Progress = _no_progress) -> JobRun:
    """Interaction matrix -> item-CF / user-CF / content (/ EASE) channels + per-user candidate lists."""

    def build(path: Path) -> dict:
        from recommender.channels import EASE, ContentChannel, ItemCF, UserCF

        progress("events", 0, 1)
        interactions = interactions_from_database()
        progress("events", 1, 1)
        n_top = int(_setting("RECOMMENDER_CANDIDATES_PER_USER", 100))
        channels = {
            "itemcf": ItemCF(k=int(_setting("RECOMMENDER_ITEMCF_K", 100)), n_threads=1),
            "usercf": UserCF(k=int(_setting("RECOMMENDER_USERCF_K", 50)), n_threads=1),
        }
        if interactions.n_items <= int(_setting("RECOMMENDER_EASE_MAX_ITEMS", 4000)):
            # lambda relative to the mean item weight: the site's rows are watch-ratio weighted and
            # per-user normalised like KuaiRec's, where validation picked lam_scale 3 (docs/recommender.md);
            # an absolute lambda tuned on binary data over-regularises such a matrix.
            channels["ease"] = EASE(lam_scale=float(_setting("RECOMMENDER_EASE_LAMBDA_SCALE", 3.0)))
        has_tags = interactions.item_features is not None and interactions.item_features.shape[1] > 0
        if has_tags:
            channels["content"] = ContentChannel()
        candidates = {}
        fit_seconds = {}
        for name, channel in channels.items():
            started = time.perf_counter()
            channel.fit(interactions)
            fit_seconds[name] = round(time.perf_counter() - started, 3)
            candidates[name] = top_candidates(channel=channel, interactions=interactions, n=n_top,
                                              progress=progress, label=name)
            if name in ("itemcf", "content"):  # serving needs their neighbours / tag vectors
                channel.save(path / name)
        _save_candidates(path, candidates, interactions)
        return {
            "users": interactions.n_users,
            "items": interactions.n_items,
            "nnz": int(interactions.matrix.nnz),
            "channels": list(channels),
            "fit_seconds": fit_seconds,
        }

    return job_execute(job="interactions_rebuild", kind="interactions", build=build)


def model_train(*, progress: Progress = _no_progress) -> JobRun:
    """Train the TensorFlow model (lazily imported) and export embeddings + per-user candidates."""

    def build(path: Path) -> dict:
        try:
            import tensorflow  # noqa: F401  (fail here, clearly, when TensorFlow is missing)

            from recommender.models.mf import TFMatrixFactorization
        except ImportError as exc:
            raise RuntimeError(f"TensorFlow is not available: {exc}") from exc
        progress("events", 0, 1)
        interactions = interactions_from_database()
        progress("events", 1, 1)
        model = TFMatrixFactorization(
            dim=int(_setting("RECOMMENDER_TF_DIM", 32)),
            epochs=int(_setting("RECOMMENDER_TF_EPOCHS", 10)),
            batch_size=int(_setting("RECOMMENDER_TF_BATCH", 512)),
        )
        progress("train", 0, 1)
        model.fit(interactions)
        progress("train", 1, 1)
        candidates = {"tf": top_candidates(channel=model, interactions=interactions,
                                           n=int(_setting("RECOMMENDER_CANDIDATES_PER_USER", 100)),
                                           progress=progress, label="tf")}
        model.save(path / "tf")
        _save_candidates(path, candidates, interactions)
        return {"users": interactions.n_users, "items": interactions.n_items,
                "fit_seconds": round(model.fit_seconds or 0.0, 3),
                "final_loss": model.loss_history[-1] if model.loss_history else None}

    return job_execute(job="model_train", kind="model", build=build)


def _demographic_keys(age: str | None, gender: str | None) -> list[str]:
    """The group itself plus its coarser parents, so a viewer who gave only one of the two is served."""
    age, gender = age or "*", gender or "*"
    keys = {f"{age}:{gender}", f"{age}:*", f"*:{gender}"}
    keys.discard("*:*")
    return sorted(keys)


def hot_compute(*, now=None, window_days: float | None = None, half_life_hours: float | None = None,
                limit: int = 200) -> dict:
    """Time-decayed engagement per video: global, per category, per demographic group; hot uploaders.

    Aggregated in the database per (video, kind, hour, viewer group) so the job reads thousands of
    rows, not the raw log.  Likes and favourites come from their tables (current state, an unlike
    removes it); the other kinds from the event log.
    """
    from videoapp.models import Event, Favourite, Like, Video

    now = now or timezone.now()
    window_days = window_days if window_days is not None else float(_setting("RECOMMENDER_HOT_WINDOW_DAYS", 30))
    half_life = 3600.0 * (half_life_hours if half_life_hours is not None
                          else float(_setting("RECOMMENDER_HOT_HALF_LIFE_HOURS", 72)))
    since = now - timedelta(days=window_days)
    weights = settings.EVENT_WEIGHTS
    servable = selectors.servable_video_ids()
    video_meta = dict(Video.objects.filter(id__in=servable).values_list("id", "category"))
    owners = dict(Video.objects.filter(id__in=servable).values_list("id", "owner_id"))

    rows: list[tuple[int, float, float, str | None, str | None]] = []  # video, weight, ts, age, gender
    event_kinds = [k for k, w in weights.items() if w and k not in ("like", "favourite")]
    events = (
        Event.objects.filter(created_at__gte=since, kind__in=event_kinds, video__isnull=False)
        .annotate(hour=TruncHour("created_at"))
        .values("video_id", "kind", "hour", "user__profile__age_range", "user__profile__gender")
        .annotate(n=Count("id"), ratio=Sum("watch_ratio"))
    )
    for row in events.iterator(chunk_size=20_000):
        strength = row["n"]
        if row["kind"] == "view" and row["ratio"] is not None:
            strength = min(float(row["ratio"]), 2.0 * row["n"])  # a replay counts at most twice
        rows.append((row["video_id"], weights[row["kind"]] * strength, row["hour"].timestamp(),
                     row["user__profile__age_range"], row["user__profile__gender"]))
    for model, kind in ((Like, "like"), (Favourite, "favourite")):
        marks = (
            model.objects.filter(created_at__gte=since)
            .annotate(hour=TruncHour("created_at"))
            .values("video_id", "hour", "user__profile__age_range", "user__profile__gender")
            .annotate(n=Count("id"))
        )
        for row in marks.iterator(chunk_size=20_000):
            rows.append((row["video_id"], weights.get(kind, 1.0) * row["n"], row["hour"].timestamp(),
                         row["user__profile__age_range"], row["user__profile__gender"]))

    global_scores: dict[int, float] = defaultdict(float)
    group_scores: dict[str, dict[int, float]] = defaultdict(lambda: defaultdict(float))
    now_ts = now.timestamp()
    for video_id, weight, ts, age, gender in rows:
        if video_id not in video_meta:
            continue
        value = weight * 0.5 ** (max(now_ts - ts, 0.0) / half_life)
        global_scores[video_id] += value
        if age or gender:
            for key in _demographic_keys(age, gender):
                group_scores[key][video_id] += value

    def top(scores: dict[int, float]) -> list[list]:
        ranked = sorted(((v, s) for v, s in scores.items() if s > 0), key=lambda p: (-p[1], -p[0]))[:limit]
        return [[int(v), round(float(s), 6)] for v, s in ranked]

    by_category: dict[str, dict[int, float]] = defaultdict(dict)
    uploader_scores: dict[int, float] = defaultdict(float)
    for video_id, score in global_scores.items():
        if video_meta.get(video_id):
            by_category[video_meta[video_id]][video_id] = score
        uploader_scores[owners[video_id]] += max(score, 0.0)
    return {
        "global": top(global_scores),
        "category": {cat: top(scores) for cat, scores in by_category.items()},
        "group": {key: top(scores) for key, scores in group_scores.items()},
        "uploaders": top(uploader_scores)[:100],
        "window_days": window_days,
        "half_life_hours": half_life / 3600.0,
        "computed_at": now.isoformat(),
    }


def hot_refresh(*, progress: Progress = _no_progress) -> JobRun:
    """Refresh the hot lists artefact (cheap; runs every few minutes)."""
    import json

    def build(path: Path) -> dict:
        progress("hot", 0, 1)
        hot = hot_compute()
        (path / "hot.json").write_text(json.dumps(hot, ensure_ascii=False))
        progress("hot", 1, 1)
        return {"global": len(hot["global"]), "categories": len(hot["category"]), "groups": len(hot["group"]),
                "uploaders": len(hot["uploaders"])}

    run = job_execute(job="hot_refresh", kind="hot", build=build)
    # The served queues' servable set, rebuilt in full: the safety net under the on-commit updates.
    from recommender.services.feed_queue import servable_set_sync

    try:
        servable_set_sync()
    except Exception as exc:  # Redis down: the queues miss and the feed takes the database path
        logger.warning("hot refresh: servable set not synced (%s)", exc.__class__.__name__)
    return run


JOBS: dict[str, Callable[..., JobRun]] = {
    "interactions_rebuild": interactions_rebuild,
    "model_train": model_train,
    "hot_refresh": hot_refresh,
}


# --------------------------------------------------------------------------- offline evaluation

OFFLINE_EVALUATE_K = 10
OFFLINE_EVALUATE_METRICS = ("ndcg", "recall", "hr", "coverage")


def _evaluation_inputs() -> tuple[dict[str, list], dict]:
    """What the offline evaluation builds interactions from: the training inputs without the
    behaviour interests (see :func:`_training_inputs`)."""
    return _training_inputs(behaviour_interests=False)


def offline_evaluate(*, progress: Progress = _no_progress, k: int = OFFLINE_EVALUATE_K, seed: int = 42) -> JobRun:
    """Recall@k / NDCG@k / HR@k / coverage of the cheap channels on a holdout of the site's own events.

    The split is the harness's (``recommender.evaluation.split_per_user``: per viewer a seeded 25 %),
    made over distinct (viewer, video) pairs so that a like and a view of the same video never land on
    both sides.  Relevant = held-out pairs the production pipeline counts as positive (de-noised,
    not disliked); the viewer's train videos are excluded from the ranking, which is over the whole
    servable catalogue.  The TensorFlow model is not evaluated here (too slow for a periodic job; use
    ``manage.py evaluate``).  Writes no artefact: the figures go to the JobRun's ``stats["metrics"]``.
    """

    def build(_root: Path) -> dict:
        from recommender import evaluation
        from recommender.channels import EASE, ContentChannel, ItemCF, UserCF
        from recommender.data import RatingsLog, build_interactions
        from recommender.hot import HotChannel

        progress("events", 0, 1)
        log, inputs = _evaluation_inputs()
        progress("events", 1, 1)
        full = build_interactions(events=log, **inputs)  # raises ValueError on an empty log
        users = np.asarray(log["user"], dtype=np.int64)
        items = np.asarray(log["item"], dtype=np.int64)
        pairs, pair_of_event = np.unique(np.stack([users, items], axis=1), axis=0, return_inverse=True)
        pair_of_event = pair_of_event.ravel()
        pair_log = RatingsLog(pairs[:, 0], pairs[:, 1], np.ones(len(pairs)), np.zeros(len(pairs)))
        train_pairs, test_pairs = evaluation.split_per_user(pair_log, test_fraction=0.25, seed=seed)
        in_train = np.isin(pair_of_event, train_pairs)
        train = build_interactions(events={name: [v for v, t in zip(col, in_train, strict=True) if t]
                                           for name, col in log.items()}, **inputs)

        uidx, iidx = train.user_index, train.item_index
        rows = np.asarray([uidx[u] for u in pairs[train_pairs, 0].tolist()], dtype=np.int64)
        cols = np.asarray([iidx[i] for i in pairs[train_pairs, 1].tolist()], dtype=np.int64)
        exclude = sp.csr_matrix((np.ones(len(rows), np.float32), (rows, cols)), shape=train.matrix.shape)
        positive = full.matrix.tocsr()
        relevant: dict[int, set[int]] = defaultdict(set)
        for user, item in pairs[test_pairs].tolist():
            if user in uidx and positive[full.user_index[user], full.item_index[item]] > 0:
                relevant[uidx[user]].add(iidx[item])
        fold_users = np.asarray(sorted(relevant), dtype=np.int64)
        if not len(fold_users):
            raise ValueError("no viewer has a held-out positive interaction: nothing to evaluate yet")
        fold = evaluation.Fold(train, exclude, fold_users, [np.asarray(sorted(relevant[u])) for u in fold_users])

        # The channels of interactions_rebuild, with the same settings, plus hot; not the TensorFlow model.
        channels = {
            "itemcf": ItemCF(k=int(_setting("RECOMMENDER_ITEMCF_K", 100)), n_threads=1),
            "usercf": UserCF(k=int(_setting("RECOMMENDER_USERCF_K", 50)), n_threads=1),
        }
        if train.n_items <= int(_setting("RECOMMENDER_EASE_MAX_ITEMS", 4000)):
            channels["ease"] = EASE(lam_scale=float(_setting("RECOMMENDER_EASE_LAMBDA_SCALE", 3.0)))
        if train.item_features is not None and train.item_features.shape[1] > 0:
            channels["content"] = ContentChannel()
        channels["hot"] = HotChannel()
        metrics: dict[str, dict[str, float]] = {}
        for done, (name, channel) in enumerate(channels.items()):
            progress("channels", done, len(channels))
            channel.fit(train)
            top_items, top_scores = evaluation.rank(channel, fold, n=k, progress=False)
            found = evaluation.metrics_from_top(fold, top_items, top_scores, k)
            metrics[name] = {metric: round(float(found[metric]), 4) for metric in OFFLINE_EVALUATE_METRICS}
        progress("channels", len(channels), len(channels))
        return {"metrics": metrics, "users": len(fold_users), "k": k, "items": train.n_items,
                "held_out_pairs": int(sum(len(r) for r in relevant.values()))}

    return job_execute(job="offline_evaluate", kind=None, build=build)


JOBS["offline_evaluate"] = offline_evaluate
