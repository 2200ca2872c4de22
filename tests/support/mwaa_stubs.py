"""Stubbed MWAA clients for the InvokeRestApi tests: constants, canned answers and errors."""

from __future__ import annotations

from typing import Any

from botocore.stub import Stubber

from services.airflow.client import AirflowClient
from services.airflow.dialect import ApiVersion
from services.airflow.mwaa import (
    MWAA_MAX_PATH_CHARS,
    MwaaTransport,
)
from services.airflow.transport import RetryPolicy

ENV = "TradingStrategiesMwaaEnvironment"
REGION = "us-east-1"
RUN_ID = "manual__2026-11-25T09:28:05.467310+00:00"  # what Airflow names a manual run
DAG_ID = "backtest_momentum_grid"
ARN = f"arn:aws:airflow:{REGION}:123456789012:environment/{ENV}"
FAST_RETRY = RetryPolicy(attempts=3, base_delay_s=0.0, max_delay_s=0.0)


def transport_of(client: Any) -> MwaaTransport:
    return MwaaTransport(client, ENV, retry=FAST_RETRY, sleep=lambda _: None)


def airflow_of(client: Any, version: ApiVersion) -> AirflowClient:
    """The AirflowClient over MWAA, as the composition root builds it (with InvokeRestApi's path limit)."""
    return AirflowClient(transport_of(client), version, max_path_length=MWAA_MAX_PATH_CHARS)


def ok(
    stubber: Stubber, path: str, answer: Any, method: str = "GET", status: int = 200, **extra: Any
) -> None:
    """Expect one InvokeRestApi call with exactly these arguments; answer it."""
    expected = {"Name": ENV, "Path": path, "Method": method, **extra}
    stubber.add_response(
        "invoke_rest_api", {"RestApiStatusCode": status, "RestApiResponse": answer}, expected
    )


def aws_error(
    stubber: Stubber, code: str, message: str, status: int, operation: str = "invoke_rest_api"
) -> None:
    """MWAA itself refusing `operation` (not Airflow answering): an AWS error code, message and status."""
    stubber.add_client_error(
        operation, service_error_code=code, service_message=message, http_status_code=status
    )


def rest_error(stubber: Stubber, status: int, body: dict[str, Any], server: bool = False) -> None:
    """An Airflow error as MWAA returns it: RestApi{Client,Server}Exception carrying status and body."""
    stubber.add_client_error(
        "invoke_rest_api",
        service_error_code="RestApiServerException" if server else "RestApiClientException",
        service_message="Airflow answered with an error",
        http_status_code=400,
        modeled_fields={"RestApiStatusCode": status, "RestApiResponse": body},
    )


def v2_run(run_id: str = RUN_ID, state: str = "running") -> dict[str, Any]:
    return {
        "dag_id": DAG_ID,
        "dag_run_id": run_id,
        "state": state,
        "run_type": "manual",
        "logical_date": None,
        "run_after": "2026-11-25T09:28:05Z",
        "start_date": "2026-11-25T09:28:06Z",
        "conf": {},
    }


def ti(task_id: str, map_index: int, state: str | None, run_id: str = RUN_ID) -> dict[str, Any]:
    return {
        "dag_id": DAG_ID,
        "dag_run_id": run_id,
        "task_id": task_id,
        "map_index": map_index,
        "state": state,
    }
