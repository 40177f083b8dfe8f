"""Feed endpoint under concurrent load vs the trivial /api/v1/health/live of the same server.

Starts gunicorn (2 sync workers by default) on PostgreSQL + Redis with the KuaiRec demo catalogue
and watch log loaded and the recommender artefacts built, then drives it with 16 concurrent client
threads (http.client), alternating phases: live, feed, live, feed.  Reports per endpoint requests
per second, p50 / p99 latency and errors, and the feed/trivial ratios.  With ``--setup`` it first
migrates, imports the demo data and times one full run of every recommender job.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_feed REDIS_URL=redis://127.0.0.1:6379/2 \\
        .venv/bin/python bench/bench_feed.py --setup --duration 20

Run it on a quiet machine: the client threads share the CPU with the server.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import re
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SOURCE = re.compile(rb'\{"source":"([a-z]+)"')
PY = sys.executable


def manage(*args: str, env: dict) -> float:
    started = time.perf_counter()
    subprocess.run([PY, "manage.py", *args], cwd=REPO, env=env, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def setup(env: dict) -> dict:
    timings = {"migrate": manage("migrate", "--noinput", env=env)}
    timings["import_kuairec"] = manage("import_kuairec", "--no-progress", env=env)
    # Fresh planner statistics after the bulk import (autovacuum would get there, later).
    manage("shell", "-c", "from django.db import connection; connection.cursor().execute('ANALYZE')", env=env)
    for job in ("hot_refresh", "interactions_rebuild", "model_train"):
        timings[job] = manage("rebuild_recommender", "--job", job, "--quiet", env=env)
    return timings


def job_stats(env: dict) -> list[dict]:
    code = (
        "import json;from recommender.records import JobRun;"
        "print(json.dumps([{'job':r.job,'status':r.status,'seconds':r.stats.get('seconds'),"
        "'version':r.artefact_version} for r in JobRun.objects.order_by('-started_at')[:6]]))"
    )
    out = subprocess.run([PY, "manage.py", "shell", "-c", code], cwd=REPO, env=env, check=True,
                         capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def viewer_tokens(env: dict, n: int) -> list[str]:
    code = (
        "import json;from django.contrib.auth import get_user_model;from rest_framework.authtoken.models import Token;"
        f"users=get_user_model().objects.filter(events__kind='view').distinct().order_by('id')[:{n}];"
        "print(json.dumps([Token.objects.get_or_create(user=u)[0].key for u in users]))"
    )
    out = subprocess.run([PY, "manage.py", "shell", "-c", code], cwd=REPO, env=env, check=True,
                         capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def start_server(env: dict, port: int, workers: int, worker_class: str = "sync", threads: int = 1) -> subprocess.Popen:
    # The same server (and so the same worker class) answers both endpoints of a run.
    proc = subprocess.Popen(
        [str(Path(PY).parent / "gunicorn"), "videoapp.wsgi", "-w", str(workers), "-b", f"127.0.0.1:{port}",
         "--worker-class", worker_class, "--threads", str(threads),
         "--log-level", "warning", "--timeout", "60"],
        cwd=REPO, env=env,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/api/v1/health/live")
            if conn.getresponse().status == 200:
                return proc
        except OSError:
            time.sleep(0.3)
    proc.kill()
    raise RuntimeError("gunicorn did not start")


def _cpu_seconds(pattern: str) -> float:
    """User + system CPU seconds of every process whose command line contains ``pattern``."""
    total, tick = 0.0, os.sysconf("SC_CLK_TCK")
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            if pattern.encode() not in (proc / "cmdline").read_bytes():
                continue
            fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / tick
    return total


SERVER_PROCESSES = ("gunicorn", "redis-server", "postgres")


def _redis_calls(env: dict) -> tuple[int, int]:
    """(queue writes, serve-script calls) so far: how many measured feed answers were ranked afresh."""
    import redis

    stats = redis.Redis.from_url(env["REDIS_URL"]).info("commandstats")
    return stats.get("cmdstat_multi", {}).get("calls", 0), stats.get("cmdstat_evalsha", {}).get("calls", 0)


def run_phase(*, port: int, path_for, clients: int, duration: float) -> dict:
    latencies: list[float] = []
    errors = [0]
    sources: dict[str, int] = {}
    lock = threading.Lock()
    stop_at = time.monotonic() + duration

    def client(seed: int) -> None:
        rnd = random.Random(seed)
        local, local_errors, local_sources = [], 0, {}
        while time.monotonic() < stop_at:
            target = path_for(rnd)
            if target is None:  # the phase's list of requests is done
                break
            path, headers = target
            started = time.perf_counter()
            try:
                # gunicorn's sync workers close the connection after each response: one per request.
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                conn.request("GET", path, headers=headers)
                response = conn.getresponse()
                body = response.read()
                conn.close()
                ok = response.status == 200
                if ok and path.startswith("/api/v1/feed"):
                    # "source" is the first member of every feed answer: read it without parsing
                    # the whole body (the client shares the CPU with the server it measures).
                    match = SOURCE.match(body)
                    source = match.group(1).decode() if match else json.loads(body)["source"]
                    local_sources[source] = local_sources.get(source, 0) + 1
                    # Items served (a feed that ran dry answers fast and would flatter the figures).
                    local_sources["items"] = local_sources.get("items", 0) + body.count(b'{"video":')
            except (OSError, http.client.HTTPException, ValueError):
                ok = False
            local.append(time.perf_counter() - started)
            local_errors += not ok
        with lock:
            latencies.extend(local)
            errors[0] += local_errors
            for key, value in local_sources.items():
                sources[key] = sources.get(key, 0) + value

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    cpu_before = {name: _cpu_seconds(name) for name in SERVER_PROCESSES}
    client_before = time.process_time()
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    # Server-side CPU per request (gunicorn workers, Redis, PostgreSQL): unlike requests per second
    # it does not depend on what else the shared machine runs.
    cpu = {name: _cpu_seconds(name) - before for name, before in cpu_before.items()}
    cpu["client"] = time.process_time() - client_before
    latencies.sort()
    return {
        "requests": len(latencies),
        "rps": len(latencies) / elapsed,
        "p50_ms": 1000 * statistics.median(latencies) if latencies else None,
        "p99_ms": 1000 * latencies[int(0.99 * (len(latencies) - 1))] if latencies else None,
        "errors": errors[0],
        "sources": sources,
        "cpu_ms": {name: 1000 * seconds / max(len(latencies), 1) for name, seconds in cpu.items()},
    }


def merge(phases: list[dict]) -> dict:
    out = {k: sum(p[k] for p in phases) for k in ("requests", "errors")}
    out["rps"] = statistics.mean(p["rps"] for p in phases)
    out["p50_ms"] = statistics.mean(p["p50_ms"] for p in phases)
    out["p99_ms"] = statistics.mean(p["p99_ms"] for p in phases)
    sources: dict[str, int] = {}
    for p in phases:
        for k, v in p["sources"].items():
            sources[k] = sources.get(k, 0) + v
    out["sources"] = sources
    out["cpu_ms"] = {name: statistics.mean(p["cpu_ms"][name] for p in phases) for name in phases[0]["cpu_ms"]}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--setup", action="store_true", help="migrate, import the demo data, time every job")
    parser.add_argument("--duration", type=float, default=20.0, help="seconds per phase (4 phases)")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--worker-class", default="sync", help="gunicorn worker class (sync, gthread)")
    parser.add_argument("--threads", type=int, default=1, help="threads per worker (gthread)")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--viewers", type=int, default=1000, help="distinct logged-in viewers the clients rotate")
    parser.add_argument("--size", type=int, default=20, help="feed page size")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds of feed traffic before measuring")
    parser.add_argument("--keep-redis", action="store_true",
                        help="do not empty the Redis database first (REDIS_URL must be the bench's own)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    env = dict(os.environ)
    if "postgres" not in env.get("DATABASE_URL", "") or not env.get("REDIS_URL"):
        sys.exit("set DATABASE_URL (PostgreSQL) and REDIS_URL: the bench runs on the production stack")
    env.update({"DEBUG": "0", "SECRET_KEY": env.get("SECRET_KEY", "bench-" + "x" * 60),
                "ALLOWED_HOSTS": "127.0.0.1,localhost", "SECURE_SSL_REDIRECT": "0", "LOG_LEVEL": "WARNING"})
    env.setdefault("DATA_DIR", "/tmp/bench_feed_data")
    timings = setup(env) if args.setup else {}
    if not args.setup:
        # As in production (beat refreshes it every 5 minutes), a fresh hot list: an artefact that
        # goes stale in the middle of a run would re-rank every viewer's feed at once.
        manage("rebuild_recommender", "--job", "hot_refresh", "--quiet", env=env)
    if not args.keep_redis:
        # Every run starts with no viewer having seen anything (exposure filters, served queues,
        # caches): the bench's own Redis database, so runs do not drain each other's feeds.
        import redis

        client = redis.Redis.from_url(env["REDIS_URL"])
        if client.connection_pool.connection_kwargs.get("db", 0) == 0:
            sys.exit("the bench empties its Redis database first: give it its own (REDIS_URL=redis://…/2) "
                     "or pass --keep-redis")
        client.flushdb()
    tokens = viewer_tokens(env, args.viewers)
    server = start_server(env, args.port, args.workers, args.worker_class, args.threads)
    try:
        def live(rnd):
            return "/api/v1/health/live", {}

        def feed(rnd):
            return f"/api/v1/feed?size={args.size}", {"Authorization": f"Token {rnd.choice(tokens)}"}

        # Warm both (artefacts load once per worker process).  Then every viewer's first page (it
        # ranks their feed and writes their served queue), then --warmup N seconds of feed traffic:
        # the steady state of a site whose viewers come back, with its caches filled.
        run_phase(port=args.port, path_for=live, clients=4, duration=2.0)
        firsts = iter(tokens)
        first_lock = threading.Lock()

        def first_page(_rnd):
            with first_lock:
                token = next(firsts, None)
            return (f"/api/v1/feed?size={args.size}", {"Authorization": f"Token {token}"}) if token else None

        first = run_phase(port=args.port, path_for=first_page, clients=args.clients, duration=600)
        run_phase(port=args.port, path_for=feed, clients=args.clients, duration=max(2.0, args.warmup))
        results = {"live": [], "feed": []}
        rankings_before, served_before = _redis_calls(env)
        for name, fn in (("live", live), ("feed", feed), ("live", live), ("feed", feed)):
            results[name].append(run_phase(port=args.port, path_for=fn, clients=args.clients, duration=args.duration))
        rankings_after, served_after = _redis_calls(env)
    finally:
        server.terminate()
        server.wait(timeout=30)
    live_r, feed_r = merge(results["live"]), merge(results["feed"])
    report = {
        "clients": args.clients, "workers": args.workers, "worker_class": args.worker_class,
        "threads": args.threads, "phase_seconds": args.duration, "warmup_seconds": args.warmup,
        "live": live_r, "feed": feed_r,
        "throughput_ratio": feed_r["rps"] / live_r["rps"],
        "p99_ratio": feed_r["p99_ms"] / live_r["p99_ms"],
        "setup_seconds": timings, "jobs": job_stats(env),
        "queue_writes": rankings_after - rankings_before, "serve_calls": served_after - served_before,
        "first_pages": first,
    }
    if args.json:
        print(json.dumps(report, indent=2))
        return
    for name, r in (("live", live_r), ("feed", feed_r)):
        print(f"{name:5s} requests={r['requests']:6d} rps={r['rps']:8.1f} p50={r['p50_ms']:7.1f} ms "
              f"p99={r['p99_ms']:7.1f} ms errors={r['errors']} {r['sources'] or ''}")
        if r["sources"]:
            answers = sum(v for k, v in r["sources"].items() if k != "items")
            print(f"      items per feed answer: {r['sources'].get('items', 0) / max(answers, 1):.1f}")
        print("      CPU per request: " + ", ".join(f"{k} {v:.3f} ms" for k, v in r["cpu_ms"].items()))
    print(f"first page of each viewer (ranked, queue written): {first['requests']} answers, "
          f"p50 {first['p50_ms']:.1f} ms, p99 {first['p99_ms']:.1f} ms, errors {first['errors']}")
    print(f"feed answers ranked afresh (queue written) during the measured phases: {report['queue_writes']} "
          f"of {feed_r['requests']}; serve-script calls {report['serve_calls']}")
    print(f"feed/live throughput ratio {report['throughput_ratio']:.2f} (goal >= 0.7); "
          f"p99 ratio {report['p99_ratio']:.2f} (goal <= 2.0)")
    for key, value in timings.items():
        print(f"setup {key}: {value:.1f} s")
    for job in report["jobs"]:
        print(f"job {job['job']}: {job['status']} {job['seconds']} s")


if __name__ == "__main__":
    main()
