"""Runs of deployed sweeps: trigger, list, retry only the failed chunks, cancel (Airflow REST, AWS Batch)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

from airflow_backtest_framework.config import SweepConfig
from airflow_backtest_framework.dag_factory import dag_description
from airflow_backtest_framework.engine_contract import CHUNK_TASK_ID, SUMMARY_TASK_ID
from services.airflow.client import AirflowClient
from services.airflow.models import DagRun, RunState, TaskState
from services.clock import SYSTEM_CLOCK, Clock
from services.deadline import deadline
from services.errors import Conflict, DeployRefused, NotFound
from services.models import CancelResult, RunSummary, SweepDag

if TYPE_CHECKING:
    from services.aws.batch import BatchJob

log = logging.getLogger(__name__)

# Runs the app starts get ids of their own, `bt_261201_090947` (UTC): short, so that every API path of a
# run fits MWAA's 64 characters (Airflow's `manual__<ISO time with microseconds>` alone takes 41), and
# readable. Two triggers of one sweep in the same second get a letter after the second.
RUN_ID_PREFIX = "bt_"
RUN_ID_TIME_FORMAT = "%y%m%d_%H%M%S"
RUN_ID_SUFFIXES = ("", "b", "c", "d", "e")
RUN_ID_MAX_CHARS = len(RUN_ID_PREFIX) + len("261201_090947") + max(map(len, RUN_ID_SUFFIXES))


def run_summary(run: DagRun) -> RunSummary:
    return RunSummary(
        run_id=run.run_id,
        state=run.state.value,
        logical_date=run.logical_date,
        start_date=run.start_date,
        end_date=run.end_date,
    )


FAILED_TASK_STATES = frozenset({TaskState.FAILED, TaskState.UPSTREAM_FAILED})
CANCEL_REASON = "cancelled from Backtest Frontend"
# A queued run can be read by the scheduler just before the cancel lands and set running just after
# (it writes RUNNING without re-checking): watch it this long and mark it failed again if it happened.
CANCEL_CONFIRM_WINDOW_S = 4.0
CANCEL_CONFIRM_POLL_S = 0.5


class BatchTerminator(Protocol):
    """The part of BatchJobsService that cancelling a run needs."""

    def jobs_of_run(self, dag_id: str, run_id: str, *, job_name: str | None = None) -> list[BatchJob]: ...

    def terminate(self, job_ids: list[str], reason: str) -> list[str]: ...


class RunService:
    """Trigger, list, retry and cancel runs of deployed sweeps through the Airflow REST API; in AWS mode
    cancelling also terminates the run's AWS Batch jobs."""

    def __init__(
        self,
        client: AirflowClient,
        batch: BatchTerminator | None = None,
        *,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self._client = client
        self._batch = batch
        self._clock = clock

    def trigger(self, config: SweepConfig) -> RunSummary:
        """One click, one run: `POST /dags/{id}/dagRuns` with the spec hash in `conf` and a short run id
        of the app's (see RUN_ID_PREFIX)."""
        with deadline():  # one click waits for a slow Airflow at most one deadline
            return self._trigger(config)

    def _trigger(self, config: SweepConfig) -> RunSummary:
        dag = self._client.find_dag(config.dag_id)
        if dag is None:
            raise NotFound(f"{config.dag_id} is not deployed: deploy it first")
        if dag.is_paused:
            raise DeployRefused(f"{config.dag_id} is paused: deploy it again (Deploy unpauses it) and retry")
        if dag.description != dag_description(config):
            raise DeployRefused(
                f"{config.dag_id} in Airflow is an older version of this sweep: deploy it first"
            )
        stamp = RUN_ID_PREFIX + self._clock.now().strftime(RUN_ID_TIME_FORMAT)
        for suffix in RUN_ID_SUFFIXES:
            try:
                run = self._client.trigger(
                    config.dag_id, {"spec_hash": config.spec_hash}, run_id=stamp + suffix
                )
                break
            except Conflict:  # another trigger of this sweep took that id in the same second
                continue
        else:
            raise Conflict(f"{config.dag_id} was triggered {len(RUN_ID_SUFFIXES)} times this second: retry")
        log.info("triggered %s run %s", config.dag_id, run.run_id)
        return run_summary(run)

    def list_runs(self, config: SweepConfig, limit: int) -> list[RunSummary]:
        try:
            runs = self._client.list_runs(config.dag_id, limit=limit)
        except NotFound:
            return []
        return [run_summary(run) for run in runs]

    def latest_runs(self, configs: Sequence[SweepDag]) -> dict[str, RunSummary]:
        """The newest run of each sweep by name (sweeps never run are absent), in a few batch requests."""
        by_dag = {config.dag_id: config.name for config in configs}
        latest = self._client.latest_runs(list(by_dag))
        return {by_dag[dag_id]: run_summary(run) for dag_id, run in latest.items()}

    def failed_chunks(self, config: SweepConfig, run_id: str) -> list[int]:
        """Map indices of the run's `run_chunk` task instances that failed (or never ran: upstream failed)."""
        return sorted(
            ti.map_index
            for ti in self._client.list_task_instances(config.dag_id, run_id)
            if ti.task_id == CHUNK_TASK_ID and ti.state in FAILED_TASK_STATES
        )

    def retry_failed(self, config: SweepConfig, run_id: str) -> list[int]:
        """Clear only the failed `run_chunk` instances, and `summarize` so the run summarizes again.

        `POST /dags/{id}/clearTaskInstances` with the exact (task, map_index) keys and
        `reset_dag_runs`: Airflow re-queues the run and schedules just those chunks.
        Returns the cleared map indices (empty when nothing failed: nothing is sent)."""
        failed = self.failed_chunks(config, run_id)
        if not failed:
            return []
        tasks: list[str | tuple[str, int]] = [(CHUNK_TASK_ID, index) for index in failed]
        tasks.append(SUMMARY_TASK_ID)
        self._client.clear_task_instances(config.dag_id, run_id, tasks, only_failed=False)
        log.info("cleared %d failed chunks of %s run %s", len(failed), config.dag_id, run_id)
        return failed

    def cancel(self, config: SweepConfig, run_id: str) -> CancelResult:
        """Mark the run failed (`PATCH /dags/{id}/dagRuns/{run_id}`); in AWS mode also terminate
        its unfinished Batch jobs (TerminateJob; an array parent takes its children along).
        A run that has already finished is left as it is (Airflow would re-mark it); a queued run
        is watched for the scheduler starting it anyway (see CANCEL_CONFIRM_WINDOW_S)."""
        current = self._client.get_run(config.dag_id, run_id)
        if current.state.finished:  # marking a finished run failed would rewrite its outcome
            return CancelResult(run=run_summary(current), already_finished=True)
        run = self._client.set_run_state(config.dag_id, run_id, RunState.FAILED)
        if current.state is RunState.QUEUED:
            run = self._keep_failed(config, run_id, run)
        terminated: list[str] = []
        if self._batch is not None:
            jobs = self._batch.jobs_of_run(config.dag_id, run_id, job_name=config.dag_id)
            live = [job.job_id for job in jobs if not job.status.finished and job.parent_job_id is None]
            terminated = self._batch.terminate(live, CANCEL_REASON) if live else []
        log.info("cancelled %s run %s (%d Batch jobs)", config.dag_id, run_id, len(terminated))
        return CancelResult(run=run_summary(run), terminated_jobs=terminated)

    def _keep_failed(self, config: SweepConfig, run_id: str, run: DagRun) -> DagRun:
        """Re-read the run through the confirm window; mark it failed again whenever the scheduler
        overwrote the cancel: it started the run (it read it queued just before), or, having started
        it, found every task finished (the cancel skipped them) and called the run a success. Once
        running and failed, the mark sticks (the scheduler only moves queued runs to running)."""
        waited = 0.0
        while waited < CANCEL_CONFIRM_WINDOW_S:
            self._clock.sleep(CANCEL_CONFIRM_POLL_S)
            waited += CANCEL_CONFIRM_POLL_S
            run = self._client.get_run(config.dag_id, run_id)
            if run.state is not RunState.FAILED:
                log.info(
                    "%s run %s is %s after the cancel: marking it failed again",
                    config.dag_id,
                    run_id,
                    run.state.value,
                )
                run = self._client.set_run_state(config.dag_id, run_id, RunState.FAILED)
        return run
