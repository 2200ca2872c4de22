"""The wall (`/wall`) with 50 sweeps of 1,000 points on 10 screens at once: the p95 server time of the
wall's refresh callback, and the upstream Airflow requests per refresh interval with 10 walls against 1.

The app runs under gunicorn (2 sync workers, a fresh cache folder) and gets real HTTP POSTs to
`/_dash-update-component`, built from its own `/_dash-dependencies`; server times are gunicorn's
`%(M)s` from its access log. Airflow is bench/fake_airflow.py behind a real HTTP server
(bench/app_support.py), which counts the API requests it answers; it holds 50 saved, "deployed" and
started sweeps of 1,000 points (100 mapped chunks each: 30 running, 5 running with many failed
chunks, 10 succeeded and 5 failed within the last hours). The result files of their finished points
are real files, written by the reference engine (bench/fixtures.py). Each wall is a thread that
polls the refresh callback at the wall's interval (REFRESH_INTERVAL_S), from a random phase, as a
browser's dcc.Interval does; one wall polls for LOAD_SECONDS, then 10 walls do, in the same run.
Upstream cost is counted until Airflow is quiet after each phase (the app may finish polling after
it answered), per refresh period the walls' requests fell in; the target compares how often a sweep's
status was polled per period (each poll lists the sweep's latest run once), 10 walls against 1.
"""

from __future__ import annotations

import re
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.airflow_server import FakeAirflowServer, bench_workspace, seeded_airflow
from bench.app_support import (
    AppProcess,
    CallbackSpec,
    Poller,
    errors_of,
    find_callback,
    load_line,
    percentile,
    poll_together,
    response_value,
    run_gunicorn,
    spread,
)
from bench.common import AccessLog, failures, report, section
from bench.fixtures import WALL_SWEEPS, seed_wall

WORKERS = 2
WALLS = 10
REFRESH_INTERVAL_S = 5.0  # the app's default: the wall's dcc.Interval and the status cache follow it
LOAD_SECONDS = 45.0
WARMUP_REFRESHES = 4
QUIET_S = 1.0
REFRESH_P95_MS = 300.0
NO_FILTER = {"owner": None, "strategy": None, "state": None}  # `/wall` without query parameters
RUN_LIST = re.compile(r"GET /dags/[^/]+/dagRuns")  # listing a sweep's latest run starts its status poll


class Wall(Poller):
    """One wall screen: the refresh callback every REFRESH_INTERVAL_S, server times tagged by `tag`."""

    interval_s = REFRESH_INTERVAL_S

    def __init__(self, app: AppProcess, refresh: CallbackSpec, tag: str) -> None:
        super().__init__()
        self.app, self.refresh, self.tag = app, refresh, tag
        self.round_trip_s: list[float] = []
        self.periods: set[int] = set()  # the refresh periods (epoch s // interval) its requests were in

    def poll_once(self, tick: int) -> dict | None:
        payload = self.refresh.payload({"wall-interval.n_intervals": tick, "wall-filter.data": NO_FILTER})
        sent = time.time()
        elapsed, (status, body) = self.app.update(payload, self.tag)
        # The app reads its clock somewhere in between: both periods count when they differ.
        self.periods |= {int(sent // REFRESH_INTERVAL_S), int((sent + elapsed) // REFRESH_INTERVAL_S)}
        if status != 200:
            self.errors.append(f"refresh answered {status}")
            return None
        if response_value(body, "wall-error", "children"):
            self.errors.append("the wall shows an error alert")
        self.round_trip_s.append(elapsed)
        return body


def load(app: AppProcess, refresh: CallbackSpec, walls: int, tag: str) -> list[Wall]:
    """`walls` threads polling for LOAD_SECONDS, each from its own random phase in the interval."""
    return poll_together([Wall(app, refresh, tag) for _ in range(walls)], LOAD_SECONDS)


def check_tiles(body: dict | None) -> int:
    """The number of tiles of a refresh answer; every seeded sweep must be on the wall."""
    assert body is not None, "the warm-up refresh failed"
    tiles = response_value(body, "wall-tiles", "children")
    assert len(tiles) == WALL_SWEEPS, f"{len(tiles)} tiles, expected {WALL_SWEEPS}"
    return len(tiles)


def quiet(airflow: FakeAirflowServer) -> int:
    """The upstream request count once Airflow has been quiet for QUIET_S (the app may still be
    polling for a refresh it already answered)."""
    seen = -1
    while airflow.count != seen:
        seen = airflow.count
        time.sleep(QUIET_S)
    return seen


def round_cost(wall: Wall, airflow: FakeAirflowServer) -> int:
    """Upstream requests of one round of polls of every sweep: one refresh once every status expired."""
    time.sleep(REFRESH_INTERVAL_S)
    airflow.reset_count()
    wall.poll_once(WARMUP_REFRESHES + 1)
    return quiet(airflow)


@dataclass
class Phase:
    """What the walls of one phase cost upstream: requests, status polls of each sweep, and the
    refresh periods their polls fell in."""

    requests: int
    polls: Counter[str]  # `GET /dags/<dag_id>/dagRuns` (the latest run of a sweep): one per status poll
    periods: int

    @classmethod
    def measure(
        cls, app: AppProcess, refresh: CallbackSpec, airflow: FakeAirflowServer, walls: int
    ) -> tuple[Phase, list[Wall]]:
        airflow.reset_count()
        screens = load(app, refresh, walls, "one" if walls == 1 else "many")
        requests = quiet(airflow)
        polls = Counter(
            {path.split("/")[2]: n for path, n in airflow.paths.items() if RUN_LIST.fullmatch(path)}
        )
        periods = set().union(*(wall.periods for wall in screens))
        return cls(requests, polls, len(periods)), screens

    @property
    def most_polls_per_period(self) -> float:
        return max(self.polls.values()) / self.periods


def bench_wall(app: AppProcess, access: AccessLog, airflow: FakeAirflowServer) -> None:
    refresh = find_callback(app.callbacks(), "wall-tiles.children")
    # Warm both workers (services built, the best points of finished runs read once) and check the answer.
    warm = Wall(app, refresh, "warmup")
    for tick in range(WARMUP_REFRESHES):
        check_tiles(warm.poll_once(tick + 1))
    per_round = round_cost(warm, airflow)
    assert not warm.errors and per_round, (warm.errors, per_round)
    time.sleep(REFRESH_INTERVAL_S)
    lone, one = Phase.measure(app, refresh, airflow, 1)
    time.sleep(REFRESH_INTERVAL_S)
    crowd, many = Phase.measure(app, refresh, airflow, WALLS)
    report_refresh(access, one, many)
    report_upstream(lone, crowd, per_round)


def report_refresh(access: AccessLog, one: list[Wall], many: list[Wall]) -> None:
    errors = errors_of(one, many)
    server_one, server = access.server_ms("bench=one "), access.server_ms("bench=many ")
    round_trip = [s * 1e3 for w in many for s in w.round_trip_s]
    print(load_line(f"{WALLS} walls", REFRESH_INTERVAL_S, LOAD_SECONDS, WORKERS, access, "many", errors))
    print(
        f"  refresh callback server time, {WALLS} walls: {spread(server, 0.5, 0.95, 1.0)};"
        f" round trip {spread(round_trip)}"
    )
    print(f"  refresh callback server time, 1 wall: {spread(server_one, 0.5, 1.0)}")
    name = f"wall refresh callback, {WALL_SWEEPS} sweeps x 1,000 points, {WALLS} walls, server time p95"
    report(name, percentile(server, 0.95), "ms", REFRESH_P95_MS)
    report("wall refresh errors", len(errors), "errors", 0)


def report_upstream(lone: Phase, crowd: Phase, per_round: int) -> None:
    """Upstream requests per refresh period, 10 walls against 1; the target is on status polls."""
    print(
        f"  upstream Airflow requests: 1 wall {lone.requests} in {lone.periods} refresh periods"
        f" ({lone.requests / lone.periods:.0f} per period), {WALLS} walls {crowd.requests} in"
        f" {crowd.periods} ({crowd.requests / crowd.periods:.0f} per period; ratio"
        f" {crowd.requests / crowd.periods / (lone.requests / lone.periods):.3f}); polling all"
        f" {WALL_SWEEPS} sweeps once is {per_round} requests"
    )
    print(
        f"  status polls of one sweep: at most {max(lone.polls.values())} in {lone.periods} periods with"
        f" 1 wall, at most {max(crowd.polls.values())} in {crowd.periods} with {WALLS} walls (a period is"
        f" {REFRESH_INTERVAL_S:g} s on the clock; walls at random phases can meet one more period of the"
        f" {LOAD_SECONDS:g}-s window than a lone wall polling every {REFRESH_INTERVAL_S:g} s, so both"
        " count per period they polled in; a sweep whose status was still cached when a period's board"
        " was built costs no request, which makes the request totals wobble around equal)"
    )
    name = f"upstream status polls of a sweep per refresh period, {WALLS} walls vs 1 wall"
    report(name, crowd.most_polls_per_period / lone.most_polls_per_period, "x", 1.0)


def main() -> int:
    with bench_workspace("bench-wall-") as workspace:
        server, kinds, seconds = seeded_airflow(workspace, seed_wall)
        counts = ", ".join(f"{n:,} {kind}" for kind, n in kinds.items())
        print(
            f"Airflow: a fake over HTTP holding {WALL_SWEEPS} sweeps of 1,000 points in 100 mapped chunks"
            f" each ({counts}; seeded in {seconds:.0f} s)"
        )
        with server as airflow:
            refresh_s = f"{REFRESH_INTERVAL_S:g}"
            with run_gunicorn(workspace, airflow.url, "wall", WORKERS, REFRESH_INTERVAL_S=refresh_s) as (
                app,
                access,
            ):
                section(f"Wall refresh: {WALL_SWEEPS} sweeps x 1,000 points, 1 wall then {WALLS} walls")
                bench_wall(app, access, airflow)
            section("done")  # the load the benchmark itself left
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
