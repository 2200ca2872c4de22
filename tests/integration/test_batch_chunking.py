"""The Batch path's chunking against the AWS stand-ins (moto's Batch): what `plan` hands the DAG's
BatchOperator is submitted as it would be, and the app reads the jobs back with their chunk ranges."""

from __future__ import annotations

from pathlib import Path

from airflow_backtest_framework import engine_contract as ec
from airflow_backtest_framework.chunking import BATCH_MIN_POINTS_PER_JOB, ExecutorProfile
from airflow_backtest_framework.config import SweepConfig
from airflow_backtest_framework.dag_factory import _plan
from services.aws.batch import BatchJobsService, point_states_from_jobs
from services.aws.clients import AwsClients
from services.models import PointState
from tests.support.aws_moto import JOB_DEFINITION, QUEUE, RUN_ID, aws_client, aws_settings, create_resources

GRID_10K = {
    "momentum_period": "10:109:100",
    "signal_threshold": "0.01:0.1:10",
    "stop_loss_pct": "0.05:0.1:10",
    "cooldown_period": "5",
}


def variables(results: Path, **values: str):
    known = {ec.VAR_RESULTS_URI: str(results), **values}

    class Variables:
        @staticmethod
        def get(name: str) -> str:
            return known[name]

    return Variables


def submit_planned(config: SweepConfig, overrides: list[dict]) -> list[str]:
    """Each planned chunk as the DAG's BatchOperator submits it (`.expand(container_overrides=...)`)."""
    batch = aws_client("batch")
    return [
        batch.submit_job(
            jobName=config.dag_id,
            jobQueue=QUEUE,
            jobDefinition=JOB_DEFINITION,
            containerOverrides=override,
            tags=ec.batch_job_tags(config.dag_id, RUN_ID),
        )["jobId"]
        for override in overrides
    ]


def test_a_10000_point_sweep_submits_the_planned_jobs_with_their_ranges(aws_env, tmp_path: Path) -> None:
    create_resources()
    config = SweepConfig(
        name="batch_10k",
        strategy="MomentumStrategy",
        params=GRID_10K,
        universe=["AAPL", "MSFT"],
        start_date="2022-01-01",
        end_date="2023-12-31",
    )
    overrides = _plan(config, ec.EXECUTOR_BATCH, variables(tmp_path), RUN_ID)
    planned = config.chunks(ExecutorProfile.default(ec.EXECUTOR_BATCH))
    assert len(overrides) == len(planned) == 10  # 256 slots, but at least 1,000 points a job
    assert all(count == BATCH_MIN_POINTS_PER_JOB for _, count in planned)
    ids = submit_planned(config, overrides)

    service = BatchJobsService(AwsClients(aws_settings(tmp_path)).source("batch"), QUEUE)
    jobs = service.jobs_of_run(config.dag_id, RUN_ID, job_name=config.dag_id)
    assert sorted(job.job_id for job in jobs) == sorted(ids)
    assert sorted((job.chunk_start, job.chunk_count) for job in jobs) == planned
    # The jobs' ranges are positions of the space-filling order: together they cover every grid point.
    states = point_states_from_jobs(config, jobs)
    assert len(states) == 10_000 and PointState.NOT_STARTED not in states
    cells = config.run_order()[:BATCH_MIN_POINTS_PER_JOB] // 10  # (momentum_period, signal_threshold) cells
    # The first job's tenth of the grid spans it: every tenth of momentum_period, every signal_threshold.
    assert set((cells // 10 // 10).tolist()) == set(range(10)) and set((cells % 10).tolist()) == set(
        range(10)
    )


def test_the_task_slots_variable_sizes_the_jobs(aws_env, tmp_path: Path) -> None:
    create_resources()
    config = SweepConfig(
        name="batch_100k",
        strategy="MomentumStrategy",
        params={**GRID_10K, "cooldown_period": "0:9:10"},
        universe=["AAPL"],
        start_date="2023-01-01",
        end_date="2023-12-31",
    )
    overrides = _plan(config, ec.EXECUTOR_BATCH, variables(tmp_path, **{ec.VAR_TASK_SLOTS: "40"}), RUN_ID)
    assert len(overrides) == 40  # 100,000 points fill 40 slots with 2,500 points a job
    submit_planned(config, overrides)
    service = BatchJobsService(AwsClients(aws_settings(tmp_path)).source("batch"), QUEUE)
    jobs = service.jobs_of_run(config.dag_id, RUN_ID, job_name=config.dag_id)
    assert sorted((job.chunk_start, job.chunk_count) for job in jobs) == [
        (s, 2_500) for s in range(0, 100_000, 2_500)
    ]
