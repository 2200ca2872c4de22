"""The Dash app: Configure callbacks on a 10^6-point draft, Monitor refresh of a 10,000-point sweep under
20 polling sessions, cold start, and the app's memory after the main flow.

Airflow is a fake served over real HTTP (bench/fake_airflow.py behind bench/app_support.py): the
app talks to it through its own HttpTransport, and the fake holds a 10,000-point run with 1,000 mapped
task instances mid-way, so no local Airflow has to run 1,000 tasks. Timings are the app's.
"""

from __future__ import annotations

import math
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from airflow_backtest_framework.config import SweepConfig
from bench.airflow_server import FakeAirflowServer, bench_workspace, seeded_airflow
from bench.app_support import (
    UPDATE_PATH,
    AppProcess,
    CallbackSpec,
    Poller,
    app_env,
    callback_specs,
    errors_of,
    find_callback,
    free_port,
    load_line,
    percentile,
    poll_together,
    python_app_command,
    response_value,
    run_app,
    run_gunicorn,
    spread,
    stop_group,
    timed,
    tree_rss_mb,
    wait_until_up,
)
from bench.browser import drive_main_flow
from bench.common import AccessLog, failures, report, section
from bench.fixtures import seed_10k_sweep
from services.bootstrap import STATUS_TTL_FRACTION

MR = "MeanReversionStrategy"
MAX_GRID_POINTS = 1_000_000  # raised from the default 100,000 so the 10^6-point draft is valid
# Draft expression sets of exactly 10^6 points each (100 × 100 × 10 × 10 in different orders).
GRIDS_1M = (
    {"lookback_period": "2:501:100", "entry_threshold": "0.1:10:100", "stop_loss_pct": "0.01:0.5:10",
     "cooldown_period": "0:9:10"},
    {"lookback_period": "2:101:100", "entry_threshold": "0.5:5:10", "stop_loss_pct": "0.01:0.5:100",
     "cooldown_period": "0:9:10"},
    {"lookback_period": "5:14:10", "entry_threshold": "0.1:10:100", "stop_loss_pct": "0.01:0.9:10",
     "cooldown_period": "0:99:100"},
    {"lookback_period": "2:401:100", "entry_threshold": "1:10:10", "stop_loss_pct": "0.01:0.9:100",
     "cooldown_period": "1:10:10"},
)  # fmt: skip
CONFIGURE_WARMUP = 5
CONFIGURE_SAMPLES = 200
CONFIGURE_P95_MS = 50.0

WORKERS = 2
SESSIONS = 20
POLL_EVERY_S = 5.0
LOAD_SECONDS = 45.0
MONITOR_P95_MS = 300.0

COLD_STARTS = 3
COLD_START_S = 3.0

RSS_MB = 300.0
RSS_WATCH_S = 10.0  # the 10,000-point Monitor page stays open this long (several polls)


# --------------------------------------------------------------------------- drafts and payloads


def draft_1m(i: int) -> dict:
    """The Configure page's draft store after an edit: a 10^6-point grid, a name that changes."""
    from components.sweep_form import FormDraft

    draft = FormDraft(
        strategy=MR,
        params={MR: GRIDS_1M[i % len(GRIDS_1M)]},
        universe="AAPL, MSFT, GOOGL, AMZN, NVDA, META",
        name=f"bench_draft_{i}",
    )
    return draft.model_dump(mode="json")


PARAM_ROWS = [
    {"strategy": MR, "name": name}
    for name in ("lookback_period", "entry_threshold", "stop_loss_pct", "cooldown_period")
]


def validation_payload(spec: CallbackSpec, i: int) -> dict:
    return spec.payload({"configure-draft.data": draft_1m(i)}, rows=PARAM_ROWS)


def preview_payload(spec: CallbackSpec, i: int) -> dict:
    values = {
        "configure-draft.data": draft_1m(i),
        "configure-preview-collapse.is_open": True,
        "shell-theme.data": "light",
    }
    return spec.payload(values, changed="configure-draft.data")


def configure_specs(specs: dict[str, CallbackSpec]) -> tuple[CallbackSpec, CallbackSpec]:
    return find_callback(specs, "configure-grid.children"), find_callback(specs, "configure-preview.children")


def check_configure_answer(validation: dict, preview: dict) -> None:
    grid = str(response_value(validation, "configure-grid", "children"))
    assert "1,000,000 points" in grid, grid[:300]
    assert "create_sweep_dag" in str(response_value(preview, "configure-preview", "children"))


# --------------------------------------------------------------------------- (a) Configure


def report_configure(
    where: str, validation_s: list[float], preview_s: list[float], edit_s: list[float]
) -> None:
    def ms(samples: list[float], q: float) -> float:
        return percentile(samples, q) * 1e3

    print(
        f"  {where}: validation p50 {ms(validation_s, 0.5):.1f} ms, preview p50 {ms(preview_s, 0.5):.1f} ms "
        f"({len(edit_s)} edits of a 10^6-point draft)"
    )
    report(f"configure validation + grid size callback, {where}, p95", ms(validation_s, 0.95), "ms", 50)
    report(f"configure DAG preview callback, {where}, p95", ms(preview_s, 0.95), "ms", 50)
    report(f"configure edit (validation + preview), {where}, p95", ms(edit_s, 0.95), "ms", 50)


def bench_configure_in_process(workspace: Path, airflow_url: str) -> None:
    """The callbacks through Flask's test client: the same dispatch a POST runs, without the network."""
    from app import create_app
    from services.settings import load_settings

    settings = load_settings(
        app_data_dir=workspace / "data",
        cache_dir=workspace / "cache-inproc",
        airflow_url=airflow_url,
        local_dags_folder=workspace / "dags",
        results_root=workspace / "results",
        max_grid_points=MAX_GRID_POINTS,
    )
    client = create_app(settings).server.test_client()
    validation, preview = configure_specs(callback_specs(client.get("/_dash-dependencies").get_json()))

    def post(payload: dict) -> dict:
        response = client.post(UPDATE_PATH, json=payload)
        assert response.status_code == 200, response.status_code
        return response.get_json()

    validation_s, preview_s, edit_s = [], [], []
    for i in range(CONFIGURE_WARMUP + CONFIGURE_SAMPLES):
        v_payload, p_payload = validation_payload(validation, i), preview_payload(preview, i)
        v_time, v_body = timed(post, v_payload)
        p_time, p_body = timed(post, p_payload)
        if i == 0:
            check_configure_answer(v_body, p_body)
        if i >= CONFIGURE_WARMUP:
            validation_s.append(v_time)
            preview_s.append(p_time)
            edit_s.append(v_time + p_time)
    report_configure("in process (Flask test client)", validation_s, preview_s, edit_s)


def bench_configure_http(app: AppProcess, access: AccessLog) -> None:
    """Real POSTs to a running app (gunicorn, 2 workers), one session editing; server time from the log."""
    validation, preview = configure_specs(app.callbacks())
    round_trip = []
    for i in range(CONFIGURE_WARMUP + CONFIGURE_SAMPLES):
        tag = "validate" if i >= CONFIGURE_WARMUP else "warmup"
        v_time, (v_status, v_body) = app.update(validation_payload(validation, i), tag)
        p_time, (p_status, p_body) = app.update(preview_payload(preview, i), f"{tag}-preview")
        assert v_status == 200 and p_status == 200, (v_status, p_status)
        if i == 0:
            check_configure_answer(v_body, p_body)
        if i >= CONFIGURE_WARMUP:
            round_trip.append(v_time + p_time)
    time.sleep(0.5)  # let the workers flush their access log lines
    validation_s = [ms / 1e3 for ms in access.server_ms("bench=validate ")]
    preview_s = [ms / 1e3 for ms in access.server_ms("bench=validate-preview ")]
    edits = [v + p for v, p in zip(validation_s, preview_s, strict=False)]
    print(f"  HTTP round trip per edit (both POSTs): p95 {percentile(round_trip, 0.95) * 1e3:.1f} ms")
    report_configure("HTTP to gunicorn -w 2, server time", validation_s, preview_s, edits)


# --------------------------------------------------------------------------- (b) Monitor


class Session(Poller):
    """One browser watching the 10,000-point sweep: the refresh callback every POLL_EVERY_S, then the
    heatmap callback the new status triggers (as the renderer chains them)."""

    interval_s = POLL_EVERY_S

    def __init__(
        self, app: AppProcess, poll: CallbackSpec, heatmap: CallbackSpec, name: str, tag: str
    ) -> None:
        super().__init__()
        self.app, self.poll, self.heatmap, self.name, self.tag = app, poll, heatmap, name, tag
        self.poll_s: list[float] = []
        self.heatmap_s: list[float] = []

    def poll_once(self, tick: int) -> None:
        common = {"monitor-run.value": "latest", "shell-theme.data": "light", "monitor-name.data": self.name}
        poll = self.poll.payload({**common, "monitor-interval.n_intervals": tick})
        elapsed, (status, body) = self.app.update(poll, self.tag)
        if status != 200:
            self.errors.append(f"refresh answered {status}")
            return
        self.poll_s.append(elapsed)
        values = {
            **common,
            "monitor-status.data": response_value(body, "monitor-status", "data"),
            "monitor-view.value": "coverage",
            "monitor-x.value": "lookback_period",
            "monitor-y.value": "entry_threshold",
        }
        heatmap = self.heatmap.payload(values, changed="monitor-status.data")
        elapsed, (status, _) = self.app.update(heatmap, f"{self.tag}-heatmap")
        if status != 200:
            self.errors.append(f"heatmap answered {status}")
            return
        self.heatmap_s.append(elapsed)


def load(
    app: AppProcess, specs: tuple[CallbackSpec, CallbackSpec], name: str, sessions: int, tag: str
) -> list[Session]:
    """`sessions` threads polling for LOAD_SECONDS, each from its own random phase in the interval."""
    return poll_together([Session(app, *specs, name=name, tag=tag) for _ in range(sessions)], LOAD_SECONDS)


def bench_monitor(
    app: AppProcess, access: AccessLog, airflow: FakeAirflowServer, config: SweepConfig
) -> None:
    specs = app.callbacks()
    poll, heatmap = (
        find_callback(specs, "monitor-kpis.children"),
        find_callback(specs, "monitor-heatmap.figure"),
    )
    # Warm both workers and the status cache, and check the answer is the 10,000-point status.
    warm = Session(app, poll, heatmap, config.name, "warmup")
    for tick in range(6):
        warm.poll_once(tick + 1)
    assert not warm.errors, warm.errors
    time.sleep(POLL_EVERY_S)  # the status cache expires: each phase starts cold
    airflow.reset_count()
    warm.poll_once(7)
    per_poll = airflow.count  # upstream requests of one status poll of this sweep
    time.sleep(POLL_EVERY_S)

    airflow.reset_count()
    one = load(app, (poll, heatmap), config.name, 1, "one")
    upstream_one = airflow.count
    time.sleep(POLL_EVERY_S)
    airflow.reset_count()
    many = load(app, (poll, heatmap), config.name, SESSIONS, "many")
    upstream_many = airflow.count
    time.sleep(0.5)

    errors = errors_of(one, many)
    server = access.server_ms("bench=many ")
    server_heatmap = access.server_ms("bench=many-heatmap ")
    round_trip = [s * 1e3 for w in many for s in w.poll_s]
    print(load_line(f"{SESSIONS} sessions", POLL_EVERY_S, LOAD_SECONDS, WORKERS, access, "many", errors))
    print(f"  refresh callback server time: {spread(server)}; round trip {spread(round_trip)}")
    print(f"  heatmap callback (chained after each refresh) server time: {spread(server_heatmap)}")
    report(
        f"monitor refresh callback, 10,000 points, {SESSIONS} sessions, server time p95",
        percentile(server, 0.95),
        "ms",
        MONITOR_P95_MS,
    )
    report("monitor refresh errors", len(errors), "errors", 0)
    ttl_s = POLL_EVERY_S * STATUS_TTL_FRACTION  # the status cache lives a little less than a refresh
    lifetimes = LOAD_SECONDS / ttl_s
    print(
        f"  upstream Airflow requests in {LOAD_SECONDS:g} s: 1 session {upstream_one}, {SESSIONS} sessions "
        f"{upstream_many}, at {per_poll} requests per status poll: {upstream_one / per_poll:.0f} vs "
        f"{upstream_many / per_poll:.0f} polls; the status cache lives {ttl_s:g} s"
        f" ({STATUS_TTL_FRACTION:g} of the {POLL_EVERY_S:g}-s refresh, so each refresh sees a fresh status):"
        f" {lifetimes:.2f} cache lifetimes"
    )
    report(
        f"upstream status polls in {LOAD_SECONDS:g} s, {SESSIONS} sessions (at most one per cache lifetime)",
        upstream_many / per_poll,
        "polls",
        math.floor(lifetimes) + 1,
    )


# --------------------------------------------------------------------------- (c) cold start


def bench_cold_start(workspace: Path, airflow_url: str) -> None:
    import subprocess

    seconds = []
    for attempt in range(COLD_STARTS):
        port = free_port()
        env = app_env(workspace, port, airflow_url, cache=f"cache-cold-{attempt}")
        log_path = workspace / f"cold-{attempt}.log"
        with open(log_path, "w") as log:
            started = time.perf_counter()
            process = subprocess.Popen(
                python_app_command(), cwd=Path(__file__).resolve().parent.parent, env=env,
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        try:
            wait_until_up(f"http://127.0.0.1:{port}/", process)
            seconds.append(time.perf_counter() - started)
        finally:
            stop_group(process)
    runs = ", ".join(f"{s:.2f}" for s in seconds)
    print(f"  cold starts: {runs} s (spawn `python app.py`, then GET / until it answers 200)")
    report("app cold start to first page served, median of 3", statistics.median(seconds), "s", COLD_START_S)


# --------------------------------------------------------------------------- (d) memory after the flow


def bench_rss(workspace: Path, airflow_url: str, big_sweep: str) -> None:
    port = free_port()
    env = app_env(workspace, port, airflow_url, cache="cache-rss", REFRESH_INTERVAL_S="2")
    with run_app(python_app_command(), env, workspace / "rss.log") as app:
        before, _ = tree_rss_mb(app.pid)
        errors = drive_main_flow(app.url, big_sweep, RSS_WATCH_S)
        main, children = tree_rss_mb(app.pid)
    kids = ", ".join(f"{pid}: {mb:.0f} MB" for pid, mb in children.items()) or "none left"
    print(
        f"  `python app.py` RSS: {before:.0f} MB after start, {main:.0f} MB after the flow; children: {kids};"
        f" browser console errors: {len(errors)}"
    )
    report("app process RSS after the e2e flow", main, "MB", RSS_MB)
    report("app process + children RSS after the e2e flow", main + sum(children.values()), "MB", RSS_MB)


# --------------------------------------------------------------------------- main


def main() -> int:
    print("Airflow: a fake over HTTP (bench/fake_airflow.py) holding a 10,000-point run with "
          "1,000 mapped task instances (600 chunks done, 50 running, 20 failed, 330 queued)")  # fmt: skip
    with bench_workspace("bench-app-") as workspace:
        server, config, _ = seeded_airflow(workspace, seed_10k_sweep, max_grid_points=MAX_GRID_POINTS)
        with server as airflow:
            section("(a) Configure: validation + grid size + DAG preview callbacks, 10^6-point draft")
            bench_configure_in_process(workspace, airflow.url)
            env = {"MAX_GRID_POINTS": str(MAX_GRID_POINTS), "REFRESH_INTERVAL_S": str(int(POLL_EVERY_S))}
            with run_gunicorn(workspace, airflow.url, "gunicorn", WORKERS, **env) as (app, access):
                bench_configure_http(app, access)
                size, tasks = f"{config.grid_size:,}", f"{config.task_count:,}"
                section(f"(b) Monitor refresh: {size}-point sweep, {tasks} mapped tasks")
                bench_monitor(app, access, airflow, config)

            section("(c) cold start")
            bench_cold_start(workspace, airflow.url)
            section("(d) memory after the main flow (Playwright, headless Chromium)")
            bench_rss(workspace, airflow.url, config.name)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
