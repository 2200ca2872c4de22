"""`/sweeps` history with 10,000 saved sweeps and 100,000 audit rows, on SQLite and on PostgreSQL: the
server time of the page's first render (its grid's rows callback), and of opening one sweep's detail
panel (its spec, runs and history from the audit trail). Target: each ≤ 500 ms.

The app runs under gunicorn (2 sync workers) with DATABASE_URL set to the seeded database (an SQLite file,
or a throwaway PostgreSQL from Debian's package, scripts/throwaway_servers.py); each database is filled
through the app's own tables (rows as the registry writes them; 10 audit events per sweep, one in ten
sweeps with runs). Every request is a fresh page visit; the target is on the visits to running workers
(p95), and each worker's very first request (which also builds its services and migrates the database)
is printed apart.
Airflow is bench/fake_airflow.py behind HTTP (it knows none of the runs: the grid asks it once, in one
batch, as with a real Airflow). Server times are gunicorn's `%(M)s`.
"""

from __future__ import annotations

import sys
import time
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import insert

from bench.airflow_server import FakeAirflowServer, bench_workspace
from bench.app_support import find_callback, percentile, run_gunicorn
from bench.common import failures, report, section
from bench.fixtures import wall_config
from scripts.throwaway_servers import postgres_server
from services.audit import AuditAction, Outcome
from services.database import Database
from services.db_tables import audit_events, sweeps
from services.models import SweepRecord
from services.sql_registry import derived_columns

SWEEPS = 10_000
AUDIT_ROWS = 100_000
RAN_EVERY = 10  # one sweep in ten has runs
VISITS = 20  # page visits per backend (2 workers: the first two are cold)
WORKERS = 2
FIRST_RENDER_MS = 500.0
HTTP_OK = 200
BATCH_ROWS = 5_000
ACTIONS = list(AuditAction)


def _sweep_row(i: int, now: datetime) -> dict:
    config = wall_config(i).model_copy(update={"name": f"hist_{i:05d}", "owner": f"user_{i % 40}"})
    runs = [f"manual__2026-12-01T{h:02d}:00:00+00:00" for h in range(3)] if i % RAN_EVERY == 0 else []
    moment = now - timedelta(minutes=i)
    record = SweepRecord(config=config, created_at=moment, updated_at=moment, run_ids=runs)
    text = record.model_dump_json()
    return {
        "name": config.name,
        "owner": config.owner,
        "version": 1,
        "revision": 1,
        "updated_at": moment,
        "updated_by": config.owner,
        "record": text,
        **derived_columns(record, text),
    }


def _audit_row(j: int, now: datetime) -> dict:
    sweep = j % SWEEPS
    return {
        "at": now - timedelta(seconds=j * 7),
        "actor": f"user_{sweep % 40}",
        "client": f"10.0.{sweep % 250}.{j % 250}",
        "action": ACTIONS[j % len(ACTIONS)].value,
        "sweep": f"hist_{sweep:05d}",
        "run_id": "manual__2026-12-01T00:00:00+00:00" if j % 3 == 0 else "",
        "outcome": Outcome.REFUSED.value if j % 17 == 0 else Outcome.OK.value,
        "reason": "Your role (viewer) cannot save sweeps: it needs researcher." if j % 17 == 0 else "",
    }


def seed(url: str) -> float:
    """Fill the database at `url` (migrated first); the seconds it took."""
    started = time.perf_counter()
    engine = Database(url).engine
    now = datetime.now(UTC)
    with engine.begin() as connection:
        for start in range(0, SWEEPS, BATCH_ROWS):
            connection.execute(insert(sweeps), [_sweep_row(i, now) for i in range(start, start + BATCH_ROWS)])
        for start in range(0, AUDIT_ROWS, BATCH_ROWS):
            rows = [_audit_row(j, now) for j in range(start, start + BATCH_ROWS)]
            connection.execute(insert(audit_events), rows)
    engine.dispose()
    return time.perf_counter() - started


@contextmanager
def database(backend: str, workspace: Path):
    if backend == "sqlite":
        (workspace / "data").mkdir(parents=True, exist_ok=True)
        yield f"sqlite:///{workspace / 'data' / 'backtest.db'}"
        return
    with postgres_server() as url:
        yield url.replace("postgresql://", "postgresql+psycopg://", 1)


def run(backend: str) -> None:
    with bench_workspace(f"bench-history-{backend}-") as workspace, database(backend, workspace) as url:
        seconds = seed(url)
        print(f"seeded {SWEEPS} sweeps and {AUDIT_ROWS} audit rows into {backend} in {seconds:.1f} s")
        with (
            FakeAirflowServer(workspace / "dags") as airflow,
            run_gunicorn(workspace, airflow.url, backend, WORKERS, DATABASE_URL=url) as (app, access),
        ):
            specs = app.callbacks()
            rows = find_callback(specs, "sweeps-grid.rowData")
            detail = find_callback(specs, "sweeps-detail.children")
            for visit in range(VISITS):
                status, body = app.update(rows.payload({"sweeps-refresh.n_clicks": None}), f"rows-{visit}")[1]
                listed = len(body["response"]["sweeps-grid"]["rowData"]) if status == 200 else 0
                if listed != SWEEPS:
                    failures.append(f"{backend}: the grid listed {listed} sweeps (status {status})")
                picked = [{"name": f"hist_{visit * 10:05d}"}]
                app.update(detail.payload({"sweeps-grid.selectedRows": picked}), f"detail-{visit}")
        rows_ms = access.entries("bench=rows-")  # read once gunicorn stopped: its log is flushed
        detail_ms = access.server_ms("bench=detail-")
    print(f"Airflow answered {airflow.count} API requests for {VISITS} page visits")
    _report(backend, "/sweeps first render", rows_ms)
    report(
        f"{backend}: sweep detail with its history, p95", percentile(detail_ms, 0.95), "ms", FIRST_RENDER_MS
    )


def _report(backend: str, what: str, entries: list[tuple[int, int, int]]) -> None:
    """The target is on page visits to running workers; each worker's very first request also builds
    its services and opens (and migrates) the database: printed apart."""
    seen: set[int] = set()
    cold, warm = [], []
    for pid, status, ms in entries:
        if status != HTTP_OK:
            failures.append(f"{backend}: {what} answered {status}")
        (warm if pid in seen else cold).append(float(ms))
        seen.add(pid)
    report(f"{backend}: {what}, p95 of {len(warm)} visits", percentile(warm, 0.95), "ms", FIRST_RENDER_MS)
    print(f"  p50 {percentile(warm, 0.5):.0f} ms; first request of each fresh worker: {cold} ms")


def main() -> int:
    for backend in ("sqlite", "postgresql"):
        section(f"/sweeps history, {SWEEPS} sweeps, {AUDIT_ROWS} audit rows, {backend}")
        run(backend)
    if failures:
        print("missed: " + "; ".join(failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
