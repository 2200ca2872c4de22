"""A 10,000-point sweep through the real local Airflow: chunks sized by the rule, coverage growing within
chunks (their progress records), every point's result at the end."""

from __future__ import annotations

import json
import os
import time

import pytest

from airflow_backtest_framework import engine_contract as ec
from airflow_backtest_framework.chunking import LOCAL_TASKS_PER_CPU
from airflow_backtest_framework.config import SweepConfig
from services.airflow.models import TaskState
from services.bootstrap import build_services
from services.models import PointState
from services.ports import Services
from services.settings import Settings
from tests.support.live_airflow import patient_client

RUN_TIMEOUT_S = 900
POLL_S = 0.5
LARGE_GRID = {  # 100 x 10 x 10 x 1 = 10,000 points
    "momentum_period": "10:109:100",
    "signal_threshold": "0.01:0.1:10",
    "stop_loss_pct": "0.05:0.1:10",
    "cooldown_period": "5",
}


def large_sweep(name: str) -> SweepConfig:
    return SweepConfig(
        name=name,
        strategy="MomentumStrategy",
        params=LARGE_GRID,
        universe=["AAPL", "MSFT", "GOOGL", "AMZN", "JPM"],
        start_date="2022-01-01",
        end_date="2023-12-31",
        owner="tester",
    )


@pytest.fixture(scope="module")
def services(airflow_stack: Settings, tmp_path_factory: pytest.TempPathFactory) -> Services:
    scratch = tmp_path_factory.mktemp("app")
    settings = airflow_stack.model_copy(
        update={"app_data_dir": scratch / "data", "cache_dir": scratch / "cache", "refresh_interval_s": 0.5}
    )
    return build_services(settings)


def test_10000_point_sweep_runs_in_the_planned_chunks_with_live_coverage(services: Services) -> None:
    settings = services.settings
    config = large_sweep(f"it_large_{int(time.time())}")
    planned = config.chunks(settings.task_profile)
    # one wave: 3 tasks a CPU within the slots beside `validate` (2 CPUs, parallelism 8: 6 of ~1,667)
    wave = min(settings.airflow_parallelism - 1, LOCAL_TASKS_PER_CPU * (os.cpu_count() or 1))
    assert config.grid_size == 10_000 and len(planned) == wave
    assert services.deployer.deploy(config).ok
    run = services.runs.trigger(config)

    coverage_before_any_chunk_ended: list[float] = []
    deadline = time.monotonic() + RUN_TIMEOUT_S
    while True:
        status = services.monitor.status(config, run.run_id)
        if status.run is not None and status.run.state in ("success", "failed"):
            break
        chunks_done = status.task_counts.get(TaskState.SUCCESS, 0) > 1  # `plan`, then a chunk
        if not chunks_done and status.coverage > 0:
            coverage_before_any_chunk_ended.append(status.coverage)
        assert time.monotonic() < deadline, f"{config.dag_id} did not finish within {RUN_TIMEOUT_S} s"
        time.sleep(POLL_S)

    assert status.run.state == "success", status.run
    assert status.coverage == 1.0 and status.point_counts()[PointState.DONE] == 10_000
    assert status.summary is not None and status.summary.points_done == 10_000
    # Coverage moved while the first chunks ran, from their progress records: not one jump per chunk.
    assert len(set(coverage_before_any_chunk_ended)) >= 3, coverage_before_any_chunk_ended

    client = patient_client(settings)
    chunk_tis = [
        ti for ti in client.list_task_instances(config.dag_id, run.run_id) if ti.task_id == "run_chunk"
    ]
    assert sorted(ti.map_index for ti in chunk_tis) == list(range(wave))
    run_folder = settings.results_root / config.dag_id / run.run_id
    plan = json.loads((run_folder / ec.PLAN_FILE).read_text())
    assert [tuple(chunk) for chunk in plan["chunks"]] == planned and plan["space_filling"] is True
    assert services.results.done_indices(config.dag_id, run.run_id) == set(range(10_000))
    records = [json.loads(path.read_text()) for path in (run_folder / ec.PROGRESS_DIR).glob("*.json")]
    assert sorted((r["start"], r["count"]) for r in records) == planned
    assert all(r["done"] == r["count"] and not r["failed"] for r in records)
