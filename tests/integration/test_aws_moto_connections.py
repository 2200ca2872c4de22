"""AWS connection checks passing and failing, the services wired via MWAA, the connections command."""

from __future__ import annotations

import json
import logging
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from services.airflow.client import AirflowClient
from services.airflow.mwaa import MWAA_MAX_PATH_CHARS, MwaaTransport
from services.bootstrap import build_services
from services.errors import NotFound
from services.models import CheckResult
from services.ports import Services
from tests.support.aws_moto import (
    DAGS_BUCKET,
    ENV_NAME,
    FAKE_KEY_ID,
    FAKE_SECRET,
    JOB_DEFINITION,
    QUEUE,
    REGION,
    RESULTS_BUCKET,
    RESULTS_URI,
    RUN_ID,
    aws_client,
    aws_settings,
    create_resources,
)
from tests.support.mwaa_endpoint import MwaaEndpoint
from tests.support.processes import run_module
from tests.support.sweeps import small_sweep

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
ACCOUNT = "123456789012"  # moto's account: only its last four digits may show
SECRETS = (FAKE_KEY_ID, FAKE_SECRET, ACCOUNT)


def checks_of(services: Services) -> dict[str, CheckResult]:
    return {check.key: check for check in services.connections.check_all()}


def assert_no_secrets(*texts: str) -> None:
    for text in texts:
        for secret in SECRETS:
            assert secret not in text


def dump(checks: dict[str, CheckResult]) -> str:
    return json.dumps([check.model_dump() for check in checks.values()])


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
    return run_module("services.connections", env)


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
