"""One sweep's live status, polled once per interval and shared by every viewer and worker."""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from airflow_backtest_framework import engine_contract as ec
from airflow_backtest_framework.config import SweepConfig
from services.airflow.client import AirflowClient
from services.airflow.models import DagInfo, DagRun, TaskInstance, TaskState
from services.clock import SYSTEM_CLOCK, Clock
from services.errors import BacktestError, NotFound
from services.models import (
    CompletionSummary,
    PointResultSummary,
    PointState,
    ProgressSample,
    RunProgress,
    RunSummary,
    SweepStatus,
)
from services.progress import eta_seconds, progress_samples, with_live_sample, working_seconds
from services.results import LiveProgress, ResultsService
from services.runs import run_summary
from services.shared_cache import SharedCache
from services.states import point_state_of_task

if TYPE_CHECKING:
    from services.aws.batch import BatchJob, BatchJobsService

log = logging.getLogger(__name__)

LOCK_EXPIRE_S = 60  # a poller that died frees the lock after this
SUMMARY_TOP_N = 5
BEST_CACHE_S = 24 * 3600
POLL_THREADS = 4
COMPARED_RUNS = 5  # runs drawn side by side on a sweep's page
FINISHED_RUN_PROGRESS_S = 24 * 3600  # a finished run's progress no longer changes: read it once a day


def point_states(
    config: SweepConfig,
    chunk_tis: list[TaskInstance],
    done: set[int],
    plan: RunChunks | None = None,
) -> list[PointState]:
    """Each grid point's state: from its chunk's task instance, then DONE wherever a result exists.

    `plan` holds the run's (start, count) positions of its run order, by map index (default: the
    spec's chunks and order); a chunk's points are `run_order[start : start + count]`.
    """
    size = config.grid_size
    states = [PointState.NOT_STARTED] * size
    plan = plan or RunChunks(config.chunks(), config.space_filling)
    chunks, order = plan.chunks, config.run_order(plan.space_filling).tolist()
    succeeded = []
    for ti in chunk_tis:
        if not 0 <= ti.map_index < len(chunks):
            continue
        state = point_state_of_task(ti.state)
        start, count = chunks[ti.map_index]
        for index in order[start : start + count]:
            states[index] = state
        if ti.state == TaskState.SUCCESS:
            succeeded.append((start, count))
    for index in done:
        if 0 <= index < size:
            states[index] = PointState.DONE
    # A chunk that succeeded but left a point without a result did not compute it.
    for start, count in succeeded:
        for index in order[start : start + count]:
            if index not in done:
                states[index] = PointState.FAILED
    return states


@dataclass(frozen=True)
class RunChunks:
    """How a run was cut: its chunks' (start, count) positions by map index, and its run order."""

    chunks: list[tuple[int, int]]
    space_filling: bool


def refine_with_batch(
    states: list[PointState], batch_states: Sequence[PointState], done: set[int]
) -> list[PointState]:
    """Where Airflow says a point is running, say what its Batch job says (RUNNABLE: queued, ...).

    A point with a result file stays DONE; a point without a Batch job keeps Airflow's state.
    """
    refined = list(states)
    for index, (state, batch_state) in enumerate(zip(states, batch_states, strict=False)):
        if state is PointState.RUNNING and index not in done and batch_state is not PointState.NOT_STARTED:
            refined[index] = batch_state
    return refined


def _live(samples: list[ProgressSample], run: DagRun, counts: Counter, now: datetime) -> list[ProgressSample]:
    """A running run's samples end at `now` with the points done so far (finished runs: as they ended)."""
    return samples if run.state.finished else with_live_sample(samples, counts[PointState.DONE], now)


@dataclass(frozen=True)
class _SharedCache:
    """The cache every worker (and, with Redis, every host) shares: an answer is kept `ttl_s` (one upstream
    call per interval) unless said otherwise."""

    cache: SharedCache
    ttl_s: float

    def get(self, key: str) -> Any:
        return self.cache.get(key)

    def keep(self, key: str, value: Any, expire: float | None = None) -> None:
        """Keep `value` for `expire` seconds, `ttl_s` when not given."""
        self.cache.set(key, value, expire=self.ttl_s if expire is None else expire)

    def keep_for_good(self, key: str, value: Any) -> None:
        self.cache.set(key, value)

    def lock(self, key: str) -> AbstractContextManager[None]:
        """One caller at a time for `key` in every worker; a holder that died frees it after LOCK_EXPIRE_S."""
        return self.cache.lock(f"{key}:lock", LOCK_EXPIRE_S)


class MonitorService:
    """Sweep status from Airflow (run, task instances) and the result files, cached with a TTL.

    The cache is shared by every worker process and host: one upstream poll per sweep per
    `ttl_s`, whatever the number of viewers. When Airflow cannot be reached, the last known
    status comes back marked stale with the reason.
    """

    def __init__(
        self,
        client: AirflowClient,
        results: ResultsService,
        cache: SharedCache,
        *,
        ttl_s: float,
        clock: Clock = SYSTEM_CLOCK,
        batch: BatchJobsService | None = None,
    ) -> None:
        self._client = client
        self._results = results
        self._cache = _SharedCache(cache, ttl_s)
        self._clock = clock
        self._batch = batch

    @property
    def batch_enabled(self) -> bool:
        """Whether the chunks run as AWS Batch jobs (then `batch_jobs` lists them)."""
        return self._batch is not None

    def status(self, config: SweepConfig, run_id: str | None = None) -> SweepStatus:
        """The cached status, or a fresh poll when it expired (one poller at a time per sweep)."""
        key = f"sweep-status:{config.dag_id}:{config.spec_hash[:12]}:{run_id or 'latest'}"
        cached = self._cache.get(key)
        if cached is not None:
            return SweepStatus.model_validate_json(cached)
        with self._cache.lock(key):
            cached = self._cache.get(key)  # another worker may have polled while we waited
            if cached is not None:
                return SweepStatus.model_validate_json(cached)
            status = self._poll_or_stale(config, run_id, key)
            self._cache.keep(key, status.model_dump_json())
            return status

    def _poll_or_stale(self, config: SweepConfig, run_id: str | None, key: str) -> SweepStatus:
        started = time.perf_counter()
        try:
            status = self._poll(config, run_id)
        except BacktestError as exc:
            log.info("status of %s is stale: %s", config.dag_id, exc.message)
            last = self._cache.get(f"{key}:last")
            if last is not None:
                previous = SweepStatus.model_validate_json(last)
                return previous.model_copy(update={"stale": True, "stale_reason": exc.message})
            return SweepStatus(
                dag_id=config.dag_id,
                points_total=config.grid_size,
                point_states=[PointState.NOT_STARTED] * config.grid_size,
                fetched_at=self._clock.now(),
                stale=True,
                stale_reason=exc.message,
            )
        self._cache.keep_for_good(f"{key}:last", status.model_dump_json())
        log.debug("polled %s in %.0f ms", config.dag_id, (time.perf_counter() - started) * 1e3)
        return status

    def _poll(self, config: SweepConfig, run_id: str | None) -> SweepStatus:
        now = self._clock.now()
        dag_id = config.dag_id
        dag: DagInfo | None = None
        run: DagRun | None = None
        if run_id is None:  # the latest run: learn its id first
            dag = self._client.find_dag(dag_id)
            latest = self._client.list_runs(dag_id, limit=1) if dag is not None else []
            run = latest[0] if latest else None
            run_id = run.run_id if run else None
        tis: list[TaskInstance] = []
        live = LiveProgress(set(), {})
        plan: RunChunks | None = None
        if run_id is not None:
            dag, run, tis, live, plan = self._fetch(config, run_id, dag, run)
        done = live.done
        if run is None:
            return SweepStatus(
                dag_id=dag_id,
                is_paused=None if dag is None else dag.is_paused,
                points_total=config.grid_size,
                point_states=[PointState.NOT_STARTED] * config.grid_size,
                fetched_at=now,
            )
        chunk_tis = [ti for ti in tis if ti.task_id == ec.CHUNK_TASK_ID]
        plan = plan or self.chunks_of_run(config, run.run_id)
        states = point_states(config, chunk_tis, done, plan)
        if self._batch is not None and PointState.RUNNING in states:
            states = self._with_batch_states(config, run.run_id, states, done, plan.space_filling)
        elapsed = None
        if run.start_date is not None:
            elapsed = max(0.0, ((run.end_date or now) - run.start_date).total_seconds())
        counts = Counter(states)
        summary = None
        if run.state.finished:
            best = self._best(config, run.run_id, len(done)) if done else []
            summary = CompletionSummary(
                points_done=counts[PointState.DONE], points_failed=counts[PointState.FAILED], best=best
            )
        return SweepStatus(
            dag_id=config.dag_id,
            run=run_summary(run),
            is_paused=dag.is_paused,
            task_counts=dict(Counter(ti.state for ti in tis)),
            points_total=config.grid_size,
            point_states=states,
            elapsed_s=elapsed,
            eta_s=None
            if run.state.finished
            else eta_seconds(counts[PointState.DONE], config.grid_size, working_seconds(chunk_tis, now)),
            summary=summary,
            progress=_live(
                progress_samples(plan.chunks, chunk_tis, run.start_date, histories=live.histories),
                run,
                counts,
                now,
            ),
            fetched_at=now,
        )

    def _fetch(
        self, config: SweepConfig, run_id: str, dag: DagInfo | None, run: DagRun | None
    ) -> tuple[DagInfo | None, DagRun | None, list[TaskInstance], LiveProgress, RunChunks]:
        """The DAG and run (unless known), task instances, points done and the run's plan, fetched at once."""
        dag_id = config.dag_id
        with ThreadPoolExecutor(max_workers=POLL_THREADS) as pool:  # independent calls overlap
            dag_f = pool.submit(self._client.find_dag, dag_id) if dag is None else None
            run_f = pool.submit(self._find_run, config, run_id) if run is None else None
            tis_f = pool.submit(self._task_instances, dag_id, run_id)
            done_f = pool.submit(self._results.live_progress, dag_id, run_id)
            plan_f = pool.submit(self.chunks_of_run, config, run_id)
            dag = dag_f.result() if dag_f else dag
            run = run_f.result() if run_f else run
            return dag, run, tis_f.result(), done_f.result(), plan_f.result()

    def run_progress(self, config: SweepConfig, limit: int = COMPARED_RUNS) -> list[RunProgress]:
        """The newest `limit` runs' points done over time, newest first, for comparing runs.

        Cached like `status` (one `GET /dags/{id}/dagRuns` per interval, whatever the viewers). The
        newest run comes from the sweep's cached status; an older run's task instances are listed
        once it finished (then kept a day, until its state changes, e.g. when failed points are retried).
        """
        key = f"run-progress:{config.dag_id}:{config.spec_hash[:12]}:{limit}"
        cached = self._cache.get(key)
        if cached is not None:
            return [RunProgress.model_validate(item) for item in cached]
        try:
            runs = [run_summary(run) for run in self._client.list_runs(config.dag_id, limit=limit)]
        except NotFound:
            runs = []
        latest = self.status(config) if runs else None
        compared = [self._progress_of(config, run, latest) for run in runs]
        self._cache.keep(key, [item.model_dump(mode="json") for item in compared])
        return compared

    def _progress_of(self, config: SweepConfig, run: RunSummary, latest: SweepStatus | None) -> RunProgress:
        if latest is not None and latest.run is not None and latest.run.run_id == run.run_id:
            return RunProgress(run=run, points_total=latest.points_total, progress=latest.progress)
        key = f"run-progress:{config.dag_id}:{run.run_id}"
        cached = self._cache.get(key)
        if cached is not None:
            known = RunProgress.model_validate_json(cached)
            if known.run == run:
                return known
        tis = self._task_instances(config.dag_id, run.run_id)
        chunk_tis = [ti for ti in tis if ti.task_id == ec.CHUNK_TASK_ID]
        progress = RunProgress(
            run=run,
            points_total=config.grid_size,
            progress=progress_samples(
                self.chunks_of_run(config, run.run_id).chunks,
                chunk_tis,
                run.start_date,
                histories=self._results.progress_histories(config.dag_id, run.run_id),
            ),
        )
        self._cache.keep(
            key, progress.model_dump_json(), expire=FINISHED_RUN_PROGRESS_S if run.state.finished else None
        )
        return progress

    def chunks_of_run(self, config: SweepConfig, run_id: str) -> RunChunks:
        """The run's planned chunks and order (its plan file, read once and kept). Without one (a run
        planned before plan files, or `plan` not done yet): the legacy chunks in the grid's own order."""
        key = f"run-plan:{config.dag_id}:{run_id}"
        cached = self._cache.get(key)
        if cached is not None:
            return RunChunks([tuple(chunk) for chunk in cached["chunks"]], cached["space_filling"])
        found = self._results.chunk_plan(config.dag_id, run_id)
        if found is None:
            return RunChunks(config.chunks(), space_filling=False)
        chunks, space_filling = found
        self._cache.keep(key, {"chunks": chunks, "space_filling": space_filling}, expire=BEST_CACHE_S)
        return RunChunks(chunks, space_filling)

    def _best(self, config: SweepConfig, run_id: str, done: int) -> list[PointResultSummary]:
        """Best points of a finished run; read once per (run, number of results), then cached."""
        key = f"sweep-best:{config.dag_id}:{run_id}:{done}"
        cached = self._cache.get(key)
        if cached is not None:
            return [PointResultSummary.model_validate(item) for item in cached]
        best = self._results.best(config, run_id, top=SUMMARY_TOP_N)
        self._cache.keep(key, [item.model_dump(mode="json") for item in best], expire=BEST_CACHE_S)
        return best

    def batch_jobs(self, config: SweepConfig, run_id: str) -> list[BatchJob]:
        """The run's AWS Batch jobs (ListJobs + DescribeJobs, see BatchJobsService.jobs_of_run) through
        the shared cache: one AWS call per run per TTL for every viewer and worker. [] without Batch."""
        from services.aws.batch import BatchJob

        if self._batch is None:
            return []
        key = f"batch-jobs:{config.dag_id}:{run_id}"
        cached = self._cache.get(key)
        if cached is not None:
            return [BatchJob.model_validate_json(item) for item in cached]
        jobs = self._batch.jobs_of_run(
            config.dag_id, run_id, job_name=config.dag_id
        )  # jobs named after the DAG
        self._cache.keep(key, [job.model_dump_json() for job in jobs])
        return jobs

    def _with_batch_states(
        self, config: SweepConfig, run_id: str, states: list[PointState], done: set[int], space_filling: bool
    ) -> list[PointState]:
        """Running chunks refined by their Batch jobs; Airflow's view alone when Batch does not answer."""
        from services.aws.batch import point_states_from_jobs

        try:
            jobs = self.batch_jobs(config, run_id)
        except BacktestError as exc:
            log.info("Batch jobs of %s unavailable: %s", config.dag_id, exc.message)
            return states
        batch_states = point_states_from_jobs(config, jobs, space_filling)
        return refine_with_batch(states, batch_states, done)

    def _task_instances(self, dag_id: str, run_id: str) -> list[TaskInstance]:
        try:
            return self._client.list_task_instances(dag_id, run_id)
        except NotFound:
            return []

    def _find_run(self, config: SweepConfig, run_id: str) -> DagRun | None:
        try:
            return self._client.get_run(config.dag_id, run_id)
        except NotFound:
            return None
