"""Soak test: mixed traffic at a fixed rate against gunicorn + PostgreSQL + Redis + a Celery worker.

    python bench/soak.py --minutes 10 --rate 8      # the full run
    python bench/soak.py --minutes 2                # a short one

On a database of its own (``soak_<pid>``, dropped at the end) with a small KuaiRec import, it starts
gunicorn (2 workers) and a Celery worker, then sends requests at ``--rate`` per second from a pool of
threads: feed (30 %), watch pages (25 %), event beacons of 2 events (25 %), video API (10 %), comments
(8 %) and uploads of a 1-second MP4 (2 %).  At the end it checks:

- 0 errors (any 5xx, connection error or unexpected 4xx counts);
- every event the server accepted is in PostgreSQL (count of the sent event ids);
- memory (RSS) of every process after warm-up (the first 20 %) against the end: growth in MB;
- p50 / p99 latency per endpoint.

Rate limits are raised for the run (the traffic comes from a handful of accounts).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import defaultdict
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parent.parent
PARSER = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
PARSER.add_argument("--minutes", type=float, default=10.0)
PARSER.add_argument("--rate", type=float, default=8.0, help="requests per second (default 8)")
PARSER.add_argument("--users", type=int, default=60, help="KuaiRec viewers to import")
PARSER.add_argument("--port", type=int, default=18765)
PARSER.add_argument("--pg-url", default="postgres://postgres@127.0.0.1:5432")
PARSER.add_argument("--redis", default="redis://127.0.0.1:6379")
ARGS = PARSER.parse_args()

TMP = Path(tempfile.mkdtemp(prefix="soak-"))
DB_NAME = f"soak_{os.getpid()}"
QUEUE = f"soak-{os.getpid()}"
ENV = dict(os.environ)
ENV.update({
    "DATABASE_URL": f"{ARGS.pg_url}/{DB_NAME}", "REDIS_URL": f"{ARGS.redis}/8",
    "CELERY_BROKER_URL": f"{ARGS.redis}/9", "CELERY_RESULT_BACKEND": f"{ARGS.redis}/9",
    "CELERY_TASK_DEFAULT_QUEUE": QUEUE, "ARTEFACT_ROOT": str(TMP / "artefacts"), "MEDIA_ROOT": str(TMP / "media"),
    "DJANGO_SETTINGS_MODULE": "videoapp.settings", "LOG_LEVEL": "WARNING", "DEBUG": "1",
    "THROTTLE_LOGIN": "100000/min", "THROTTLE_COMMENT": "100000/min", "THROTTLE_TAG": "100000/min",
    "THROTTLE_EVENTS": "100000/min", "THROTTLE_UPLOAD": "100000/hour", "THROTTLE_REGISTER": "100000/hour",
})
os.environ.update(ENV)
sys.path.insert(0, str(REPO))
BASE = f"http://127.0.0.1:{ARGS.port}"


def admin_sql(sql: str) -> None:
    import psycopg

    with psycopg.connect(f"{ARGS.pg_url}/postgres", autocommit=True) as conn:
        conn.execute(sql)


def setup() -> dict:
    admin_sql(f'CREATE DATABASE "{DB_NAME}"')
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from rest_framework.authtoken.models import Token

    from recommender.services import jobs
    from videoapp.models import Video

    call_command("migrate", verbosity=0)
    call_command("import_kuairec", limit_users=ARGS.users, no_progress=True, verbosity=0)
    for job in (jobs.interactions_rebuild, jobs.hot_refresh):
        job()
    users = []
    for index in range(6):
        user = get_user_model().objects.create_user(username=f"soak{index}", password="Sturdy-pass-42")
        users.append(Token.objects.create(user=user).key)
    videos = list(Video.objects.published().values_list("pk", flat=True)[:300])
    from tests.videoapp.videofiles import make_video

    clip = make_video(TMP / "clip.mp4", seconds=1.0).read_bytes()
    return {"tokens": users, "videos": videos, "clip": clip}


def start(cmd: list[str], log: str) -> subprocess.Popen:
    return subprocess.Popen(cmd, cwd=REPO, env=ENV, stdout=open(TMP / log, "w"), stderr=subprocess.STDOUT)  # noqa: SIM115


def children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def percentiles(values: list[float]) -> dict:
    ordered = sorted(values)
    return {"n": len(ordered), "p50": round(1000 * ordered[len(ordered) // 2], 1),
            "p99": round(1000 * ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))], 1)}


def main() -> int:
    world = setup()
    gunicorn = start([sys.executable, "-m", "gunicorn", "videoapp.wsgi", "-w", "2", "-b", f"127.0.0.1:{ARGS.port}",
                      "--timeout", "60"], "gunicorn.log")
    worker = start([sys.executable, "-m", "celery", "-A", "videoapp", "worker", "--pool", "solo", "-Q", QUEUE,
                    "--loglevel", "WARNING", "--without-gossip", "--without-mingle", "--without-heartbeat"],
                   "worker.log")
    latencies: dict[str, list[float]] = defaultdict(list)
    errors: list[tuple] = []
    sent_events: list[str] = []
    memory: dict[str, list[float]] = defaultdict(list)
    lock = threading.Lock()
    try:
        for _ in range(120):
            if gunicorn.poll() is not None:
                raise RuntimeError(f"gunicorn exited: {(TMP / 'gunicorn.log').read_text()[-2000:]}")
            try:
                if requests.get(f"{BASE}/api/v1/health/live", timeout=2).ok:
                    break
            except requests.RequestException:
                pass
            time.sleep(0.5)
        else:
            raise RuntimeError("gunicorn did not answer in 60 s")
        sessions = [requests.Session() for _ in world["tokens"]]
        for session, token in zip(sessions, world["tokens"], strict=True):
            session.headers["Authorization"] = f"Token {token}"

        def one(kind: str) -> None:
            session = random.choice(sessions)
            video = random.choice(world["videos"])
            began = time.monotonic()
            try:
                if kind == "feed":
                    response = session.get(f"{BASE}/api/v1/feed", timeout=30)
                elif kind == "watch page":
                    response = requests.get(f"{BASE}/watch/{video}/", timeout=30)
                elif kind == "video api":
                    response = session.get(f"{BASE}/api/v1/videos/{video}/", timeout=30)
                elif kind == "events":
                    ids = [str(uuid.uuid4()) for _ in range(2)]
                    items = [{"event_id": ids[0], "video": video, "kind": "impression"},
                             {"event_id": ids[1], "video": video, "kind": "view", "watch_ratio": 0.5}]
                    response = session.post(f"{BASE}/api/v1/events/beacon", json={"events": items}, timeout=30)
                    if response.status_code == 200:
                        with lock:
                            sent_events.extend(ids[: response.json()["accepted"]])
                elif kind == "comment":
                    response = session.post(f"{BASE}/api/v1/videos/{video}/comments", json={"text": "好看，学到了"},
                                            timeout=30)
                else:
                    response = session.post(f"{BASE}/api/v1/videos/", files={"file": ("c.mp4", world["clip"])},
                                            data={"title": "soak"}, timeout=60)
                status = response.status_code
                detail = response.text[:120] if status >= 400 else ""
            except requests.RequestException as exc:
                status, detail = type(exc).__name__, str(exc)[:120]
            elapsed = time.monotonic() - began
            with lock:
                latencies[kind].append(elapsed)
                if not isinstance(status, int) or status >= 400:
                    errors.append((kind, status, detail))

        mix = ["feed"] * 30 + ["watch page"] * 25 + ["events"] * 25 + ["video api"] * 10 + ["comment"] * 8 + \
              ["upload"] * 2
        duration = ARGS.minutes * 60
        started = time.monotonic()
        next_sample = started
        sent = 0
        threads: list[threading.Thread] = []
        while (now := time.monotonic()) - started < duration:
            due = int((now - started) * ARGS.rate)
            while sent < due:
                thread = threading.Thread(target=one, args=(random.choice(mix),), daemon=True)
                thread.start()
                threads.append(thread)
                sent += 1
            if now >= next_sample:
                pids = {"gunicorn master": gunicorn.pid, "celery worker": worker.pid}
                for index, child in enumerate(children(gunicorn.pid)):
                    pids[f"gunicorn worker {index}"] = child
                for name, pid in pids.items():
                    memory[name].append(rss_mb(pid))
                next_sample = now + 10
            threads = [t for t in threads if t.is_alive()]
            time.sleep(0.02)
        for thread in threads:
            thread.join(timeout=60)
        time.sleep(3)  # let the worker finish the uploads' processing
        from videoapp.models import Event

        stored = sum(Event.objects.filter(event_id__in=sent_events[i:i + 1000]).count()
                     for i in range(0, len(sent_events), 1000))
        report = {
            "minutes": ARGS.minutes, "rate_per_second": ARGS.rate, "requests": sent,
            "errors": len(errors), "error_samples": errors[:10],
            "events_accepted": len(sent_events), "events_in_db": stored,
            "latency_ms": {kind: percentiles(values) for kind, values in sorted(latencies.items())},
            "rss_mb": {name: {"after_warmup": round(values[len(values) // 5], 1), "end": round(values[-1], 1)}
                       for name, values in memory.items() if values},
        }
        print(json.dumps(report, ensure_ascii=False, indent=1))
        if errors:
            print((TMP / "gunicorn.log").read_text()[-3000:], file=sys.stderr)
        return 0 if not errors and stored == len(sent_events) else 1
    finally:
        for proc in (gunicorn, worker):
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
        from django.db import connections

        connections.close_all()
        admin_sql(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
        shutil.rmtree(TMP, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
