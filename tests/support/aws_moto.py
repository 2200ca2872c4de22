"""Constants, boto3 clients, settings and resources shared by the AWS tests against moto."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import boto3

from services.settings import Settings, load_settings

REGION = "us-east-1"
FAKE_KEY_ID = "AKIAMOTOFAKEKEY12345"
FAKE_SECRET = "motoFakeSecret/Never+Shown/0123456789abcd"
ENV_NAME = "BacktestMwaaEnvironment"
DAGS_BUCKET = "mwaa-dags-bucket"
RESULTS_BUCKET = "backtest-results"
RESULTS_URI = f"s3://{RESULTS_BUCKET}/runs"
QUEUE = "backtest-queue"
JOB_DEFINITION = "backtest-engine"
RUN_ID = "manual__2026-11-25T09:28:05.467310+00:00"


def aws_client(service: str) -> Any:
    return boto3.client(service, region_name=REGION)


def aws_settings(tmp_path: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "mode": "aws",
        "aws_region": REGION,
        "aws_profile": None,
        "mwaa_environment_name": ENV_NAME,
        "s3_dags_bucket": DAGS_BUCKET,
        "results_uri": RESULTS_URI,
        "batch_job_queue": QUEUE,
        "batch_job_definition": JOB_DEFINITION,
        "cache_dir": tmp_path / "cache",
        "app_data_dir": tmp_path / "app",
    }
    return load_settings(**(values | overrides))


def create_resources(
    *,
    dags_bucket: bool = True,
    versioning: bool = True,
    public_access_blocked: bool = True,
    queue_state: str = "ENABLED",
    job_definition: bool = True,
    results_bucket: bool = True,
) -> None:
    """What an MWAA + Batch setup holds: the DAGs bucket, the results bucket, a queue, a job definition."""
    s3 = aws_client("s3")
    if dags_bucket:
        create_dags_bucket(
            s3, DAGS_BUCKET, versioning=versioning, public_access_blocked=public_access_blocked
        )
    if results_bucket:
        s3.create_bucket(Bucket=RESULTS_BUCKET)
    create_batch(
        aws_client("iam"),
        aws_client("batch"),
        name_prefix="",
        queue=QUEUE,
        queue_state=queue_state,
        job_definition=JOB_DEFINITION if job_definition else None,
        memory_mb=512,
    )


def create_dags_bucket(
    s3: Any, bucket: str, *, versioning: bool = True, public_access_blocked: bool = True
) -> None:
    """An MWAA DAGs bucket: versioned and with all public access blocked, as MWAA requires."""
    s3.create_bucket(Bucket=bucket)
    if versioning:
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    if public_access_blocked:
        flags = ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")
        s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration=dict.fromkeys(flags, True))


def create_batch(
    iam: Any,
    batch: Any,
    *,
    name_prefix: str,
    queue: str,
    job_definition: str | None,
    memory_mb: int,
    queue_state: str = "ENABLED",
) -> None:
    """An unmanaged compute environment (its service role named `<name_prefix>batch-service`), `queue` on
    it and, unless None, the engine's container `job_definition` with `memory_mb` of memory."""
    role = iam.create_role(RoleName=f"{name_prefix}batch-service", AssumeRolePolicyDocument="{}")["Role"][
        "Arn"
    ]
    environment = batch.create_compute_environment(
        computeEnvironmentName=f"{name_prefix}backtest-compute",
        type="UNMANAGED",
        state="ENABLED",
        serviceRole=role,
    )
    batch.create_job_queue(
        jobQueueName=queue,
        state=queue_state,
        priority=1,
        computeEnvironmentOrder=[{"order": 1, "computeEnvironment": environment["computeEnvironmentArn"]}],
    )
    if job_definition is not None:
        batch.register_job_definition(
            jobDefinitionName=job_definition,
            type="container",
            containerProperties={
                "image": "backtest-engine:latest",
                "vcpus": 1,
                "memory": memory_mb,
                "command": ["python", "-m", "backtest_engine"],
            },
        )
