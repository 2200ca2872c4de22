"""Several hosts: Monitor refresh p95 (server time) with 40 sessions spread over two app instances
(gunicorn -w 2 each, own folders) sharing one PostgreSQL, one Redis and a Celery worker, and the upstream
status polls that load costs Airflow (one per sweep per interval, whatever the hosts and viewers).

Same fake Airflow and 10,000-point sweep as bench_app and bench_auth; PostgreSQL and Redis are throwaway
servers from Debian's packages (scripts/throwaway_servers.py).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.airflow_server import bench_workspace
from bench.app_support import callback_specs, find_callback, http_json, percentile, poll_together
from bench.bench_auth import POLL_EVERY_S, SignedInMonitor
from bench.cluster import two_instances
from bench.common import AccessLog, failures, report, section
from bench.fixtures import seed_10k_sweep
from scripts.throwaway_servers import postgres_server, redis_server
from services.bootstrap import STATUS_TTL_FRACTION

SESSIONS = 40
LOAD_SECONDS = 30.0
WARM_ROUNDS = 2  # polls per session before measuring: each worker builds its services, the cache fills
MONITOR_P95_MS = 300.0
TAG = "cluster"


def main() -> int:
    with (
        redis_server() as redis_url,
        postgres_server() as postgres_url,
        bench_workspace("bench-cluster-") as workspace,
        two_instances(
            workspace, redis_url, postgres_url, access_logs=True, REFRESH_INTERVAL_S=str(int(POLL_EVERY_S))
        ) as cluster,
    ):
        config = seed_10k_sweep(cluster.held.fake, cluster.registry(), workspace / "results")
        section(
            f"Monitor refresh, {config.grid_size:,} points, {SESSIONS} sessions over two instances "
            "(gunicorn -w 2 each), PostgreSQL, Redis"
        )
        pollers = []
        for index, instance in enumerate([cluster.a, cluster.b] * (SESSIONS // 2)):
            status, dependencies = http_json(instance.url + "/_dash-dependencies")
            assert status == 200, status
            poll = find_callback(callback_specs(dependencies), "monitor-kpis.children")
            pollers.append(SignedInMonitor(instance.url, poll, config.name, f"warm{index}", None))
        for index, poller in enumerate(pollers):
            for tick in range(WARM_ROUNDS):
                poller.poll_once(tick + 1)
            poller.errors.clear()
            poller.tag = f"{TAG}{index}"
        cluster.airflow.reset_count()
        started = time.monotonic()
        poll_together(pollers, LOAD_SECONDS)
        intervals = (time.monotonic() - started) / POLL_EVERY_S
        run_lists = cluster.airflow.paths[f"GET /dags/{config.dag_id}/dagRuns"]
        upstream = cluster.airflow.count
        server_ms = []
        for name in "ab":
            entries = AccessLog(workspace / f"access-{name}.log").entries(f"bench={TAG}")
            server_ms += [float(ms) for _pid, status, ms in entries if status == 200]
        errors = [error for poller in pollers for error in poller.errors]
    measured = server_ms
    p50, p95 = percentile(measured, 0.5), percentile(measured, 0.95)
    print(f"  {len(measured)} refreshes: p50 {p50:.0f} ms, p95 {p95:.0f} ms, max {max(measured):.0f} ms")
    print(f"  {len(errors)} errors")
    print(
        f"  upstream in {intervals:.1f} intervals of {POLL_EVERY_S:.0f} s: {run_lists} run lists,"
        f" {upstream} API requests in all (every host and session)"
    )
    report(f"monitor refresh p95, {SESSIONS} sessions over two instances", p95, "ms", MONITOR_P95_MS)
    # A status lives STATUS_TTL_FRACTION of an interval (never two intervals old): one poll per TTL at most.
    report("upstream run polls per sweep per interval, two instances", run_lists / max(intervals, 1), "polls",
           1 / STATUS_TTL_FRACTION)  # fmt: skip
    report("monitor refresh errors over two instances", len(errors), "errors", 0)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
