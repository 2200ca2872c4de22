"""The run use cases against the in-memory Airflow: re-trigger, retry only the failed chunks, cancel."""

from __future__ import annotations

from pathlib import Path

import pytest

from airflow_backtest_framework.engine_contract import PLAN_TASK_ID, SUMMARY_TASK_ID
from bench.fake_airflow import FakeDagsFolderAirflow
from services.airflow.client import AirflowClient
from services.airflow.transport import ApiRequest, ApiResponse
from services.auth import Principal, Role
from services.aws.batch import BatchJob, BatchJobStatus
from services.clock import Clock
from services.deploy import DeployService
from services.registry import SweepRegistry
from services.runs import RunService
from services.storage import LocalFolderStore
from services.sweep_actions import SweepActions
from tests.support.databases import sqlite_audit
from tests.support.sweeps import small_sweep

ADMIN = Principal(name="root", role=Role.ADMIN)


class FakeBatch:
    """Jobs of runs by (dag_id, run_id); `terminate` marks them FAILED as Batch does."""

    def __init__(self) -> None:
        self.jobs: dict[tuple[str, str], list[BatchJob]] = {}

    def jobs_of_run(self, dag_id: str, run_id: str, *, job_name: str | None = None) -> list[BatchJob]:
        return list(self.jobs.get((dag_id, run_id), []))

    def terminate(self, job_ids, reason: str) -> list[str]:
        for key, jobs in self.jobs.items():
            self.jobs[key] = [
                job.model_copy(update={"status": BatchJobStatus.FAILED, "status_reason": reason})
                if job.job_id in job_ids
                else job
                for job in jobs
            ]
        return list(job_ids)


@pytest.fixture
def world(tmp_path: Path):
    airflow = FakeDagsFolderAirflow(tmp_path / "dags")
    client = AirflowClient(airflow)
    registry = SweepRegistry(tmp_path / "app")
    config = small_sweep(points_per_task=2)  # 6 points in 3 chunks
    registry.save(config)
    assert (
        DeployService(LocalFolderStore(airflow.dags_folder), client, max_grid_points=None).deploy(config).ok
    )
    batch = FakeBatch()
    return airflow, actions_of(client, registry, batch), registry, batch, config


NO_DEPLOYS = Path("/nonexistent/dags")  # these tests deploy with their own DeployService


def no_wait(_seconds: float) -> None:
    """The cancel confirm window's sleep, instant in unit tests."""


def actions_of(client: AirflowClient, registry: SweepRegistry, batch=None, sleep=no_wait) -> SweepActions:
    """The use cases over the real RunService and DeployService on `client`."""
    deployer = DeployService(LocalFolderStore(NO_DEPLOYS), client, max_grid_points=None)
    audit = sqlite_audit(registry._folder.parent)  # beside the registry's folder, in the test's tmp_path
    return SweepActions(registry, deployer, RunService(client, batch, clock=Clock(sleep=sleep)), audit)


def test_retrigger_starts_a_run_and_records_it(world) -> None:
    airflow, actions, registry, _batch, config = world
    run = actions.trigger(ADMIN, config.name)
    assert [r.run_id for r in airflow.runs[config.dag_id]] == [run.run_id]
    assert registry.get(config.name).run_ids == [run.run_id]


def test_retry_failed_clears_only_the_failed_chunks_and_summarize(world) -> None:
    airflow, actions, _registry, _batch, config = world
    run_id = actions.trigger(ADMIN, config.name).run_id
    airflow.set_states(config.dag_id, run_id, "failed", {0: "success", 1: "failed", 2: "upstream_failed"})
    airflow._run(config.dag_id, run_id).other_states.update(
        {PLAN_TASK_ID: "success", SUMMARY_TASK_ID: "success"}
    )

    cleared = actions.retry_failed(ADMIN, config.name, run_id)

    run = airflow._run(config.dag_id, run_id)
    assert cleared == [1, 2]
    assert run.chunk_states == {0: "success", 1: None, 2: None}
    assert run.other_states == {PLAN_TASK_ID: "success", SUMMARY_TASK_ID: None}
    assert run.state == "queued"


def test_retry_failed_with_nothing_failed_changes_nothing(world) -> None:
    airflow, actions, _registry, _batch, config = world
    run_id = actions.trigger(ADMIN, config.name).run_id
    airflow.set_states(config.dag_id, run_id, "success", {0: "success", 1: "success", 2: "success"})
    assert actions.retry_failed(ADMIN, config.name, run_id) == []
    run = airflow._run(config.dag_id, run_id)
    assert run.state == "success" and set(run.chunk_states.values()) == {"success"}


def test_cancel_marks_the_run_failed_and_terminates_live_batch_jobs(world) -> None:
    airflow, actions, _registry, batch, config = world
    run_id = actions.trigger(ADMIN, config.name).run_id
    airflow.set_states(config.dag_id, run_id, "running", {0: "success", 1: "running"})
    batch.jobs[(config.dag_id, run_id)] = [
        BatchJob(job_id="done", name=config.dag_id, status=BatchJobStatus.SUCCEEDED),
        BatchJob(job_id="live", name=config.dag_id, status=BatchJobStatus.RUNNING),
        BatchJob(job_id="waiting", name=config.dag_id, status=BatchJobStatus.RUNNABLE),
    ]

    result = actions.cancel(ADMIN, config.name, run_id)

    assert airflow._run(config.dag_id, run_id).state == "failed"
    assert result.run.state == "failed"
    assert sorted(result.terminated_jobs) == ["live", "waiting"]
    states = {job.job_id: job.status for job in batch.jobs[(config.dag_id, run_id)]}
    assert states == {
        "done": BatchJobStatus.SUCCEEDED,
        "live": BatchJobStatus.FAILED,
        "waiting": BatchJobStatus.FAILED,
    }


def test_cancel_in_local_mode_only_marks_the_run(tmp_path: Path) -> None:
    airflow = FakeDagsFolderAirflow(tmp_path / "dags")
    client = AirflowClient(airflow)
    registry = SweepRegistry(tmp_path / "app")
    config = small_sweep()
    registry.save(config)
    DeployService(LocalFolderStore(airflow.dags_folder), client, max_grid_points=None).deploy(config)
    actions = actions_of(client, registry, sleep=no_wait)
    run_id = actions.trigger(ADMIN, config.name).run_id
    result = actions.cancel(ADMIN, config.name, run_id)
    assert result.terminated_jobs == [] and airflow._run(config.dag_id, run_id).state == "failed"


def test_cancel_leaves_a_finished_run_as_it_is(world) -> None:
    airflow, actions, _registry, _batch, config = world
    run_id = actions.trigger(ADMIN, config.name).run_id
    airflow.set_states(config.dag_id, run_id, "success", {0: "success", 1: "success", 2: "success"})
    result = actions.cancel(ADMIN, config.name, run_id)
    assert result.already_finished and result.run.state == "success" and result.terminated_jobs == []
    assert airflow._run(config.dag_id, run_id).state == "success"


def racing_scheduler(airflow, dag_id: str, turns: list[str], **overwrite: object):
    """A transport after whose first PATCH the scheduler overwrites the newest run (`overwrite`)."""

    def transport(request: ApiRequest) -> ApiResponse:
        response = airflow(request)
        if request.method == "PATCH" and not turns:
            turns.append(request.path)
            run = airflow.runs[dag_id][-1]
            for name, value in overwrite.items():
                setattr(run, name, value)
        return response

    return transport


def test_cancel_of_a_queued_run_that_the_scheduler_starts_anyway_ends_failed(world) -> None:
    """The scheduler read the run as queued just before the cancel and writes RUNNING just after it."""
    airflow, _actions, registry, _batch, config = world
    scheduler_turns: list[str] = []
    racing = racing_scheduler(airflow, config.dag_id, scheduler_turns, state="running", end_date=None)
    actions = actions_of(AirflowClient(racing), registry, sleep=no_wait)
    run_id = actions.trigger(ADMIN, config.name).run_id
    assert airflow._run(config.dag_id, run_id).state == "queued"
    patches_before = airflow.requests["PATCH /dags"]  # deploy unpaused the DAG with one

    result = actions.cancel(ADMIN, config.name, run_id)

    assert scheduler_turns, "the race was not staged"
    assert airflow._run(config.dag_id, run_id).state == "failed"
    assert result.run.state == "failed"
    assert airflow.requests["PATCH /dags"] - patches_before == 2  # marked failed again once seen running


def test_cancel_of_a_queued_run_that_the_scheduler_then_calls_a_success_ends_failed(world) -> None:
    """The scheduler started the cancelled run, found its tasks finished (skipped) and marked it success."""
    airflow, _actions, registry, _batch, config = world
    scheduler_turns: list[str] = []
    racing = racing_scheduler(airflow, config.dag_id, scheduler_turns, state="success")
    actions = actions_of(AirflowClient(racing), registry, sleep=no_wait)
    run_id = actions.trigger(ADMIN, config.name).run_id

    result = actions.cancel(ADMIN, config.name, run_id)

    assert scheduler_turns, "the race was not staged"
    assert airflow._run(config.dag_id, run_id).state == "failed" and result.run.state == "failed"


def test_cancel_of_a_running_run_does_not_wait_for_the_scheduler(world) -> None:
    airflow, _actions, registry, _batch, config = world
    slept: list[float] = []
    actions = actions_of(AirflowClient(airflow), registry, sleep=slept.append)
    run_id = actions.trigger(ADMIN, config.name).run_id
    airflow.set_states(config.dag_id, run_id, "running", {0: "running"})
    patches_before = airflow.requests["PATCH /dags"]
    assert actions.cancel(ADMIN, config.name, run_id).run.state == "failed"
    assert slept == [] and airflow.requests["PATCH /dags"] - patches_before == 1


class PathLimited:
    """A transport with MWAA's InvokeRestApi limit: a longer path never reaches Airflow."""

    max_path_length = 64

    def __init__(self, airflow: FakeDagsFolderAirflow) -> None:
        self.airflow = airflow

    def __call__(self, request: ApiRequest) -> ApiResponse:
        assert len(request.path) <= self.max_path_length, request.path
        return self.airflow(request)


def test_on_mwaa_the_longest_name_preflight_allows_can_still_cancel_its_runs(tmp_path: Path) -> None:
    airflow = FakeDagsFolderAirflow(tmp_path / "dags")
    client = AirflowClient(PathLimited(airflow), max_path_length=PathLimited.max_path_length)
    registry = SweepRegistry(tmp_path / "app")
    deployer = DeployService(LocalFolderStore(airflow.dags_folder), client, max_grid_points=None)

    def fits(name: str) -> bool:
        return {c.key: c for c in deployer.preflight(small_sweep(name=name))}["api_paths"].ok

    # Names up to 41 characters keep /dags/{dag_id}/dagRuns itself in the limit (this fake has no
    # short-path endpoints); the preflight must stop well before that.
    longest = max(length for length in range(3, 42) if fits("n" * length))
    config = small_sweep(name="n" * longest)
    registry.save(config)
    assert deployer.deploy(config).ok
    actions = actions_of(client, registry, sleep=no_wait)

    run_id = actions.trigger(ADMIN, config.name).run_id
    airflow.set_states(config.dag_id, run_id, "running", {0: "running"})
    assert actions.cancel(ADMIN, config.name, run_id).run.state == "failed"
    assert airflow._run(config.dag_id, run_id).state == "failed"
    assert longest == deployer.max_name_chars >= 20  # what Configure checks; useful names keep every action
