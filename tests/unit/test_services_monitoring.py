"""Monitoring: per-point coverage, ETA, the shared cache and stale status on outages."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import diskcache
import pytest

from airflow_backtest_framework.engine_contract import CHUNK_TASK_ID, point_key
from bench.fake_airflow import FakeDagsFolderAirflow
from services.airflow.client import AirflowClient
from services.airflow.models import RunState, TaskInstance, TaskState
from services.deploy import DeployService
from services.models import PointState, RunSummary, SweepStatus
from services.monitoring import MonitorService, RunChunks, point_states
from services.progress import eta_seconds, working_seconds
from services.results import ResultsService
from services.runs import RunService
from services.shared_cache import DiskSharedCache
from services.states import POINT_STATE_OF_TASK, point_state_of_task
from services.storage import LocalFolderStore
from tests.support.sweeps import small_sweep


@pytest.fixture
def world(tmp_path: Path):
    airflow = FakeDagsFolderAirflow(tmp_path / "dags")
    client = AirflowClient(airflow)
    results_store = LocalFolderStore(tmp_path / "results")
    cache = diskcache.Cache(str(tmp_path / "cache"))
    monitor = MonitorService(client, ResultsService(results_store), DiskSharedCache(cache), ttl_s=60)
    config = small_sweep(points_per_task=2)  # 6 points in 3 chunks
    assert (
        DeployService(LocalFolderStore(airflow.dags_folder), client, max_grid_points=None).deploy(config).ok
    )
    return airflow, client, results_store, monitor, cache, config


def write_result(store: LocalFolderStore, config, run_id: str, index: int, sharpe: float) -> None:
    record = {
        "index": index,
        "params": config.point(index),
        "metrics": {
            "sharpe": sharpe,
            "total_return": 0.1,
            "cagr": 0.05,
            "annual_volatility": 0.2,
            "sortino": 1.0,
            "max_drawdown": -0.1,
            "trades": 3,
            "win_rate": 0.5,
            "turnover": 1.0,
        },
    }
    store.put(point_key(config.dag_id, run_id, index), json.dumps(record).encode())


def expire_live_entries(cache: diskcache.Cache) -> None:
    """What the TTL does after an interval: the live entries go, the last known status stays."""
    for key in list(cache.iterkeys()):
        if not str(key).endswith(":last"):
            cache.delete(key)


def ti(map_index: int, state: str | None) -> TaskInstance:
    return TaskInstance(dag_id="d", run_id="r", task_id=CHUNK_TASK_ID, map_index=map_index, state=state)


def test_point_states_follow_chunks_and_result_files() -> None:
    config = small_sweep(points_per_task=2)
    states = point_states(config, [ti(0, "success"), ti(1, "running"), ti(2, "failed")], done={0, 1, 2})
    assert states == [
        PointState.DONE,
        PointState.DONE,
        PointState.DONE,
        PointState.RUNNING,
        PointState.FAILED,
        PointState.FAILED,
    ]
    assert point_states(config, [ti(0, "queued")], done=set())[:3] == [PointState.QUEUED] * 2 + [
        PointState.NOT_STARTED
    ]
    # A chunk that "succeeded" without writing a point did not compute it.
    assert point_states(config, [ti(0, "success")], done={0})[1] == PointState.FAILED


def test_point_states_map_planned_chunks_through_the_space_filling_order() -> None:
    grid = {
        "lookback_period": "5:40:8",
        "entry_threshold": "0.5:4:8",
        "stop_loss_pct": "0.05",
        "cooldown_period": "5",
    }
    config = small_sweep(params=grid, space_filling=True)
    order = config.run_order().tolist()
    assert sorted(order) == list(range(64)) and order != list(range(64))
    plan = RunChunks([(0, 16), (16, 16), (32, 16), (48, 16)], space_filling=True)  # what `plan` wrote
    states = point_states(config, [ti(0, "running"), ti(3, "success")], done=set(order[48:63]), plan=plan)
    assert [index for index, state in enumerate(states) if state is PointState.RUNNING] == sorted(order[:16])
    assert {index for index, state in enumerate(states) if state is PointState.DONE} == set(order[48:63])
    assert [index for index, state in enumerate(states) if state is PointState.FAILED] == [order[63]]
    # The first chunk's 16 points spread over the 8 x 8 grid: every row and column pair holds some.
    rows = {index // 8 // 2 for index in order[:16]}
    cols = {index % 8 // 2 for index in order[:16]}
    assert rows == cols == {0, 1, 2, 3}
    # A run planned before plan files ran its chunks in the grid's own order, whatever the spec says.
    old_run = RunChunks([(0, 16)], space_filling=False)
    legacy = point_states(config, [ti(0, "running")], done=set(), plan=old_run)
    assert [i for i, state in enumerate(legacy) if state is PointState.RUNNING] == list(range(16))


def test_every_task_state_has_one_point_state_and_waiting_ones_are_started() -> None:
    assert set(POINT_STATE_OF_TASK) == set(TaskState)
    # The task instance exists and waits: never "not started".
    assert point_state_of_task(TaskState.AWAITING_INPUT) is PointState.QUEUED
    assert point_state_of_task(TaskState.DEFERRED) is PointState.RUNNING  # its Batch job runs meanwhile
    assert point_state_of_task(TaskState.parse("quantum")) is PointState.NOT_STARTED
    config = small_sweep(points_per_task=2)
    assert point_states(config, [ti(0, "awaiting_input")], done=set())[:2] == [PointState.QUEUED] * 2


def test_states_stay_enums_across_the_boundary_and_unknown_strings_do_not_crash() -> None:
    from datetime import UTC, datetime

    status = SweepStatus(
        dag_id="d",
        run=RunSummary(run_id="r", state="quantum"),
        task_counts={"success": 2, "new_state": 1, "other_new": 2, None: 1},
        fetched_at=datetime(2026, 1, 1, tzinfo=UTC),
    )

    assert status.run.state is RunState.UNKNOWN
    assert status.task_counts == {TaskState.SUCCESS: 2, TaskState.UNKNOWN: 3, TaskState.NONE: 1}
    again = SweepStatus.model_validate(status.model_dump(mode="json"))  # what a dcc.Store holds
    assert again == status and all(isinstance(state, TaskState) for state in again.task_counts)


def test_eta_uses_the_average_rate() -> None:
    assert eta_seconds(done=25, total=100, elapsed_s=10) == pytest.approx(30)
    assert eta_seconds(done=0, total=100, elapsed_s=10) is None
    assert eta_seconds(done=100, total=100, elapsed_s=10) == 0.0


def test_no_eta_before_a_hundredth_of_the_grid_is_done() -> None:
    assert eta_seconds(done=99, total=10_000, elapsed_s=3) is None
    assert eta_seconds(done=100, total=10_000, elapsed_s=3) == pytest.approx(297)
    assert eta_seconds(done=1, total=20, elapsed_s=3) == pytest.approx(57)  # a small grid: from point one


def test_the_eta_clock_starts_with_the_first_chunk_not_the_run() -> None:
    now = datetime(2026, 1, 1, 12, 0, 30, tzinfo=UTC)

    def chunk(index: int, started_s: int | None) -> TaskInstance:
        start = None if started_s is None else now - timedelta(seconds=started_s)
        return TaskInstance(dag_id="d", run_id="r", task_id=CHUNK_TASK_ID, map_index=index, start_date=start)

    assert working_seconds([chunk(0, 12), chunk(1, 10), chunk(2, None)], now) == pytest.approx(12)
    assert working_seconds([chunk(0, None)], now) is None


def test_status_before_any_run(world) -> None:
    _, _, _, monitor, _, config = world
    status = monitor.status(config)
    assert status.run is None and status.is_paused is False
    assert status.points_total == 6 and status.point_counts()[PointState.NOT_STARTED] == 6
    assert not status.stale


def test_running_then_finished_run_with_coverage_and_best_points(world) -> None:
    airflow, client, store, monitor, cache, config = world
    run = RunService(client).trigger(config)
    airflow.set_states(config.dag_id, run.run_id, "running", {0: "success", 1: "running", 2: "scheduled"})
    for index, sharpe in ((0, 0.5), (1, 1.5), (2, 0.7)):
        write_result(store, config, run.run_id, index, sharpe)
    status = monitor.status(config)
    counts = status.point_counts()
    assert status.run.state == "running"
    assert counts[PointState.DONE] == 3 and counts[PointState.RUNNING] == 1 and counts[PointState.QUEUED] == 2
    assert status.task_counts["success"] == 1 and status.coverage == pytest.approx(0.5)
    assert status.summary is None

    cache.clear()
    airflow.set_states(config.dag_id, run.run_id, "success", {1: "success", 2: "success"})
    for index, sharpe in ((3, 2.5), (4, -1.0), (5, 0.1)):
        write_result(store, config, run.run_id, index, sharpe)
    done = monitor.status(config)
    assert done.coverage == 1.0 and done.eta_s is None
    assert done.summary.points_done == 6 and done.summary.points_failed == 0
    assert [p.index for p in done.summary.best[:2]] == [3, 1]
    assert done.summary.best[0].params == config.point(3)


def test_many_concurrent_readers_cost_one_upstream_poll(world) -> None:
    airflow, client, _, monitor, _, config = world
    run = RunService(client).trigger(config)
    airflow.set_states(config.dag_id, run.run_id, "running", {0: "running"})
    airflow.requests.clear()
    threads = [threading.Thread(target=monitor.status, args=(config,)) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert airflow.requests["GET /dags"] == 3  # the DAG, its latest run, its task instances: once


def test_outage_returns_last_known_status_marked_stale_then_recovers(world) -> None:
    airflow, client, _, monitor, cache, config = world
    run = RunService(client).trigger(config)
    airflow.set_states(config.dag_id, run.run_id, "running", {0: "success"})
    fresh = monitor.status(config)
    expire_live_entries(cache)
    airflow.down = True
    stale = monitor.status(config)
    assert stale.stale and "unreachable" in stale.stale_reason
    assert stale.run == fresh.run and stale.point_states == fresh.point_states
    expire_live_entries(cache)
    airflow.down = False
    assert not monitor.status(config).stale


def test_outage_before_any_status_is_stale_not_an_exception(world) -> None:
    airflow, _, _, monitor, _, config = world
    airflow.down = True
    status = monitor.status(config)
    assert status.stale and status.points_total == 6 and status.run is None


def test_point_states_travel_as_runs_and_come_back_the_same() -> None:
    from services.models import PointState, SweepStatus

    states = [PointState.DONE] * 60_000 + [PointState.RUNNING] * 40 + [PointState.NOT_STARTED] * 39_960
    status = SweepStatus(
        dag_id="d", points_total=len(states), point_states=states, fetched_at=datetime.now(UTC)
    )
    text = status.model_dump_json()
    assert len(text) < 1_000  # three runs, not 100,000 strings
    assert SweepStatus.model_validate_json(text).point_states == states
    assert SweepStatus.model_validate(status.model_dump(mode="json")).point_states == states
    assert SweepStatus.model_validate(status.model_dump()).point_states == states  # Python form: the list
