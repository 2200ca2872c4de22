"""The chunk sizing rule, the space-filling run order, the engine's progress records and the plan file."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from airflow_backtest_framework import engine_contract as ec
from airflow_backtest_framework.chunking import (
    BATCH_MIN_POINTS_PER_JOB,
    MAX_TASKS,
    ExecutorProfile,
    contiguous_runs,
    describe_plan,
    points_per_task,
    run_order,
    space_filling_cells,
)
from airflow_backtest_framework.dag_factory import _plan, executor_profile
from airflow_backtest_framework.results_store import open_results_store, record_indices
from backtest_engine import main
from backtest_engine.progress import thin_history
from tests.support.engine_runs import RUN_ID, make_env
from tests.support.sweeps import small_sweep

LOCAL8 = ExecutorProfile("local", 8, cpus=2)  # the README's local stack: parallelism 8 on 2 CPUs


def test_local_sweeps_get_one_wave_of_a_few_tasks_per_cpu() -> None:
    per_task = points_per_task(10_000, LOCAL8)
    assert per_task == 1_667 and describe_plan(10_000, per_task) == "10,000 points in 6 tasks of ~1,667"
    assert describe_plan(100_000, points_per_task(100_000, LOCAL8)) == "100,000 points in 6 tasks of ~16,667"
    # more CPUs, more tasks; never more than the slots left beside the validate task (one wave)
    assert points_per_task(10_000, ExecutorProfile("local", 32, cpus=8)) == 417  # 24 tasks
    assert points_per_task(10_000, ExecutorProfile("local", 8, cpus=16)) == 1_429  # 7 tasks
    assert points_per_task(10_000, ExecutorProfile("local", 1, cpus=2)) == 10_000  # one slot: one task
    assert points_per_task(100, LOCAL8) == 20  # a floor: no task of a handful of points
    assert points_per_task(10_000, LOCAL8, override=10) == 10  # the spec's points_per_task wins
    with pytest.raises(ValueError, match="cpus"):
        ExecutorProfile("local", 8, cpus=0)


def test_batch_sweeps_fill_the_queue_with_a_floor_on_points_per_job() -> None:
    assert points_per_task(10_000, ExecutorProfile("batch", 256)) == BATCH_MIN_POINTS_PER_JOB
    assert points_per_task(1_000_000, ExecutorProfile("batch", 256)) == 3_907  # 256 jobs
    assert points_per_task(10_000_000, ExecutorProfile("batch", 4_096)) == 9_766  # Airflow's mapping limit
    assert MAX_TASKS >= 10_000_000 / 9_766
    assert points_per_task(10_000, None) == 10  # runs planned before the rule: 1,000 tasks of 10


def test_executor_profile_comes_from_the_variable_then_airflow_parallelism(monkeypatch) -> None:
    values: dict[str, str] = {}

    class Variables:
        @staticmethod
        def get(name: str) -> str:
            return values[name]

    monkeypatch.setenv("AIRFLOW__CORE__PARALLELISM", "4")
    assert executor_profile("local", Variables) == ExecutorProfile("local", 4)
    assert executor_profile("batch", Variables) == ExecutorProfile("batch", 256)
    values[ec.VAR_TASK_SLOTS] = "64"
    assert executor_profile("batch", Variables) == ExecutorProfile("batch", 64)
    values[ec.VAR_TASK_SLOTS] = "none"  # unreadable: the default, with a warning
    assert executor_profile("local", Variables) == ExecutorProfile("local", 4)


def test_run_order_is_a_permutation_that_keeps_cells_together() -> None:
    order = run_order((12, 10, 3))
    assert sorted(order.tolist()) == list(range(360)) and order.tolist() != list(range(360))
    runs = contiguous_runs(order)
    assert all(count == 3 and first % 3 == 0 for first, count in runs)  # a cell's 3 points stay together
    assert run_order((12, 10, 3), space_filling=False).tolist() == list(range(360))
    assert run_order((7,)).tolist() == [0, 4, 2, 6, 1, 5, 3]


def test_every_prefix_of_the_space_filling_order_covers_the_grid() -> None:
    """After 1/16 of a 64 x 64 grid, every 16 x 16 block holds points (row by row: 4 rows, 4 blocks)."""
    cells = space_filling_cells((64, 64))
    first = cells[: 64 * 64 // 16]
    blocks = {(int(c) // 64 // 16, int(c) % 64 // 16) for c in first}
    assert len(blocks) == 16
    rows, cols = first // 64, first % 64
    assert len(set(rows.tolist())) >= 16 and len(set(cols.tolist())) >= 16
    assert np.ptp(rows) >= 48 and np.ptp(cols) >= 48


def test_a_tenth_of_a_long_grid_reaches_every_column_and_every_tenth_of_the_rows() -> None:
    first = space_filling_cells((100, 10))[:100]
    assert set((first // 10 // 10).tolist()) == set(range(10))  # every tenth of the rows
    assert set((first % 10).tolist()) == set(range(10))  # every column
    assert run_order((100, 10)).flags.writeable is False  # kept per process: nobody may change it


def test_space_filling_is_on_by_default_and_old_specs_keep_their_hash() -> None:
    config = small_sweep(space_filling=True)
    document = json.loads(config.to_json())
    assert "space_filling" not in document  # the default is left out: hashes of earlier specs hold
    off = small_sweep()
    assert json.loads(off.to_json())["space_filling"] is False and off.spec_hash != config.spec_hash
    assert type(config).from_json(config.to_json()).space_filling is True


def test_engine_runs_its_positions_and_writes_progress_records(tmp_path: Path) -> None:
    grid = {"lookback_period": "20:40:4", "entry_threshold": "2.0:3.0:3", "stop_loss_pct": "0.05,0.1"}
    config = small_sweep(params={**grid, "cooldown_period": "5"}, space_filling=True)
    order = config.run_order().tolist()
    assert main(make_env(config, str(tmp_path), start=6, count=8)) == 0
    run = tmp_path / config.dag_id / RUN_ID
    written = {int(path.stem) for path in (run / "points").glob("*.json")}
    assert written == set(order[6:14])
    record = json.loads((run / "progress" / "6.json").read_text())
    assert record["start"] == 6 and record["count"] == 8 and record["done"] == 8 and record["failed"] == []
    assert {i for first, count in record["ranges"] for i in range(first, first + count)} == written
    assert (
        record_indices(open_results_store(str(tmp_path)).progress_records(config.dag_id, RUN_ID)) == written
    )
    # Its history: from 0 at the chunk's start to the 8 points written, in order of time.
    history = record["history"]
    assert history[0][1] == 0 and history[-1][1] == 8
    assert [at for at, _ in history] == sorted(at for at, _ in history)
    assert [done for _, done in history] == sorted(done for _, done in history)


def test_a_long_history_is_thinned_keeping_its_first_and_last_entries() -> None:
    history = [[1_000 + i, i] for i in range(10_001)]
    thinned = thin_history(history, max_entries=240)
    assert len(thinned) <= 240 and thinned[0] == [1_000, 0] and thinned[-1] == [11_000, 10_000]
    assert thinned == sorted(thinned) and thin_history(thinned[:5], max_entries=240) == thinned[:5]


def test_plan_writes_the_chunks_the_tasks_get(tmp_path: Path, monkeypatch) -> None:
    class Variables:
        @staticmethod
        def get(name: str) -> str:
            if name == ec.VAR_RESULTS_URI:
                return str(tmp_path)
            raise KeyError(name)

    monkeypatch.setenv("AIRFLOW__CORE__PARALLELISM", "8")
    monkeypatch.setattr("airflow_backtest_framework.chunking.os.cpu_count", lambda: 2)  # 6 tasks at most
    grid = {"lookback_period": "20:60:10", "entry_threshold": "1:3:10", "stop_loss_pct": "0.05"}
    config = small_sweep(params={**grid, "cooldown_period": "5"})
    envs = _plan(config, "local", Variables, RUN_ID)
    ranges = [(int(env[ec.ENV_CHUNK_START]), int(env[ec.ENV_CHUNK_COUNT])) for env in envs]
    assert ranges == [(0, 20), (20, 20), (40, 20), (60, 20), (80, 20)]  # the floor of 20 points a task
    plan = json.loads((tmp_path / config.dag_id / RUN_ID / "plan.json").read_text())
    assert [tuple(chunk) for chunk in plan["chunks"]] == ranges and plan["space_filling"] is False


@pytest.mark.parametrize("size", [1, 2, 5, 17, 100])
def test_one_dimensional_orders_are_permutations(size: int) -> None:
    assert sorted(run_order((size,)).tolist()) == list(range(size))


def test_the_local_engine_runs_below_airflows_and_the_apps_priority() -> None:
    """A sweep fills every CPU; the engine runs niced so Airflow's API and the app still answer."""
    import os
    import subprocess

    from airflow_backtest_framework.dag_factory import ENGINE_NICENESS, engine_command

    command = engine_command()
    assert command[-2:] == ["-m", "backtest_engine"]
    probe = [*command[:-2], "-c", "import os; print(os.nice(0))"]  # the same launcher, asked its niceness
    shown = subprocess.run(probe, capture_output=True, text=True, check=True).stdout.strip()
    assert int(shown) == min(19, os.nice(0) + ENGINE_NICENESS)
