"""AWS mode against a moto server process (S3, STS, Batch) and the test MWAA endpoint (GetEnvironment,
InvokeRestApi): the S3 store, Batch monitoring, every connection check passing and failing, and
`python -m services.connections` as a command. No fake secret may show in any output."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from airflow_backtest_framework import engine_contract as ec
from airflow_backtest_framework.config import SweepConfig
from airflow_backtest_framework.results_store import open_backend
from services.airflow.client import AirflowClient
from services.airflow.mwaa import MWAA_MAX_PATH_CHARS, MwaaTransport
from services.aws import s3_store
from services.aws.batch import BatchJobsService, BatchJobStatus, point_states_from_jobs
from services.aws.clients import AwsClients
from services.aws.s3_store import S3Store
from services.bootstrap import build_services
from services.errors import NotFound, StorageError
from services.models import CheckResult, PointState
from services.ports import Services
from services.results import ResultsService
from services.settings import PROJECT_ROOT, Settings, load_settings
from tests.support.moto_server import moto_server, reset
from tests.support.mwaa_endpoint import EnvironmentSpec, MwaaEndpoint
from tests.support.sweeps import small_sweep

REGION = "us-east-1"
FAKE_KEY_ID = "AKIAMOTOFAKEKEY12345"
FAKE_SECRET = "motoFakeSecret/Never+Shown/0123456789abcd"
ACCOUNT = "123456789012"  # moto's account: only its last four digits may show
SECRETS = (FAKE_KEY_ID, FAKE_SECRET, ACCOUNT)
ENV_NAME = "BacktestMwaaEnvironment"
DAGS_BUCKET = "mwaa-dags-bucket"
RESULTS_BUCKET = "backtest-results"
RESULTS_URI = f"s3://{RESULTS_BUCKET}/runs"
QUEUE = "backtest-queue"
JOB_DEFINITION = "backtest-engine"
RUN_ID = "manual__2026-11-25T09:28:05.467310+00:00"
ALL_CHECKS = [
    "credentials",
    "mwaa_environment",
    "airflow",
    "dags_bucket",
    "dags_location",
    "dags_versioning",
    "dags_public_access",
    "batch_queue",
    "batch_definition",
    "results_location",
]


@pytest.fixture(scope="module")
def moto_url() -> Iterator[str]:
    with moto_server() as url:
        yield url


@pytest.fixture
def mwaa_endpoint() -> Iterator[MwaaEndpoint]:
    endpoint = MwaaEndpoint(EnvironmentSpec(name=ENV_NAME, airflow_version="2.10.3", region=REGION))
    endpoint.start()
    yield endpoint
    endpoint.stop()


@pytest.fixture
def aws_env(
    moto_url: str, mwaa_endpoint: MwaaEndpoint, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> dict[str, str]:
    """This test's AWS environment: endpoints of moto and the MWAA stand-in, fake credentials."""
    reset(moto_url)
    env = {
        "AWS_ENDPOINT_URL": moto_url,
        "AWS_ENDPOINT_URL_MWAA": mwaa_endpoint.url,
        "AWS_DISABLE_HOST_PREFIX_INJECTION": "true",
        "AWS_ACCESS_KEY_ID": FAKE_KEY_ID,
        "AWS_SECRET_ACCESS_KEY": FAKE_SECRET,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_CONFIG_FILE": str(tmp_path / "no-aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "no-aws-credentials"),
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_REGION", "AWS_ENDPOINT_URL_S3"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


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


def checks_of(services: Services) -> dict[str, CheckResult]:
    return {check.key: check for check in services.connections.check_all()}


def assert_no_secrets(*texts: str) -> None:
    for text in texts:
        for secret in SECRETS:
            assert secret not in text


def dump(checks: dict[str, CheckResult]) -> str:
    return json.dumps([check.model_dump() for check in checks.values()])


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


# ---- connection checks ------------------------------------------------------------------------------------


def test_every_check_passes_on_a_correct_setup(
    aws_env: dict[str, str], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)  # botocore DEBUG-logs signed headers itself
    create_resources()
    checks = checks_of(build_services(aws_settings(tmp_path)))
    assert list(checks) == ALL_CHECKS
    assert [key for key, check in checks.items() if not check.ok] == []
    assert checks["credentials"].detail.startswith("account ****9012")
    assert checks["mwaa_environment"].detail.startswith("AVAILABLE, Airflow 2.10.3")
    assert checks["airflow"].detail == "Airflow 2.10.3 (API v1)"
    assert checks["dags_location"].resource == f"s3://{DAGS_BUCKET}/dags/"
    assert checks["results_location"].resource == f"s3://{RESULTS_BUCKET}/runs/"
    assert checks["batch_definition"].detail == "ACTIVE revision 1"
    assert_no_secrets(dump(checks), caplog.text)


@pytest.mark.parametrize(
    ("setup", "overrides", "key", "words", "fix"),
    [
        ({"dags_bucket": False}, {}, "dags_bucket", "does not exist", "S3_DAGS_BUCKET"),
        (
            {"versioning": False},
            {},
            "dags_versioning",
            "versioning was never enabled",
            "put-bucket-versioning",
        ),
        (
            {"public_access_blocked": False},
            {},
            "dags_public_access",
            "no public access block",
            "put-public-access",
        ),
        ({"queue_state": "DISABLED"}, {}, "batch_queue", "state DISABLED", "--state ENABLED"),
        ({}, {"batch_job_queue": "wrong-queue"}, "batch_queue", "no such job queue", "BATCH_JOB_QUEUE"),
        ({"job_definition": False}, {}, "batch_definition", "no ACTIVE revision", "register-job-definition"),
        ({"results_bucket": False}, {}, "results_location", "does not exist", "write access"),
        (
            {},
            {"mwaa_environment_name": "NoSuchEnv"},
            "mwaa_environment",
            "not found",
            "MWAA_ENVIRONMENT_NAME",
        ),
    ],
)
def test_each_check_fails_with_its_fix(
    aws_env: dict[str, str],
    tmp_path: Path,
    setup: dict[str, Any],
    overrides: dict[str, Any],
    key: str,
    words: str,
    fix: str,
) -> None:
    create_resources(**setup)
    checks = checks_of(build_services(aws_settings(tmp_path, **overrides)))
    failed = [name for name, check in checks.items() if not check.ok]
    assert failed == [key]
    assert words in checks[key].detail and fix in checks[key].fix
    assert checks[key].resource
    assert_no_secrets(dump(checks))


def test_partly_blocked_public_access_names_the_flags(aws_env: dict[str, str], tmp_path: Path) -> None:
    create_resources()
    aws_client("s3").put_public_access_block(
        Bucket=DAGS_BUCKET,
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": True,
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": False,
            "RestrictPublicBuckets": False,
        },
    )
    check = checks_of(build_services(aws_settings(tmp_path)))["dags_public_access"]
    assert not check.ok and "BlockPublicPolicy, RestrictPublicBuckets off" in check.detail


def test_an_environment_that_is_not_available(
    aws_env: dict[str, str], mwaa_endpoint: MwaaEndpoint, tmp_path: Path
) -> None:
    create_resources()
    mwaa_endpoint.spec.status = "UPDATING"
    checks = checks_of(build_services(aws_settings(tmp_path)))
    assert not checks["mwaa_environment"].ok and "UPDATING" in checks["mwaa_environment"].detail
    assert "airflow" not in checks  # no API call to an environment that is not available


def test_no_credentials_is_one_clear_failure(
    aws_env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)  # botocore DEBUG-logs signed headers itself
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    checks = checks_of(build_services(aws_settings(tmp_path)))
    assert list(checks) == ["credentials"]
    assert not checks["credentials"].ok
    assert "no usable AWS credentials" in checks["credentials"].detail
    assert "AWS_PROFILE" in checks["credentials"].fix
    assert_no_secrets(dump(checks), caplog.text)


# ---- the wired AWS services through the MWAA endpoint --------------------------------------------------


def test_wired_services_reach_airflow_through_invoke_rest_api(
    aws_env: dict[str, str], mwaa_endpoint: MwaaEndpoint, tmp_path: Path
) -> None:
    create_resources()
    services = build_services(aws_settings(tmp_path))
    assert mwaa_endpoint.calls == []  # building the services asked nothing
    config = small_sweep("MomentumStrategy", name="wired_sweep")
    status = services.monitor.status(config)
    assert not status.stale and status.is_paused is None  # the DAG is not there yet (404 via the wire)
    assert mwaa_endpoint.calls[-1] == {"Path": f"/dags/{config.dag_id}", "Method": "GET"}
    assert services.airflow_ui_url(config.dag_id, RUN_ID) == (
        f"https://test-mwaa.c0.us-east-1.airflow.amazonaws.com/dags/{config.dag_id}"
        "/grid?dag_run_id=manual__2026-11-25T09%3A28%3A05.467310%2B00%3A00"
    )
    preflight = {check.key: check for check in services.deployer.preflight(config)}
    assert all(check.ok for check in preflight.values()), preflight


def test_long_paths_go_through_the_batch_endpoint_on_the_wire(
    aws_env: dict[str, str], mwaa_endpoint: MwaaEndpoint
) -> None:
    run = {
        "dag_id": "backtest_x",
        "dag_run_id": RUN_ID,
        "state": "running",
        "execution_date": "2026-11-25T09:28:05Z",
    }
    mwaa_endpoint.spec.canned[("POST", "/dags/~/dagRuns/list")] = (
        200,
        {"dag_runs": [run], "total_entries": 1},
    )
    transport = MwaaTransport(aws_client("mwaa"), ENV_NAME)
    client = AirflowClient(transport, transport.api_version, max_path_length=MWAA_MAX_PATH_CHARS)
    assert client.get_run("backtest_x", RUN_ID).run_id == RUN_ID
    assert mwaa_endpoint.calls[-1] == {
        "Path": "/dags/~/dagRuns/list",
        "Method": "POST",
        "Body": {
            "dag_ids": ["backtest_x"],
            "order_by": "-execution_date",
            "page_offset": 0,
            "page_limit": 20,
        },
    }
    with pytest.raises(NotFound) as info:  # RestApiClientException 404 parsed from the real wire format
        client.get_dag("backtest_x")
    assert info.value.status == 404


# ---- python -m services.connections -------------------------------------------------------------------


def run_connections_command(
    aws_env: dict[str, str], tmp_path: Path, **settings: str
) -> subprocess.CompletedProcess:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("AWS_", "MWAA_", "S3_"))}
    env |= aws_env | {
        "MODE": "aws",
        "AWS_REGION": REGION,
        "MWAA_ENVIRONMENT_NAME": ENV_NAME,
        "S3_DAGS_BUCKET": DAGS_BUCKET,
        "RESULTS_URI": RESULTS_URI,
        "BATCH_JOB_QUEUE": QUEUE,
        "BATCH_JOB_DEFINITION": JOB_DEFINITION,
        "CACHE_DIR": str(tmp_path / "cache"),
        "APP_DATA_DIR": str(tmp_path / "app"),
    }
    env |= settings
    return subprocess.run(
        [sys.executable, "-m", "services.connections"],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_connections_command_all_ok(aws_env: dict[str, str], tmp_path: Path) -> None:
    create_resources()
    done = run_connections_command(aws_env, tmp_path)
    lines = done.stdout.splitlines()
    assert done.returncode == 0, done.stdout + done.stderr
    assert len(lines) == len(ALL_CHECKS) and all(line.startswith("ok ") for line in lines)
    assert lines[0] == "ok   AWS credentials [default credential chain]: account ****9012, user/moto"
    assert f"ok   MWAA environment [{ENV_NAME} ({REGION})]: AVAILABLE, Airflow 2.10.3" in lines[1]
    assert f"ok   Batch job queue [{QUEUE} ({REGION})]: state ENABLED, status VALID" in lines
    assert_no_secrets(done.stdout, done.stderr)


def test_connections_command_missing_bucket_and_wrong_queue(aws_env: dict[str, str], tmp_path: Path) -> None:
    create_resources(dags_bucket=False)
    done = run_connections_command(aws_env, tmp_path, BATCH_JOB_QUEUE="wrong-queue")
    assert done.returncode == 1
    failed = [line for line in done.stdout.splitlines() if line.startswith("FAIL")]
    assert failed == [
        f"FAIL DAGs bucket exists [s3://{DAGS_BUCKET}]: S3 bucket {DAGS_BUCKET} does not exist"
        " -> fix: Check S3_DAGS_BUCKET in .env: it must be the bucket of the MWAA environment",
        f"FAIL Batch job queue [wrong-queue ({REGION})]: no such job queue"
        " -> fix: Check BATCH_JOB_QUEUE and AWS_REGION in .env",
    ]
    assert_no_secrets(done.stdout, done.stderr)
