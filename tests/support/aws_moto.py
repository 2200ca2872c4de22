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
        s3.create_bucket(Bucket=DAGS_BUCKET)
        if versioning:
            s3.put_bucket_versioning(Bucket=DAGS_BUCKET, VersioningConfiguration={"Status": "Enabled"})
        if public_access_blocked:
            flags = ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")
            s3.put_public_access_block(
                Bucket=DAGS_BUCKET, PublicAccessBlockConfiguration=dict.fromkeys(flags, True)
            )
    if results_bucket:
        s3.create_bucket(Bucket=RESULTS_BUCKET)
    iam, batch = aws_client("iam"), aws_client("batch")
    role = iam.create_role(RoleName="batch-service", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    environment = batch.create_compute_environment(
        computeEnvironmentName="backtest-compute", type="UNMANAGED", state="ENABLED", serviceRole=role
    )
    batch.create_job_queue(
        jobQueueName=QUEUE,
        state=queue_state,
        priority=1,
        computeEnvironmentOrder=[{"order": 1, "computeEnvironment": environment["computeEnvironmentArn"]}],
    )
    if job_definition:
        batch.register_job_definition(
            jobDefinitionName=JOB_DEFINITION,
            type="container",
            containerProperties={
                "image": "backtest-engine:latest",
                "vcpus": 1,
                "memory": 512,
                "command": ["python", "-m", "backtest_engine"],
            },
        )
