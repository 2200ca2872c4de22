"""A run's progress from its chunks' histories and task instances: the pure derivation, the status field, runs
compared."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import diskcache
import pytest

from airflow_backtest_framework.engine_contract import CHUNK_TASK_ID, progress_key
from airflow_backtest_framework.results_store import open_results_store
from bench.fake_airflow import FakeDagsFolderAirflow
from services.airflow.client import AirflowClient
from services.airflow.models import TaskInstance
from services.deploy import DeployService
from services.models import ProgressSample, SweepStatus
from services.monitoring import MonitorService
from services.progress import PROGRESS_MAX_SAMPLES, progress_samples, thin, with_live_sample
from services.results import ResultsService
from services.runs import RunService
from services.shared_cache import DiskSharedCache
from services.storage import LocalFolderStore
from tests.support.sweeps import small_sweep

T0 = datetime(2026, 1, 1, 9, 0, tzinfo=UTC)
CHUNKS = [(0, 2), (2, 2), (4, 1)]  # 5 points in 3 chunks, the last one short


def ti(map_index: int, state: str, end_s: float | None = None) -> TaskInstance:
    return TaskInstance(
        dag_id="d",
        run_id="r",
        task_id=CHUNK_TASK_ID,
        map_index=map_index,
        state=state,
        end_date=None if end_s is None else T0 + timedelta(seconds=end_s),
    )


def pairs(samples: list[ProgressSample]) -> list[tuple[float, int]]:
    return [((s.at - T0).total_seconds(), s.done) for s in samples]


def test_successful_chunks_add_their_points_at_their_end() -> None:
    tis = [ti(1, "success", 30.4), ti(0, "success", 12.9), ti(2, "running")]
    assert pairs(progress_samples(CHUNKS, tis, T0)) == [(0, 0), (12, 2), (30, 4)]


def test_failed_unfinished_and_unknown_chunks_add_nothing() -> None:
    tis = [ti(0, "failed", 5), ti(1, "up_for_retry", 6), ti(2, "success", None), ti(7, "success", 8)]
    assert pairs(progress_samples(CHUNKS, tis, T0)) == [(0, 0)]


def test_chunks_ending_in_the_same_second_make_one_sample() -> None:
    tis = [ti(0, "success", 10.1), ti(1, "success", 10.8), ti(2, "success", 11.0)]
    assert pairs(progress_samples(CHUNKS, tis, T0)) == [(0, 0), (10, 4), (11, 5)]


def test_points_done_within_running_chunks_end_the_series_now() -> None:
    samples = progress_samples(CHUNKS, [ti(0, "success", 12.9), ti(1, "running")], T0)
    now = T0 + timedelta(seconds=20.6)
    assert pairs(with_live_sample(samples, 3, now)) == [(0, 0), (12, 2), (20, 3)]  # a progress record's point
    assert with_live_sample(samples, 2, now) == samples  # nothing new since the last chunk ended
    assert with_live_sample([], 3, now) == []  # no start known: no series to extend


def test_no_start_no_finished_chunk_is_no_sample() -> None:
    assert progress_samples(CHUNKS, [], None) == []
    assert pairs(progress_samples(CHUNKS, [ti(0, "success", 3)], None)) == [(3, 2)]


def test_a_thousand_chunks_are_thinned_to_exact_bucket_totals() -> None:
    chunks = [(i * 10, 10) for i in range(1000)]
    tis = [ti(i, "success", 5 + i * 3) for i in range(1000)]  # one chunk every 3 s
    samples = progress_samples(chunks, tis, T0)
    assert len(samples) <= PROGRESS_MAX_SAMPLES + 1
    assert pairs(samples)[0] == (0, 0) and pairs(samples)[-1] == (5 + 999 * 3, 10_000)
    # Each kept sample is the exact total at its time: 10 points per chunk ended by then.
    assert all(s.done == 10 * (((s.at - T0).total_seconds() - 5) // 3 + 1) for s in samples[1:])
    assert [s.at for s in samples] == sorted(s.at for s in samples)
    # Small enough to cache with every poll.
    status = SweepStatus(dag_id="d", points_total=10_000, progress=samples, fetched_at=T0)
    assert len(status.model_dump_json()) < 12_000


def test_thin_keeps_short_series_untouched() -> None:
    samples = [ProgressSample(at=T0 + timedelta(seconds=i), done=i) for i in range(5)]
    assert thin(samples, max_samples=10) == samples
    assert pairs(thin(samples, max_samples=3)) == [(0, 0), (1, 1), (3, 3), (4, 4)]


def unix(seconds: float) -> int:
    return int((T0 + timedelta(seconds=seconds)).timestamp())


def test_chunks_with_a_history_add_their_points_as_they_were_written() -> None:
    # Chunk 0 (start 0) and chunk 1 (start 2) kept histories; chunk 2 (an older engine) did not.
    histories = {0: [(unix(3), 0), (unix(5), 1), (unix(9), 2)], 2: [(unix(4), 0), (unix(5), 1), (unix(7), 2)]}
    tis = [ti(0, "success", 9.5), ti(1, "success", 7.5), ti(2, "success", 12.2)]
    samples = progress_samples(CHUNKS, tis, T0, histories=histories)
    assert pairs(samples) == [(0, 0), (5, 2), (7, 3), (9, 4), (12, 5)]


def test_a_running_chunk_with_a_history_moves_the_series_before_it_ends() -> None:
    histories = {0: [(unix(2), 0), (unix(4), 1)]}
    samples = progress_samples(CHUNKS, [ti(0, "running")], T0, histories=histories)
    assert pairs(samples) == [(0, 0), (4, 1)]


def test_a_retried_chunks_new_history_replaces_the_old_attempt() -> None:
    # The record holds the last attempt's history only: a failed first try adds nothing twice.
    histories = {0: [(unix(20), 0), (unix(22), 2)]}
    assert pairs(progress_samples(CHUNKS, [ti(0, "success", 22.5)], T0, histories=histories)) == [
        (0, 0),
        (22, 2),
    ]


# ------------------------------------------------------------------------ through the monitor service


@pytest.fixture
def world(tmp_path: Path):
    airflow = FakeDagsFolderAirflow(tmp_path / "dags")
    client = AirflowClient(airflow)
    cache = diskcache.Cache(str(tmp_path / "cache"))
    monitor = MonitorService(
        client, ResultsService(LocalFolderStore(tmp_path / "results")), DiskSharedCache(cache), ttl_s=60
    )
    config = small_sweep(points_per_task=2)  # 6 points in 3 chunks
    assert (
        DeployService(LocalFolderStore(airflow.dags_folder), client, max_grid_points=None).deploy(config).ok
    )
    return airflow, client, monitor, cache, config


def expire_interval(cache: diskcache.Cache, keep: str) -> None:
    """What the TTL does after an interval; `keep` (a finished run's progress) lives a day."""
    for key in list(cache.iterkeys()):
        if not str(key).endswith(":last") and key != keep:
            cache.delete(key)


def _finish(
    airflow: FakeDagsFolderAirflow, config, run_id: str, ends_s: dict[int, float], state: str = "running"
):
    airflow.set_states(config.dag_id, run_id, state, dict.fromkeys(ends_s, "success"))
    run = airflow._run(config.dag_id, run_id)
    run.start_date = T0.isoformat()
    run.chunk_ends.update({i: (T0 + timedelta(seconds=s)).isoformat() for i, s in ends_s.items()})


def test_status_carries_the_runs_progress_from_the_same_poll(world) -> None:
    airflow, client, monitor, _, config = world
    run = RunService(client).trigger(config)
    _finish(airflow, config, run.run_id, {0: 40, 2: 20})
    airflow.requests.clear()
    status = monitor.status(config)
    assert pairs(status.progress) == [(0, 0), (20, 2), (40, 4)]
    assert airflow.requests["GET /dags"] == 3  # the DAG, its latest run, its task instances: nothing more
    assert pairs(SweepStatus.model_validate_json(status.model_dump_json()).progress) == pairs(status.progress)


def test_a_finished_runs_progress_keeps_what_its_chunks_histories_say(world, tmp_path: Path) -> None:
    airflow, client, monitor, _, config = world
    run = RunService(client).trigger(config)
    _finish(airflow, config, run.run_id, {0: 40, 1: 41, 2: 42}, state="success")
    store = open_results_store(str(tmp_path / "results"))
    for start, written in (
        (0, [(unix(1), 0), (unix(10), 1), (unix(40), 2)]),
        (2, [(unix(1), 0), (unix(30), 2)]),
    ):
        record = {
            "start": start,
            "count": 2,
            "done": 2,
            "ranges": [[start, 2]],
            "failed": [],
            "history": written,
        }
        store.put_json(progress_key(config.dag_id, run.run_id, start), record)
    status = monitor.status(config)
    # Chunks 0 and 1 from their histories, chunk 2 (no record) at its end: not one step at the end.
    assert pairs(status.progress) == [(0, 0), (10, 1), (30, 3), (40, 4), (42, 6)]


def test_runs_compared_newest_first_finished_runs_read_once(world) -> None:
    airflow, client, monitor, cache, config = world
    runs = RunService(client)
    first = runs.trigger(config)
    _finish(airflow, config, first.run_id, {0: 10, 1: 20, 2: 30}, state="success")
    second = runs.trigger(config)
    _finish(airflow, config, second.run_id, {0: 60})

    compared = monitor.run_progress(config, limit=5)

    assert [c.run.run_id for c in compared] == [second.run_id, first.run_id]
    assert pairs(compared[0].progress) == [(0, 0), (60, 2)]
    assert pairs(compared[1].progress) == [(0, 0), (10, 2), (20, 4), (30, 6)]
    assert compared[1].run.state == "success" and compared[1].points_total == 6

    # Cached for the interval: many viewers, one runs list.
    airflow.requests.clear()
    assert monitor.run_progress(config, limit=5) == compared
    assert airflow.requests["GET /dags"] == 0

    # After the interval the finished run's task instances are not listed again.
    expire_interval(cache, keep=f"run-progress:{config.dag_id}:{first.run_id}")
    airflow.pages_served = 0
    again = monitor.run_progress(config, limit=5)
    assert pairs(again[1].progress) == pairs(compared[1].progress)
    assert airflow.pages_served == 1  # the newest run's task instances only (for its status)


def test_a_retried_run_is_read_again(world) -> None:
    airflow, client, monitor, cache, config = world
    runs = RunService(client)
    first = runs.trigger(config)
    _finish(airflow, config, first.run_id, {0: 10}, state="failed")
    runs.trigger(config)
    assert pairs(monitor.run_progress(config, limit=5)[1].progress) == [(0, 0), (10, 2)]

    airflow._run(config.dag_id, first.run_id).state = "running"  # failed points cleared and re-run
    airflow._run(config.dag_id, first.run_id).end_date = None
    _finish(airflow, config, first.run_id, {1: 90})
    expire_interval(cache, keep=f"run-progress:{config.dag_id}:{first.run_id}")
    retried = monitor.run_progress(config, limit=5)[1]
    assert retried.run.state == "running" and pairs(retried.progress) == [(0, 0), (10, 2), (90, 4)]


def test_live_progress_reads_histories_and_skips_malformed_ones(tmp_path: Path) -> None:
    results = ResultsService(LocalFolderStore(tmp_path))
    store = open_results_store(str(tmp_path))
    good = {"start": 0, "count": 2, "ranges": [[0, 2]], "history": [[100, 0], [101, 2]]}
    bad = {"start": 2, "count": 2, "ranges": [[2, 1]], "history": [["x", None]]}
    old = {"start": 4, "count": 1, "ranges": [[4, 1]]}  # an engine before histories
    for record in (good, bad, old):
        store.put_json(progress_key("d", "r", record["start"]), record)
    live = results.live_progress("d", "r")
    assert live.done == {0, 1, 2, 4} and live.histories == {0: [(100, 0), (101, 2)]}
