"""What the history page does to a sweep's runs: re-trigger, retry only the failed points, cancel."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Protocol

from pydantic import BaseModel, Field

from airflow_backtest_framework.config import SweepConfig
from airflow_backtest_framework.engine_contract import CHUNK_TASK_ID, SUMMARY_TASK_ID
from services.airflow.client import AirflowClient
from services.airflow.models import DagRun, RunState, TaskState
from services.deploy import RunService, run_summary
from services.models import RunSummary
from services.registry import SweepRegistry

log = logging.getLogger(__name__)

FAILED_TASK_STATES = frozenset({TaskState.FAILED, TaskState.UPSTREAM_FAILED})
CANCEL_REASON = "cancelled from Backtest Frontend"
# A queued run can be read by the scheduler just before the cancel lands and set running just after
# (it writes RUNNING without re-checking): watch it this long and mark it failed again if it happened.
CANCEL_CONFIRM_WINDOW_S = 4.0
CANCEL_CONFIRM_POLL_S = 0.5


class BatchTerminator(Protocol):
    """The part of BatchJobsService that cancelling a run needs."""

    def jobs_of_run(self, dag_id: str, run_id: str, *, job_name: str | None = None) -> list: ...

    def terminate(self, job_ids: list[str], reason: str) -> list[str]: ...


class CancelResult(BaseModel):
    """The outcome of a cancel: the run as Airflow now reports it, and the Batch jobs asked to stop."""

    run: RunSummary
    terminated_jobs: list[str] = Field(default_factory=list)
    already_finished: bool = False  # the run ended before the cancel: it was left as it was


class SweepActions:
    """Run actions on deployed sweeps through the Airflow REST API (and AWS Batch in AWS mode)."""

    def __init__(
        self,
        client: AirflowClient,
        registry: SweepRegistry,
        batch: BatchTerminator | None = None,
        *,
        confirm_window_s: float = CANCEL_CONFIRM_WINDOW_S,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._client = client
        self._registry = registry
        self._batch = batch
        self._confirm_window_s = confirm_window_s
        self._sleep = sleep

    def retrigger(self, config: SweepConfig) -> RunSummary:
        """A new run of the deployed spec (`POST /dags/{id}/dagRuns`), recorded in the registry."""
        run = RunService(self._client).trigger(config)
        self._registry.record_run(config.name, run.run_id)
        return run

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
            live = [
                job.job_id
                for job in jobs
                if not job.status.finished and getattr(job, "parent_job_id", None) is None
            ]
            terminated = self._batch.terminate(live, CANCEL_REASON) if live else []
        log.info("cancelled %s run %s (%d Batch jobs)", config.dag_id, run_id, len(terminated))
        return CancelResult(run=run_summary(run), terminated_jobs=terminated)

    def _keep_failed(self, config: SweepConfig, run_id: str, run: DagRun) -> DagRun:
        """Re-read the run through the confirm window; mark it failed again whenever the scheduler
        has started it after the cancel. Once running, a failed mark sticks (the scheduler only
        moves queued runs to running)."""
        waited = 0.0
        while waited < self._confirm_window_s:
            self._sleep(CANCEL_CONFIRM_POLL_S)
            waited += CANCEL_CONFIRM_POLL_S
            run = self._client.get_run(config.dag_id, run_id)
            if not run.state.finished:
                log.info(
                    "%s run %s was started after the cancel: marking it failed again", config.dag_id, run_id
                )
                run = self._client.set_run_state(config.dag_id, run_id, RunState.FAILED)
        return run
