"""The S3 store and Batch monitoring against a moto server process (S3, STS, Batch)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from airflow_backtest_framework import engine_contract as ec
from airflow_backtest_framework.config import SweepConfig
from airflow_backtest_framework.results_backends import open_backend
from services.aws import s3_store
from services.aws.batch import BatchJobsService, BatchJobStatus, point_states_from_jobs
from services.aws.clients import AwsClients
from services.aws.s3_store import S3Store
from services.errors import NotFound, StorageError
from services.models import PointState
from services.results import ResultsService
from tests.support.aws_moto import (
    DAGS_BUCKET,
    JOB_DEFINITION,
    QUEUE,
    REGION,
    RESULTS_URI,
    RUN_ID,
    aws_client,
    aws_settings,
    create_resources,
)
from tests.support.sweeps import small_sweep

# ---- S3Store against a real bucket --------------------------------------------------------------------


def test_s3_store_round_trip_under_a_prefix(aws_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    create_resources()
    store = S3Store(aws_client("s3"), DAGS_BUCKET, "dags/")
    stored = store.put("backtest_a.py", b"x = 1\n")
    assert store.get("backtest_a.py") == b"x = 1\n"
    assert store.head("backtest_a.py") == stored
    monkeypatch.setattr(s3_store, "LIST_PAGE_SIZE", 2)  # several pages
    for name in ("b", "c", "d", "e"):
        store.put(f"pkg/{name}.py", name.encode())
    assert store.list("pkg/") == [f"pkg/{name}.py" for name in "bcde"]
    assert store.describe() == f"s3://{DAGS_BUCKET}/dags/"
    raw_keys = [item["Key"] for item in aws_client("s3").list_objects_v2(Bucket=DAGS_BUCKET)["Contents"]]
    assert "dags/backtest_a.py" in raw_keys
    store.delete("backtest_a.py")
    assert store.head("backtest_a.py") is None
    with pytest.raises(NotFound):
        store.get("backtest_a.py")


def test_s3_store_heads_objects_written_by_others(aws_env: dict[str, str]) -> None:
    create_resources()
    open_backend(RESULTS_URI).put(ec.point_key("d", "r", 0), b'{"index": 0}')  # as the engine writes
    store = S3Store.from_uri(aws_client("s3"), RESULTS_URI)
    head = store.head("d/r/points/0.json")
    assert head is not None and head.size == len('{"index": 0}')
    assert head.sha256 == s3_store.hashlib.sha256(b'{"index": 0}').hexdigest()
    assert ResultsService(store).done_indices("d", "r") == {0}


def test_s3_store_missing_bucket_is_a_storage_error(aws_env: dict[str, str]) -> None:
    store = S3Store(aws_client("s3"), "no-such-bucket", "dags/")
    with pytest.raises(StorageError) as info:
        store.put("x.py", b"1")
    assert "no-such-bucket does not exist" in info.value.message


# ---- Batch monitoring ------------------------------------------------------------------------------------


def submit_like_batch_operator(config: SweepConfig, run_id: str, start: int, count: int, **extra: Any) -> str:
    """One chunk's job, submitted as dag_factory's BatchOperator does: name, queue, definition, env, tags."""
    env = ec.engine_environment(
        spec_json=config.to_json(),
        strategy=config.strategy,
        start=start,
        count=count,
        results_uri=RESULTS_URI,
        dag_id=config.dag_id,
        run_id=run_id,
    )
    return aws_client("batch").submit_job(
        jobName=config.dag_id,
        jobQueue=QUEUE,
        jobDefinition=JOB_DEFINITION,
        containerOverrides=ec.container_overrides(env),
        tags=ec.batch_job_tags(config.dag_id, run_id),
        **extra,
    )["jobId"]


def test_batch_jobs_of_a_run_with_states_chunks_and_logs(aws_env: dict[str, str]) -> None:
    create_resources()
    config = small_sweep("MomentumStrategy", name="batch_watch", points_per_task=3)
    chunks = config.chunks()
    ours = [submit_like_batch_operator(config, RUN_ID, start, count) for start, count in chunks]
    array_parent = submit_like_batch_operator(config, RUN_ID, *chunks[0], arrayProperties={"size": 2})
    submit_like_batch_operator(config, "manual__other", *chunks[0])  # another run of the sweep
    other = small_sweep("MomentumStrategy", name="other_sweep")
    submit_like_batch_operator(other, RUN_ID, 0, 1)  # another sweep, same run id

    service = BatchJobsService(AwsClients(aws_settings(Path("/tmp"))).source("batch"), QUEUE)
    jobs = service.jobs_of_run(config.dag_id, RUN_ID, job_name=config.dag_id)
    assert {job.job_id for job in jobs} == {*ours, array_parent, f"{array_parent}:0", f"{array_parent}:1"}
    assert all(job.status is BatchJobStatus.SUCCEEDED for job in jobs)
    singles = sorted((job for job in jobs if job.job_id in ours), key=lambda job: job.chunk_start or 0)
    assert [(job.chunk_start, job.chunk_count) for job in singles] == chunks
    parent = next(job for job in jobs if job.job_id == array_parent)
    assert parent.array_size == 2
    children = [job for job in jobs if job.parent_job_id == array_parent]
    assert [job.array_index for job in children] == [0, 1]
    assert all(
        job.log_url and job.log_url.startswith(f"https://{REGION}.console.aws.amazon.com") for job in jobs
    )
    assert point_states_from_jobs(config, jobs) == [PointState.DONE] * config.grid_size

    # Without the name filter the queue is listed status by status: the same jobs.
    assert {job.job_id for job in service.jobs_of_run(config.dag_id, RUN_ID)} == {job.job_id for job in jobs}
    assert service.terminate(ours[:1], "cancelled from the Monitor page") == ours[:1]
