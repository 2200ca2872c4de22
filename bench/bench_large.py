"""Large sweeps on the local stack (issue 15): a 10,000-point sweep, 20 symbols x 10 years, trigger->success,
beside the engine alone on the same points and cores, measured in the same run; optionally (`--100k`) a
100,000-point sweep with Monitor's cold refresh while it runs.

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
from bench.common import failures, report
from scripts import local_airflow
from services.airflow.client import AirflowClient
from services.airflow.http import HttpTransport
from services.bootstrap import build_services, shared_cache
from services.monitoring import MonitorService
from services.settings import PROJECT_ROOT, load_settings

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


def run_sweep(services, config: SweepConfig, timeout_s: float, during=None) -> tuple[str, float, str]:
    """Deploy, trigger and wait: (final state, trigger -> end seconds, run id); `during(run_id)` each poll."""
    assert services.deployer.deploy(config).ok
    started = time.perf_counter()
    run = services.runs.trigger(config)
    state = "timeout"
    while time.perf_counter() - started < timeout_s:
        runs = services.runs.list_runs(config, limit=1)
        if runs and runs[0].state in ("success", "failed"):
            state = runs[0].state
            break
        if during is not None:
            during(run.run_id)
        time.sleep(POLL_S)
    return state, time.perf_counter() - started, run.run_id


def bench_10k(services, settings) -> None:
    config = large_sweep("bench_large10k", GRID_10K)
    profile = settings.task_profile
    assert config.grid_size == 10_000
    print(f"10,000-point sweep: {config.tasks(profile)} tasks of ~{config.chunk_size(profile)} ({profile})")
    state, seconds, run_id = run_sweep(services, config, timeout_s=1_200)
    done = len(services.results.done_indices(config.dag_id, run_id))
    print(f"  {state} in {seconds:.1f} s, {done:,} point results", flush=True)
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


def bench_100k(services, settings) -> None:
    config = large_sweep("bench_large100k", GRID_100K)
    assert config.grid_size == 100_000
    print(f"100,000-point sweep: {config.tasks(settings.task_profile)} tasks", flush=True)
    cache = shared_cache(settings)
    client = AirflowClient(HttpTransport.from_settings(settings), page_size=LOCAL_PAGE_SIZE)
    monitor = MonitorService(client, services.results, cache, ttl_s=60)
    cold: list[float] = []

    def refresh(run_id: str) -> None:
        if len(cold) < 30 and int(time.monotonic()) % 10 == 0:  # a cold refresh every ~10 s, 30 at most
            cache.clear()
            began = time.perf_counter()
            monitor.status(config, run_id)
            cold.append(time.perf_counter() - began)

    state, seconds, run_id = run_sweep(services, config, timeout_s=30 * 60, during=refresh)
    done = len(services.results.done_indices(config.dag_id, run_id))
    print(f"  {state} in {seconds:.1f} s, {done:,} point results; {len(cold)} cold refreshes", flush=True)
    ok = state == "success" and done == 100_000
    report(
        "100,000-point sweep trigger -> success (local, 2 cores)", seconds if ok else float("inf"), "s", 900
    )
    if cold:
        report(
            "monitor refresh while it runs, cache cold (median)", statistics.median(cold) * 1e3, "ms", 1000
        )


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
        bench_10k(services, settings)
        if "--100k" in argv:
            bench_100k(services, settings)
        else:
            print("100,000-point sweep: not run (pass --100k)")
    finally:
        local_airflow.stop(settings)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
