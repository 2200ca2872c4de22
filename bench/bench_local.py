"""Local stack: deploy-to-registered time, a 100-point sweep end to end, monitoring a 10,000-point sweep.

Starts its own Airflow (port 28090, home .local/bench-airflow) and stops it at the end.
"""

from __future__ import annotations

import statistics
import sys
import threading
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from airflow_backtest_framework.catalog import STRATEGIES
from airflow_backtest_framework.config import SweepConfig
from bench.common import failures, report
from scripts import local_airflow
from services.airflow.client import AirflowClient
from services.airflow.http import HttpTransport
from services.airflow.transport import ApiRequest, ApiResponse
from services.bootstrap import build_services, shared_cache
from services.monitoring import MonitorService
from services.settings import PROJECT_ROOT, load_settings

HOME = PROJECT_ROOT / ".local" / "bench-airflow"
DEPLOY_ROUNDS = 5
RUN_TIMEOUT_S = 300
READERS = 20
LOCAL_PAGE_SIZE = 1000  # the local stack raises Airflow's maximum_page_limit to this
SYMBOLS_100 = [f"S{i:03d}" for i in range(100)]
BASE = {
    "strategy": "MeanReversionStrategy",
    "universe": SYMBOLS_100,
    "start_date": "2015-01-01",
    "end_date": "2024-12-31",
    "owner": "bench",
}


class CountingTransport:
    """Counts the requests that reach Airflow."""

    def __init__(self, inner: HttpTransport) -> None:
        self.inner = inner
        self.count = 0
        self._lock = threading.Lock()

    def __call__(self, request: ApiRequest) -> ApiResponse:
        with self._lock:
            self.count += 1
        return self.inner(request)


def bench_sweep(prefix: str, expressions: tuple[str, ...], **fields: object) -> SweepConfig:
    """A BASE sweep of a name of its own, its grid one expression per parameter in the catalog's order."""
    params = dict(zip(STRATEGIES[BASE["strategy"]].param_names, expressions, strict=True))
    return SweepConfig(name=f"{prefix}_{int(time.time())}", params=params, **{**BASE, **fields})


def wait_run(services, config: SweepConfig, run_id: str) -> str:
    deadline = time.monotonic() + RUN_TIMEOUT_S
    while time.monotonic() < deadline:
        state = services.runs.list_runs(config, limit=1)[0].state
        if state in ("success", "failed"):
            return state
        time.sleep(0.5)
    return "timeout"


def bench_deploy(services) -> None:
    seconds = []
    for round_ in range(DEPLOY_ROUNDS):
        config = SweepConfig(
            name=f"bench_deploy_{round_}_{int(time.time())}",
            strategy="MomentumStrategy",
            params={
                "momentum_period": "10",
                "signal_threshold": "0.05",
                "stop_loss_pct": "0.05",
                "cooldown_period": "3",
            },
            universe=["AAPL"],
            start_date="2020-01-01",
            end_date="2021-01-01",
        )
        started = time.perf_counter()
        progress = services.deployer.deploy(config)
        seconds.append(time.perf_counter() - started)
        assert progress.ok, progress.error
    print(f"deploy -> registered and unpaused: {', '.join(f'{s:.2f}' for s in seconds)} s")
    report("deploy -> registered and unpaused, median (local settings)", statistics.median(seconds), "s", 5)
    print(
        "  with Airflow's default [dag_processor] refresh_interval=300 s a new file is seen only after up "
        "to 300 s (configured bound, not measured)"
    )


def bench_run_100(services) -> None:
    config = bench_sweep("bench_run100", ("10:100:10", "1:3:5", "0.05,0.1", "5"))
    assert config.grid_size == 100, config.grid_size
    assert services.deployer.deploy(config).ok
    started = time.perf_counter()
    run = services.runs.trigger(config)
    state = wait_run(services, config, run.run_id)
    seconds = time.perf_counter() - started
    tasks = config.tasks(services.settings.task_profile)
    print(f"100-point sweep, 100 symbols x 10 years: {state} in {seconds:.1f} s ({tasks} tasks)")
    report("100-point sweep trigger -> success", seconds if state == "success" else float("inf"), "s", 60)


def bench_monitor_10k(services, settings) -> None:
    config = bench_sweep("bench_mon10k", ("10:109:100", "1:3:10", "0.05:0.1:10", "5"), universe=["AAPL"])
    assert config.grid_size == 10_000
    assert services.deployer.deploy(config).ok
    run = services.runs.trigger(config)
    client = AirflowClient(HttpTransport.from_settings(settings))
    deadline = time.monotonic() + RUN_TIMEOUT_S
    while time.monotonic() < deadline:  # wait until plan expanded run_chunk into its mapped instances
        tis = client.list_task_instances(config.dag_id, run.run_id)
        if sum(ti.task_id == "run_chunk" for ti in tis) >= config.tasks(settings.task_profile):
            break
        time.sleep(1)
    counting = CountingTransport(HttpTransport.from_settings(settings))
    cache = shared_cache(settings)
    monitor = MonitorService(
        AirflowClient(counting, page_size=LOCAL_PAGE_SIZE), services.results, cache, ttl_s=60
    )
    cold = []
    for _ in range(3):
        cache.clear()
        started = time.perf_counter()
        status = monitor.status(config, run.run_id)
        cold.append(time.perf_counter() - started)
    warm = []
    for _ in range(50):
        started = time.perf_counter()
        monitor.status(config, run.run_id)
        warm.append(time.perf_counter() - started)
    print(
        f"10,000-point sweep, {config.tasks(settings.task_profile)} mapped tasks: "
        f"{Counter(status.point_states).most_common(3)}"
    )
    report("monitor refresh, cache cold (median of 3)", statistics.median(cold) * 1e3, "ms", 1000)
    report("monitor refresh, cache warm (p95 of 50)", sorted(warm)[int(0.95 * len(warm))] * 1e3, "ms", 20)

    def requests_per_interval(readers: int) -> int:
        cache.clear()
        counting.count = 0
        threads = [threading.Thread(target=monitor.status, args=(config, run.run_id)) for _ in range(readers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return counting.count

    one, many = requests_per_interval(1), requests_per_interval(READERS)
    print(f"upstream requests per refresh interval: 1 reader {one}, {READERS} readers {many}")
    report(f"upstream requests with {READERS} readers / with 1", many / one, "x", 1.0)
    client.set_run_state(config.dag_id, run.run_id, "failed")  # stop the 1,000 tasks


def main() -> int:
    settings = load_settings(
        airflow_url="http://127.0.0.1:28090",
        airflow_home=HOME,
        local_dags_folder=HOME / "dags",
        results_root=PROJECT_ROOT / ".local" / "bench-results",
        app_data_dir=HOME / "app",
        cache_dir=HOME / "cache",
    )
    started = time.perf_counter()
    local_airflow.start(settings)
    print(f"local Airflow healthy after {time.perf_counter() - started:.1f} s")
    try:
        services = build_services(settings)
        bench_deploy(services)
        bench_run_100(services)
        bench_monitor_10k(services, settings)
    finally:
        local_airflow.stop(settings)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
