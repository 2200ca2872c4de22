"""Large sweeps on the local stack (issue 15): a 10,000-point sweep, 20 symbols x 10 years, trigger->success,
beside the engine alone on the same points and cores, measured in the same run; with `--100k` (or
`--only-100k`) Monitor's cold refresh of a running 100,000-point sweep, which is then stopped, and with
`--100k-full` that sweep run to its end as well.

Starts its own Airflow (port BACKTEST_BENCH_AIRFLOW_PORT, default 28091; home .local/bench-large-airflow)
and stops it at the end. Other work on the machine slows both figures; the ratio is the fairer one.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from airflow_backtest_framework import engine_contract as ec
from airflow_backtest_framework.config import SweepConfig
from bench.common import failures, report, section
from scripts import local_airflow
from services.airflow.client import AirflowClient
from services.airflow.http import HttpTransport
from services.bootstrap import build_services, shared_cache
from services.errors import Unavailable
from services.monitoring import MonitorService
from services.results import ResultsService
from services.settings import PROJECT_ROOT, load_settings
from services.storage import LocalFolderStore

HOME = PROJECT_ROOT / ".local" / "bench-large-airflow"
PORT = int(os.environ.get("BACKTEST_BENCH_AIRFLOW_PORT", "28091"))
CORES = 2
SYMBOLS_20 = [f"S{i:03d}" for i in range(20)]
GRID_10K = {
    "momentum_period": "10:109:100",
    "signal_threshold": "0.01:0.1:10",
    "stop_loss_pct": "0.05:0.1:10",
    "cooldown_period": "5",
}
GRID_100K = {**GRID_10K, "cooldown_period": "0:9:10"}
POLL_S = 0.25
LOCAL_PAGE_SIZE = 1000  # the local stack raises Airflow's maximum_page_limit to this


def large_sweep(prefix: str, params: dict[str, str]) -> SweepConfig:
    return SweepConfig(
        name=f"{prefix}_{int(time.time())}",
        strategy="MomentumStrategy",
        params=params,
        universe=SYMBOLS_20,
        start_date="2015-01-01",
        end_date="2024-12-31",
        owner="bench",
    )


def engine_only_seconds(config: SweepConfig, processes: int = CORES) -> float:
    """The engine alone on every point of `config`: `processes` engine processes (one per core), each a
    contiguous half of the run order, writing to a scratch folder; wall time from start to the last exit."""
    scratch = Path(tempfile.mkdtemp(prefix="bench-engine-"))
    size = config.grid_size
    share = -(-size // processes)
    spec = config.to_json()
    started = time.perf_counter()
    procs = []
    for start in range(0, size, share):
        env = ec.engine_environment(
            spec_json=spec,
            strategy=config.strategy,
            start=start,
            count=min(share, size - start),
            results_uri=str(scratch),
            dag_id=config.dag_id,
            run_id="engine_only",
        )
        env["BACKTEST_LOG_LEVEL"] = "WARNING"
        procs.append(subprocess.Popen([sys.executable, "-m", "backtest_engine"], env={**os.environ, **env}))
    codes = [proc.wait() for proc in procs]
    seconds = time.perf_counter() - started
    written = len(list((scratch / config.dag_id / "engine_only" / ec.POINTS_DIR).iterdir()))
    shutil.rmtree(scratch, ignore_errors=True)
    assert codes == [0] * len(procs) and written == size, (codes, written)
    return seconds


def final_state(services, config: SweepConfig) -> str | None:
    """The newest run's state once it ended; None while it runs or while Airflow is too busy to answer
    (a saturated 2-core machine can keep its API past the client's timeout: the next poll asks again)."""
    try:
        runs = services.runs.list_runs(config, limit=1)
    except Unavailable as exc:
        print(f"  (poll skipped: {exc})", flush=True)
        return None
    return runs[0].state if runs and runs[0].state in ("success", "failed") else None


def run_sweep(services, config: SweepConfig, timeout_s: float) -> tuple[str, float, str]:
    """Deploy, trigger and wait: (final state, trigger -> end seconds, run id)."""
    assert services.deployer.deploy(config).ok
    started = time.perf_counter()
    run = services.runs.trigger(config)
    state = "timeout"
    while time.perf_counter() - started < timeout_s:
        if ended := final_state(services, config):
            state = ended
            break
        time.sleep(POLL_S)
    return state, time.perf_counter() - started, run.run_id


def print_timeline(settings, config: SweepConfig, run_id: str) -> None:
    """Where the run's time went: per task, when its first instance started and its last ended (seconds
    after the run was queued) and the sum of its instances' durations."""
    client = AirflowClient(HttpTransport.from_settings(settings), page_size=LOCAL_PAGE_SIZE)
    run = client.get_run(config.dag_id, run_id)
    origin = run.queued_at or run.start_date
    instances = client.list_task_instances(config.dag_id, run_id)
    for task_id in dict.fromkeys(
        ti.task_id for ti in sorted(instances, key=lambda ti: ti.start_date or origin)
    ):
        mine = [ti for ti in instances if ti.task_id == task_id and ti.start_date and ti.end_date]
        if not mine or origin is None:
            continue
        first = min(ti.start_date for ti in mine) - origin
        last = max(ti.end_date for ti in mine) - origin
        busy = sum(ti.duration or 0.0 for ti in mine)
        print(
            f"  {task_id:<12} x{len(mine):<3} {first.total_seconds():6.1f} s ->"
            f" {last.total_seconds():6.1f} s, {busy:7.1f} task-seconds"
        )
    if origin and run.end_date:
        print(f"  run queued -> ended: {(run.end_date - origin).total_seconds():.1f} s")


def bench_10k(services, settings) -> None:
    config = large_sweep("bench_large10k", GRID_10K)
    profile = settings.task_profile
    assert config.grid_size == 10_000
    section(f"10,000-point sweep: {config.tasks(profile)} tasks of ~{config.chunk_size(profile)} ({profile})")
    state, seconds, run_id = run_sweep(services, config, timeout_s=1_200)
    done = len(services.results.done_indices(config.dag_id, run_id))
    print(f"  {state} in {seconds:.1f} s, {done:,} point results", flush=True)
    print_timeline(settings, config, run_id)
    section("the engine alone on the same points")
    engine = engine_only_seconds(config)
    print(f"  the engine alone, same points, {CORES} processes: {engine:.1f} s", flush=True)
    ok = state == "success" and done == 10_000
    report("10,000-point sweep trigger -> success (local, 2 cores)", seconds if ok else float("inf"), "s", 60)
    report(
        "10,000-point sweep / engine alone on the same cores",
        seconds / engine if ok else float("inf"),
        "x",
        3,
    )


def cold_refreshes(settings, config: SweepConfig, run_id: str, rounds: int = 5) -> list[float]:
    """Monitor's status of the run with every cache emptied first (what a new viewer's first poll costs)."""
    cache = shared_cache(settings)
    client = AirflowClient(HttpTransport.from_settings(settings), page_size=LOCAL_PAGE_SIZE)
    monitor = MonitorService(client, ResultsService(LocalFolderStore(settings.results_root)), cache, ttl_s=60)
    seconds = []
    for _ in range(rounds):
        cache.clear()
        began = time.perf_counter()
        status = monitor.status(config, run_id)
        seconds.append(time.perf_counter() - began)
        time.sleep(1)
    print(f"  cold refreshes at {status.coverage:.1%} coverage: {', '.join(f'{s:.2f}' for s in seconds)} s")
    return seconds


def bench_100k(services, settings, full: bool) -> None:
    """100,000 points (32 tasks of 3,125): Monitor's cold refresh while it runs; with `full`, the run to
    its end (~10x the 10,000-point sweep), else the run is stopped once the refreshes are measured."""
    config = large_sweep("bench_large100k", GRID_100K)
    assert config.grid_size == 100_000
    section(f"100,000-point sweep: {config.tasks(settings.task_profile)} tasks")
    assert services.deployer.deploy(config).ok
    started = time.perf_counter()
    run = services.runs.trigger(config)
    while not services.results.live_progress(config.dag_id, run.run_id).done:  # the first progress record
        assert time.perf_counter() - started < 600, "no point done after 10 minutes"
        time.sleep(1)
    cold = cold_refreshes(settings, config, run.run_id)
    report("monitor refresh of a running 100,000-point sweep, cache cold (median of 5)",
           statistics.median(cold) * 1e3, "ms", 1e3)  # fmt: skip
    if not full:
        client = AirflowClient(HttpTransport.from_settings(settings))
        client.set_run_state(config.dag_id, run.run_id, "failed")  # stop its tasks
        print("100,000-point sweep trigger -> success: not run (--100k-full runs it; stopped here)")
        return
    state = "timeout"
    while time.perf_counter() - started < 30 * 60:
        if ended := final_state(services, config):
            state = ended
            break
        time.sleep(2)
    seconds = time.perf_counter() - started
    done = len(services.results.done_indices(config.dag_id, run.run_id))
    print(f"  {state} in {seconds:.1f} s, {done:,} point results", flush=True)
    print_timeline(settings, config, run.run_id)
    ok = state == "success" and done == 100_000
    report("100,000-point sweep trigger -> success (local)", seconds if ok else float("inf"), "s", 900)


def main(argv: list[str]) -> int:
    settings = load_settings(
        airflow_url=f"http://127.0.0.1:{PORT}",
        airflow_home=HOME,
        local_dags_folder=HOME / "dags",
        results_root=PROJECT_ROOT / ".local" / "bench-large-results",
        app_data_dir=HOME / "app",
        cache_dir=HOME / "cache",
    )
    local_airflow.start(settings)
    try:
        services = build_services(settings)
        if "--only-100k" not in argv:
            bench_10k(services, settings)
        if "--100k" in argv or "--100k-full" in argv or "--only-100k" in argv:
            bench_100k(services, settings, full="--100k-full" in argv)
        else:
            print("100,000-point sweep: not run (pass --100k, or --100k-full to run it to its end)")
    finally:
        local_airflow.stop(settings)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
