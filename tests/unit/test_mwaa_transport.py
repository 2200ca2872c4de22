"""MwaaTransport and AirflowClient over MWAA InvokeRestApi, every call checked by botocore's Stubber."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.stub import Stubber

from services.airflow.client import AirflowClient
from services.airflow.models import RunState
from services.airflow.mwaa import (
    api_version_of,
    get_mwaa_environment,
)
from services.airflow.transport import ApiRequest
from services.errors import AuthError, BacktestError, BadRequest, Conflict, NotFound, Unavailable
from tests.support.mwaa_stubs import (
    ARN,
    DAG_ID,
    ENV,
    FAST_RETRY,
    RUN_ID,
    airflow_of,
    aws_error,
    ok,
    rest_error,
    transport_of,
    v2_run,
)

# ---- successful calls, Airflow 3 (/api/v2) and Airflow 2 (/api/v1) shapes ------------------------


def test_v2_version_and_query_parameters(mwaa: tuple[Any, Stubber]) -> None:
    client, stubber = mwaa
    ok(stubber, "/version", {"version": "3.0.6", "git_version": None})
    ok(
        stubber,
        f"/dags/{DAG_ID}/dagRuns",
        {"dag_runs": [v2_run()], "total_entries": 1},
        QueryParameters={"limit": 3, "offset": 0, "order_by": "-run_after"},
    )
    airflow = airflow_of(client, "v2")
    assert airflow.version().version == "3.0.6"
    runs = airflow.list_runs(DAG_ID, limit=3)
    assert [(run.run_id, run.state) for run in runs] == [(RUN_ID, RunState.RUNNING)]


def test_v2_trigger_sends_the_body_as_a_document(mwaa: tuple[Any, Stubber]) -> None:
    client, stubber = mwaa
    ok(
        stubber,
        f"/dags/{DAG_ID}/dagRuns",
        v2_run(state="queued"),
        method="POST",
        Body={"logical_date": None, "conf": {"spec_hash": "abc"}},
    )
    run = airflow_of(client, "v2").trigger(DAG_ID, {"spec_hash": "abc"})
    assert (run.run_id, run.state) == (RUN_ID, RunState.QUEUED)


def test_v1_shapes_map_to_the_same_models(mwaa: tuple[Any, Stubber]) -> None:
    client, stubber = mwaa
    ok(
        stubber,
        f"/dags/{DAG_ID}",
        {"dag_id": DAG_ID, "is_paused": True, "is_active": False, "file_token": "t"},
    )
    ok(
        stubber,
        f"/dags/{DAG_ID}/dagRuns",
        {
            "dag_runs": [
                {
                    "dag_id": DAG_ID,
                    "dag_run_id": "manual__1",
                    "state": "success",
                    "execution_date": "2026-01-02T00:00:00Z",
                }
            ],
            "total_entries": 1,
        },
        QueryParameters={"limit": 1, "offset": 0, "order_by": "-execution_date"},
    )
    airflow = airflow_of(client, "v1")
    dag = airflow.get_dag(DAG_ID)
    assert dag.is_paused and dag.is_stale  # v1 says is_active=false
    [run] = airflow.list_runs(DAG_ID, limit=1)
    assert run.state is RunState.SUCCESS
    assert run.logical_date is not None and run.logical_date.year == 2026


def test_a_query_in_the_path_moves_to_query_parameters(mwaa: tuple[Any, Stubber]) -> None:
    client, stubber = mwaa
    ok(stubber, "/importErrors", {"import_errors": []}, QueryParameters={"limit": "5", "offset": 0})
    response = transport_of(client)(ApiRequest("GET", "/importErrors?limit=5", params={"offset": 0}))
    assert response.ok and response.json == {"import_errors": []}


# ---- Airflow's errors through RestApiClientException / RestApiServerException --------------------


def test_rest_api_client_exception_404_is_not_found(mwaa: tuple[Any, Stubber]) -> None:
    client, stubber = mwaa
    rest_error(stubber, 404, {"detail": f"The Dag with ID: `{DAG_ID}` was not found"})
    rest_error(stubber, 404, {"detail": "not found"})
    airflow = airflow_of(client, "v2")
    with pytest.raises(NotFound) as info:
        airflow.get_dag(DAG_ID)
    assert info.value.status == 404 and "was not found" in info.value.message
    assert airflow.find_dag(DAG_ID) is None


def test_rest_api_client_exception_409_is_conflict(mwaa: tuple[Any, Stubber]) -> None:
    client, stubber = mwaa
    rest_error(stubber, 409, {"detail": "Unique constraint violation: run id already exists"})
    with pytest.raises(Conflict) as info:
        airflow_of(client, "v2").trigger(DAG_ID, run_id="r1")
    assert "already exists" in info.value.message


def test_rest_api_client_exception_401_is_auth_error(mwaa: tuple[Any, Stubber]) -> None:
    client, stubber = mwaa
    rest_error(stubber, 401, {"title": "Unauthorized", "detail": "Token is not valid"})
    with pytest.raises(AuthError) as info:
        airflow_of(client, "v1").version()
    assert info.value.status == 401


def test_rest_api_server_exception_503_is_retried(mwaa: tuple[Any, Stubber]) -> None:
    client, stubber = mwaa
    rest_error(stubber, 503, {"detail": "Service Unavailable"}, server=True)
    ok(stubber, "/version", {"version": "2.10.3"})
    assert airflow_of(client, "v1").version().version == "2.10.3"


def test_rest_api_server_exception_500_database_locked_post_is_retried(mwaa: tuple[Any, Stubber]) -> None:
    client, stubber = mwaa
    rest_error(stubber, 500, {"detail": {"reason": "Database error", "statement": "…"}}, server=True)
    ok(stubber, f"/dags/{DAG_ID}/dagRuns", v2_run(), method="POST", Body={"logical_date": None, "conf": {}})
    assert airflow_of(client, "v2").trigger(DAG_ID).run_id == RUN_ID


def test_rest_api_server_exception_500_plain_is_unavailable_without_retry(mwaa: tuple[Any, Stubber]) -> None:
    client, stubber = mwaa
    rest_error(stubber, 500, {"detail": "Internal Server Error"}, server=True)
    with pytest.raises(Unavailable) as info:
        airflow_of(client, "v2").version()
    assert info.value.status == 500


# ---- AWS-side errors -----------------------------------------------------------------------------


def test_access_denied_names_the_permission(mwaa: tuple[Any, Stubber]) -> None:
    client, stubber = mwaa
    aws_error(
        stubber,
        "AccessDeniedException",
        f"User: arn:aws:sts::123456789012:assumed-role/app/i-1 is not authorized on {ARN}",
        403,
    )
    with pytest.raises(AuthError) as info:
        airflow_of(client, "v2").version()
    message = info.value.message + info.value.detail
    assert "airflow:InvokeRestApi" in info.value.message
    assert "123456789012" not in message and "****9012" in info.value.detail


def test_environment_not_updated_for_invoke_rest_api_says_so(mwaa: tuple[Any, Stubber]) -> None:
    client, stubber = mwaa
    aws_error(stubber, "ValidationException", "Update your environment to use InvokeRestApi.", 400)
    with pytest.raises(BadRequest) as info:
        airflow_of(client, "v2").version()
    assert f"MWAA environment {ENV} cannot take Airflow API calls yet" in info.value.message
    assert "updated to support InvokeRestApi" in info.value.message


def test_missing_environment_is_not_mistaken_for_a_missing_dag(mwaa: tuple[Any, Stubber]) -> None:
    client, stubber = mwaa
    aws_error(stubber, "ResourceNotFoundException", "x", 404)
    with pytest.raises(BacktestError) as info:
        airflow_of(client, "v2").find_dag(DAG_ID)
    assert not isinstance(info.value, NotFound)
    assert "MWAA_ENVIRONMENT_NAME" in info.value.message


def test_throttling_is_unavailable(mwaa: tuple[Any, Stubber]) -> None:
    client, stubber = mwaa
    for _ in range(FAST_RETRY.attempts):
        aws_error(stubber, "ThrottlingException", "Rate exceeded", 429)
    with pytest.raises(Unavailable) as info:
        airflow_of(client, "v2").version()
    assert "throttling" in info.value.message


# ---- GetEnvironment: API version detection and the webserver URL ---------------------------------


def environment(version: str, status: str = "AVAILABLE") -> dict[str, Any]:
    return {
        "Environment": {
            "Name": ENV,
            "Arn": ARN,
            "Status": status,
            "AirflowVersion": version,
            "WebserverUrl": "abcd1234.c10.us-east-1.airflow.amazonaws.com",
        }
    }


@pytest.mark.parametrize(("version", "api"), [("2.10.3", "v1"), ("3.0.6", "v2")])
def test_version_detection_from_get_environment(mwaa: tuple[Any, Stubber], version: str, api: str) -> None:
    client, stubber = mwaa
    stubber.add_response("get_environment", environment(version), {"Name": ENV})
    assert get_mwaa_environment(client, ENV).api_version == api


def test_client_detects_the_version_at_first_use_not_before(mwaa: tuple[Any, Stubber]) -> None:
    client, stubber = mwaa
    transport = transport_of(client)
    airflow = AirflowClient(transport, transport.api_version)  # no AWS call here: no stub consumed
    stubber.add_response("get_environment", environment("2.10.3"), {"Name": ENV})
    ok(stubber, "/health", {"metadatabase": {"status": "healthy"}, "scheduler": {"status": "healthy"}})
    assert airflow.health().healthy  # v1's /health, not v2's /monitor/health
    assert airflow.api_version == "v1"
    assert transport.webserver_url() == "https://abcd1234.c10.us-east-1.airflow.amazonaws.com"


def test_a_failed_get_environment_is_not_asked_again_at_once(mwaa: tuple[Any, Stubber]) -> None:
    client, stubber = mwaa
    aws_error(stubber, "ResourceNotFoundException", "no", 404, operation="get_environment")
    transport = transport_of(client)
    airflow = AirflowClient(transport, transport.api_version)
    with pytest.raises(BacktestError) as info:
        airflow.find_dag(DAG_ID)  # a missing environment is not a missing DAG
    assert not isinstance(info.value, NotFound) and "MWAA_ENVIRONMENT_NAME" in info.value.message
    with pytest.raises(BacktestError):  # answered from memory: the stubber has nothing more to give
        transport.webserver_url()


def test_api_version_of_odd_versions() -> None:
    assert api_version_of("2.4.3") == "v1"
    assert api_version_of("3.1.0") == "v2"
    with pytest.raises(BacktestError):
        api_version_of("latest")
