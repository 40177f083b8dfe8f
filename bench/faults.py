"""Fault injection against PostgreSQL + Redis + a real Celery worker (not part of `make test`: it stops services).

    python bench/faults.py            # the full run: 10 kills per batch job
    python bench/faults.py --n 2      # a quick run
    python bench/faults.py --skip-postgres   # leave the shared PostgreSQL alone

What it does, on a database of its own (``faults_<pid>``, dropped at the end) with a small KuaiRec import:

1. ``kill -9`` the Celery worker in the middle of each batch job (interactions_rebuild, model_train,
   hot_refresh), ``--n`` times each; after each kill: the previous artefact is still the current one
   and readable, a new worker and the next run finish the job, no artefact version is recorded twice.
2. The same job started twice at once (two threads): one runs, the other is recorded as skipped.
3. Redis down: the runner's cache/exposure Redis is a private ``redis-server`` on port 6390 that it starts
   and stops itself (the shared Redis on 6379 keeps serving other people); pages, the feed and the event
   beacon are requested while it is down; every accepted event must be in PostgreSQL; then Redis returns
   and the same process uses it again without a restart.
4. PostgreSQL restarted under load (``pg_ctlcluster ... restart``): requests fail cleanly (503 with
   Retry-After, never a hang) and recover without a restart.
5. A corrupt, then a missing model artefact: the feed answers 200 with ``source`` fallback/stale, an
   error is logged, no 500.

Every service it stops is started again (``finally``).  Prints one line per scenario and a JSON summary.
"""

from __future__ import annotations

import argparse
import json
import logging
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
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PRIVATE_REDIS_PORT = 6390
BATCH_JOBS = ("recommender.interactions_rebuild", "recommender.model_train", "recommender.hot_refresh")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=10, help="kills per batch job (default 10)")
    parser.add_argument("--users", type=int, default=60, help="KuaiRec viewers to import (default 60)")
    parser.add_argument("--skip-postgres", action="store_true", help="do not restart PostgreSQL")
    parser.add_argument("--skip-redis", action="store_true", help="no Redis outage")
    parser.add_argument("--only-postgres", action="store_true", help="only the PostgreSQL restart")
    parser.add_argument("--pg-url", default="postgres://postgres@127.0.0.1:5432")
    parser.add_argument("--broker", default="redis://127.0.0.1:6379/7")
    return parser.parse_args()


ARGS = parse_args()
TMP = Path(tempfile.mkdtemp(prefix="faults-"))
DB_NAME = f"faults_{os.getpid()}"
QUEUE = f"faults-{os.getpid()}"
os.environ.update({
    "DATABASE_URL": f"{ARGS.pg_url}/{DB_NAME}",
    "REDIS_URL": f"redis://127.0.0.1:{PRIVATE_REDIS_PORT}/0",
    "CELERY_BROKER_URL": ARGS.broker,
    "CELERY_RESULT_BACKEND": ARGS.broker,
    "CELERY_TASK_DEFAULT_QUEUE": QUEUE,
    "ARTEFACT_ROOT": str(TMP / "artefacts"),
    "MEDIA_ROOT": str(TMP / "media"),
    "DJANGO_SETTINGS_MODULE": "videoapp.settings",
    "LOG_LEVEL": "WARNING",
    "DB_CONN_MAX_AGE": "0",
})
sys.path.insert(0, str(REPO))


def admin_sql(sql: str) -> None:
    import psycopg

    with psycopg.connect(f"{ARGS.pg_url}/postgres", autocommit=True) as conn:
        conn.execute(sql)


def private_redis(action: str) -> None:
    if action == "start":
        subprocess.run(["redis-server", "--port", str(PRIVATE_REDIS_PORT), "--bind", "127.0.0.1", "--daemonize",
                        "yes", "--save", "", "--appendonly", "no", "--pidfile", str(TMP / "redis.pid")], check=True)
        for _ in range(50):
            if subprocess.run(["redis-cli", "-p", str(PRIVATE_REDIS_PORT), "ping"], capture_output=True,
                              text=True).stdout.strip() == "PONG":
                return
            time.sleep(0.1)
        raise RuntimeError("private redis did not start")
    subprocess.run(["redis-cli", "-p", str(PRIVATE_REDIS_PORT), "shutdown", "nosave"], capture_output=True)


class Worker:
    """One ``celery worker --pool solo`` process on the runner's own queue."""

    def __init__(self) -> None:
        self.proc: subprocess.Popen | None = None
        self.log = TMP / "worker.log"

    def start(self) -> None:
        with open(self.log, "a") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "celery", "-A", "videoapp", "worker", "--pool", "solo", "-Q", QUEUE,
                 "--loglevel", "INFO", "--without-gossip", "--without-mingle", "--without-heartbeat"],
                cwd=REPO, env=dict(os.environ), stdout=log, stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if "ready." in self.log.read_text():
                return
            time.sleep(0.2)
        raise RuntimeError("worker did not become ready")

    def kill9(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        self.log.write_text("")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill9()


def setup_database() -> None:
    admin_sql(f'CREATE DATABASE "{DB_NAME}"')
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    call_command("import_kuairec", limit_users=ARGS.users, no_progress=True, verbosity=0)


def current_versions() -> dict[str, str]:
    from recommender.records import ArtefactVersion

    return dict(ArtefactVersion.objects.values_list("kind", "version"))


def wait_for(predicate, *, timeout: float, step: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return False


def scenario_kill_workers(results: dict) -> None:
    from django.db import close_old_connections

    from recommender.records import JobRun
    from recommender.services import jobs
    from videoapp.celery import app

    for run in (jobs.interactions_rebuild, jobs.hot_refresh, jobs.model_train):  # a previous artefact of each
        run()
    worker = Worker()
    for name in BATCH_JOBS:
        job = name.split(".", 1)[1]
        stats = {"kills": 0, "killed_while_running": 0, "recovered": 0, "previous_served": 0, "duplicates": 0}
        for _attempt in range(ARGS.n):
            close_old_connections()
            before = current_versions()
            started = JobRun.objects.filter(job=job).count()
            worker.start()
            app.send_task(name, queue=QUEUE)
            running = wait_for(lambda job=job, started=started: JobRun.objects.filter(job=job).count() > started,
                               timeout=60)
            time.sleep(random.uniform(0.0, 0.3))  # somewhere inside the job
            worker.kill9()
            stats["kills"] += 1
            latest = JobRun.objects.filter(job=job).order_by("-id").first()
            stats["killed_while_running"] += int(running and latest is not None and latest.status == "running")
            # Meanwhile the previous artefact is still current and readable.
            after = current_versions()
            served = all(after.get(kind) in (version, None) or (TMP / "artefacts" / kind / after[kind]).exists()
                         for kind, version in before.items())
            stats["previous_served"] += int(served)
            # The next run (a fresh worker) finishes the job: the killed holder's advisory lock died with it.
            worker.start()
            result = app.send_task(name, queue=QUEUE)
            outcome = result.get(timeout=300)
            stats["recovered"] += int(outcome.get("status") == JobRun.Status.SUCCEEDED)
            worker.stop()
        versions = list(JobRun.objects.filter(job=job).exclude(artefact_version="")
                        .values_list("artefact_version", flat=True))
        stats["duplicates"] = len(versions) - len(set(versions))
        results[f"kill -9 during {job}"] = stats
        print(f"kill -9 during {job}: {stats}", flush=True)


def scenario_concurrent(results: dict) -> None:
    from django.db import connection

    from recommender.services import jobs

    outcomes: list[str] = []

    def run() -> None:
        try:
            outcomes.append(jobs.interactions_rebuild().status)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    results["same job twice at once"] = {"outcomes": sorted(outcomes)}
    print(f"same job twice at once: {sorted(outcomes)}", flush=True)


def _client(user=None):
    from django.test import Client

    client = Client(raise_request_exception=False, HTTP_HOST="127.0.0.1")
    if user is not None:
        client.force_login(user)
    return client


def scenario_redis_down(results: dict) -> None:
    from django.contrib.auth import get_user_model
    from django.core.cache import cache

    from videoapp.models import Event, Video

    video = Video.objects.published().first()
    viewer = get_user_model().objects.filter(is_staff=False).order_by("pk").first()
    private_redis("stop")
    statuses, sources, sent = [], [], []
    try:
        client = _client(viewer)
        started = time.monotonic()
        for _ in range(5):
            statuses.append(client.get("/").status_code)
            statuses.append(client.get(f"/watch/{video.pk}/").status_code)
            feed = client.get("/api/v1/feed")
            statuses.append(feed.status_code)
            if feed.status_code == 200:
                body = feed.json()
                sources.append((body.get("source"), body.get("exposure_filter"), body.get("degraded")))
            batch = [{"event_id": str(uuid.uuid4()), "video": video.pk, "kind": "impression"} for _ in range(3)]
            response = client.post("/api/v1/events/beacon", {"events": batch}, content_type="application/json")
            statuses.append(response.status_code)
            if response.status_code == 200:
                sent.extend(item["event_id"] for item in batch)
        seconds = time.monotonic() - started
    finally:
        private_redis("start")
    stored = Event.objects.filter(event_id__in=sent).count()
    cache.set("faults:probe", 1, 30)
    recovered = cache.get("faults:probe") == 1
    results["redis down"] = {"requests": len(statuses), "non_2xx": sum(s >= 300 for s in statuses),
                             "events_sent": len(sent), "events_in_db": stored, "feed_sources": sources[:2],
                             "seconds": round(seconds, 2), "recovered_without_restart": recovered}
    print(f"redis down: {results['redis down']}", flush=True)


def scenario_postgres_restart(results: dict) -> None:
    from videoapp.models import Video

    video = Video.objects.published().first()
    cluster = os.listdir("/etc/postgresql")[0]
    counts: dict[str, int] = {}
    slowest = 0.0
    stop = threading.Event()

    def load() -> None:
        nonlocal slowest
        from django.db import close_old_connections, connection

        client = _client()
        while not stop.is_set():
            for url in ("/api/v1/feed", f"/watch/{video.pk}/", f"/api/v1/videos/{video.pk}/"):
                began = time.monotonic()
                # What a server does around every request (Django's test client switches these signals off):
                # a connection broken by the restart is dropped, the next request opens a new one.
                close_old_connections()
                status = client.get(url).status_code
                close_old_connections()
                slowest = max(slowest, time.monotonic() - began)
                counts[str(status)] = counts.get(str(status), 0) + 1
            time.sleep(0.05)
        connection.close()

    threads = [threading.Thread(target=load) for _ in range(2)]
    for thread in threads:
        thread.start()
    time.sleep(2)
    began = time.monotonic()
    try:
        subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", cluster, "main", "restart"], check=True,
                       timeout=120)
    finally:
        outage = time.monotonic() - began
    time.sleep(3)
    stop.set()
    for thread in threads:
        thread.join()
    from django.db import close_old_connections

    close_old_connections()
    after = _client().get("/api/v1/feed").status_code
    results["postgresql restart"] = {"statuses": counts, "restart_seconds": round(outage, 1),
                                     "slowest_request_seconds": round(slowest, 2), "after": after}
    print(f"postgresql restart: {results['postgresql restart']}", flush=True)


def scenario_corrupt_artefact(results: dict) -> None:
    from django.contrib.auth import get_user_model

    from recommender.records import ArtefactVersion
    from recommender.services.serving import serving_caches_clear

    user = get_user_model().objects.filter(is_staff=False).order_by("pk").first()
    logged: list[tuple[str, str]] = []

    class Capture(logging.Handler):
        def emit(self, record) -> None:
            if record.levelno >= logging.WARNING and record.name.startswith("recommender"):
                logged.append((record.levelname, record.getMessage()[:100]))

    handler = Capture(level=logging.WARNING)
    root = logging.getLogger()
    root.addHandler(handler)
    outcome = {}
    current = [Path(row.path) for row in ArtefactVersion.objects.all()]
    every = [version for path in current for version in path.parent.iterdir() if version.is_dir()]
    try:
        for damage, folders in (("corrupt current", current), ("corrupt every version", every),
                                ("missing every version", every)):
            for folder in folders:
                for file in list(folder.rglob("*")):
                    if file.is_file() and file.name != "meta.json":
                        if damage.startswith("corrupt"):
                            file.write_bytes(b"\x00garbage" * 10)
                        else:
                            file.unlink()
            serving_caches_clear()
            response = _client(user).get("/api/v1/feed")
            body = response.json() if response.status_code == 200 else {}
            outcome[damage] = {"status": response.status_code, "source": body.get("source"),
                               "degraded": [text[:90] for text in body.get("degraded", [])],
                               "items": len(body.get("results", []))}
    finally:
        root.removeHandler(handler)
    outcome["log_records"] = sorted({level for level, _message in logged})
    outcome["log_count"] = len(logged)
    results["corrupt or missing artefact"] = outcome
    print(f"corrupt or missing artefact: {outcome}", flush=True)


def main() -> int:
    results: dict = {}
    private_redis("start")
    try:
        setup_database()
        if not ARGS.only_postgres:
            scenario_kill_workers(results)
            scenario_concurrent(results)
            if not ARGS.skip_redis:
                scenario_redis_down(results)
            scenario_corrupt_artefact(results)
        if not ARGS.skip_postgres:
            scenario_postgres_restart(results)
    finally:
        from django.db import connections

        connections.close_all()
        private_redis("stop")
        try:
            wait_for(lambda: subprocess.run(["pg_isready", "-h", "127.0.0.1"], capture_output=True).returncode == 0,
                     timeout=60, step=0.5)
            admin_sql(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
        except Exception as exc:  # report, do not hide the scenarios' results
            print(f"could not drop {DB_NAME}: {exc}", file=sys.stderr)
        shutil.rmtree(TMP, ignore_errors=True)
    print(json.dumps(results, ensure_ascii=False, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
