"""The AWS-mode world of the end-to-end test, without an AWS account.

- moto server process: S3 (DAGs bucket, versioned and public access blocked; results bucket), STS,
  Batch (`use_docker=False`: compute environment, job queue, job definition);
- BatchRunner: a proxy in front of moto's Batch that runs each submitted job's container
  (`python -m backtest_engine`) and reports RUNNING until it has exited (tests/support/batch_runner.py);
- a real local Airflow 3 of its own (BACKTEST_EXECUTOR=batch, AWS endpoints, Variables, `aws_default`);
- S3DagSyncer: the DAGs bucket's `dags/` mirrored into that Airflow's dags folder, as MWAA does;
- MwaaEndpoint: GetEnvironment and InvokeRestApi, forwarded to that Airflow.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3

from scripts import local_airflow
from services.settings import PROJECT_ROOT, Settings, load_settings
from tests.support.aws_moto import create_batch, create_dags_bucket
from tests.support.batch_runner import BatchRunner
from tests.support.dag_syncer import S3DagSyncer
from tests.support.moto_server import moto_server
from tests.support.mwaa_endpoint import EnvironmentSpec, MwaaEndpoint

REGION = "us-east-1"
FAKE_KEY_ID = "AKIAMOTOE2EFAKEKEY01"
FAKE_SECRET = "motoE2EFakeSecret/Never+Shown/0123456789"
ENV_NAME = "BacktestE2E"
AIRFLOW_VERSION = "3.3.2"  # the local Airflow's, as MWAA's GetEnvironment reports it
DAGS_BUCKET = "e2e-mwaa-dags"
DAGS_PREFIX = "dags/"
RESULTS_BUCKET = "e2e-backtest-results"
RESULTS_URI = f"s3://{RESULTS_BUCKET}/backtests"
JOB_QUEUE = "e2e-backtest-queue"
JOB_DEFINITION = "e2e-backtest-engine"
DB_HOST = "backtest-db.e2e.internal"
AIRFLOW_PORT = int(os.environ.get("BACKTEST_TEST_AWS_AIRFLOW_PORT", "28100"))
AIRFLOW_HOME = PROJECT_ROOT / ".local" / "test-airflow-aws"
AIRFLOW_USER = "admin"
AIRFLOW_PASSWORD = "admin"
# One stack at a time on this machine: a second test session waits for the first (same port and home).
STACK_LOCK = PROJECT_ROOT / ".local" / "test-airflow-aws.lock"
STACK_LOCK_WAIT_S = 600.0
LOCK_POLL_S = 1.0


@dataclass(frozen=True)
class AwsStack:
    moto_url: str
    batch_url: str
    mwaa_url: str
    airflow: Settings
    runner: BatchRunner
    endpoint: MwaaEndpoint
    syncer: S3DagSyncer

    def client(self, service: str) -> Any:
        """A boto3 client straight to moto (not through the Batch runner)."""
        return moto_client(self.moto_url, service)

    def app_env(self, base: dict[str, str]) -> dict[str, str]:
        """`base` (the e2e app_env) for MODE=aws against this world, without the user's AWS settings."""
        return without_user_aws(base) | {
            **credentials_env(self.moto_url),
            "MODE": "aws",
            "AWS_REGION": REGION,
            "AWS_ENDPOINT_URL_BATCH": self.batch_url,
            "AWS_ENDPOINT_URL_MWAA": self.mwaa_url,
            "AWS_DISABLE_HOST_PREFIX_INJECTION": "true",
            "MWAA_ENVIRONMENT_NAME": ENV_NAME,
            "S3_DAGS_BUCKET": DAGS_BUCKET,
            "RESULTS_URI": RESULTS_URI,
            "BATCH_JOB_QUEUE": JOB_QUEUE,
            "BATCH_JOB_DEFINITION": JOB_DEFINITION,
        }


def credentials_env(moto_url: str) -> dict[str, str]:
    """Fake credentials, moto as every service's endpoint, and no user AWS config read by accident."""
    return {
        "AWS_ACCESS_KEY_ID": FAKE_KEY_ID,
        "AWS_SECRET_ACCESS_KEY": FAKE_SECRET,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ENDPOINT_URL": moto_url,
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "AWS_EC2_METADATA_DISABLED": "true",
    }


def moto_client(moto_url: str, service: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=moto_url,
        region_name=REGION,
        aws_access_key_id=FAKE_KEY_ID,
        aws_secret_access_key=FAKE_SECRET,
    )


def without_user_aws(env: dict[str, str]) -> dict[str, str]:
    dropped = ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_REGION", "AWS_ENDPOINT_URL_S3")
    return {key: value for key, value in env.items() if key not in dropped}


def create_resources(moto_url: str) -> None:
    """What an MWAA + Batch account holds: the two buckets, a compute environment, queue, definition."""
    s3 = moto_client(moto_url, "s3")
    create_dags_bucket(s3, DAGS_BUCKET)
    s3.create_bucket(Bucket=RESULTS_BUCKET)
    create_batch(
        moto_client(moto_url, "iam"),
        moto_client(moto_url, "batch"),
        name_prefix="e2e-",
        queue=JOB_QUEUE,
        job_definition=JOB_DEFINITION,
        memory_mb=1024,
    )


def airflow_settings() -> Settings:
    """This test's own Airflow: AIRFLOW_PORT and a home of its own (not the `airflow_stack`)."""
    return load_settings(
        mode="local",
        airflow_url=f"http://127.0.0.1:{AIRFLOW_PORT}",
        airflow_home=AIRFLOW_HOME,
        local_dags_folder=AIRFLOW_HOME / "dags",
        results_root=AIRFLOW_HOME / "unused-results",
        airflow_username=AIRFLOW_USER,
        airflow_password=AIRFLOW_PASSWORD,
    )


def airflow_aws_env(moto_url: str, batch_url: str) -> dict[str, str]:
    """The Airflow processes' extras: the batch executor, moto, the Batch runner, Variables, aws_default."""
    connection = {
        "conn_type": "aws",
        "extra": {
            "region_name": REGION,
            "endpoint_url": moto_url,
            # BatchOperator's client goes to the runner, which forwards to moto.
            "service_config": {"batch": {"endpoint_url": batch_url}},
        },
    }
    return {
        **credentials_env(moto_url),
        "AWS_ENDPOINT_URL_BATCH": batch_url,
        "BACKTEST_EXECUTOR": "batch",
        "AIRFLOW_VAR_BATCH_JOB_QUEUE": JOB_QUEUE,
        "AIRFLOW_VAR_BATCH_JOB_DEFINITION": JOB_DEFINITION,
        "AIRFLOW_VAR_DB_HOST": DB_HOST,
        "AIRFLOW_VAR_BACKTEST_RESULTS_URI": RESULTS_URI,
        "AIRFLOW_CONN_AWS_DEFAULT": json.dumps(connection),
    }


@contextlib.contextmanager
def exclusive(path: Path, wait_s: float) -> Iterator[None]:
    """Hold an flock on `path` while the block runs; wait up to `wait_s` for another holder to finish."""
    path.parent.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + wait_s
    with path.open("w") as handle:
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise TimeoutError(
                        f"{path} still held by another test session after {wait_s:.0f} s"
                    ) from None
                time.sleep(LOCK_POLL_S)
        yield


@contextlib.contextmanager
def aws_stack() -> Iterator[AwsStack]:
    """Start the whole world, yield it, and stop every process and thread it started."""
    settings = airflow_settings()
    with exclusive(STACK_LOCK, STACK_LOCK_WAIT_S), contextlib.ExitStack() as stack:
        moto_url = stack.enter_context(moto_server())
        create_resources(moto_url)

        engine_env = without_user_aws({**os.environ, **credentials_env(moto_url)})
        engine_env["PYTHONPATH"] = str(PROJECT_ROOT)
        runner = BatchRunner(moto_url, engine_env)
        batch_url = stack.enter_context(runner)

        # A previous run's instance knows another moto: stop it (only ours, by its pid file); a fresh
        # dags folder, so that only what the app deploys (and start()'s framework copy) is there.
        local_airflow.stop(settings)
        shutil.rmtree(settings.local_dags_folder, ignore_errors=True)
        syncer = stack.enter_context(
            S3DagSyncer(moto_client(moto_url, "s3"), DAGS_BUCKET, DAGS_PREFIX, settings.local_dags_folder)
        )
        stack.callback(local_airflow.stop, settings)
        local_airflow.start(settings, extra_env=airflow_aws_env(moto_url, batch_url))

        spec = EnvironmentSpec(name=ENV_NAME, airflow_version=AIRFLOW_VERSION, region=REGION)
        forward = MwaaEndpoint.forward_to(settings.airflow_url, AIRFLOW_USER, AIRFLOW_PASSWORD, "v2")
        endpoint = MwaaEndpoint(spec, forward)
        mwaa_url = stack.enter_context(endpoint)
        yield AwsStack(moto_url, batch_url, mwaa_url, settings, runner, endpoint, syncer)
