"""MwaaTransport and AirflowClient over MWAA InvokeRestApi, every call checked by botocore's Stubber."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from services.airflow.client import AirflowClient
from services.airflow.dialect import ApiVersion
from services.airflow.models import RunState, TaskState
from services.airflow.mwaa import (
    MWAA_MAX_PATH_CHARS,
    MwaaTransport,
    api_version_of,
    detect_mwaa_api_version,
)
from services.airflow.transport import ApiRequest, RetryPolicy
from services.errors import AuthError, BacktestError, BadRequest, Conflict, NotFound, Unavailable

ENV = "TradingStrategiesMwaaEnvironment"
REGION = "us-east-1"
RUN_ID = "manual__2026-11-25T09:28:05.467310+00:00"  # what Airflow names a manual run
DAG_ID = "backtest_momentum_grid"
ARN = f"arn:aws:airflow:{REGION}:123456789012:environment/{ENV}"
FAST_RETRY = RetryPolicy(attempts=3, base_delay_s=0.0, max_delay_s=0.0)


@pytest.fixture
def mwaa() -> Iterator[tuple[Any, Stubber]]:
    client = boto3.client(
        "mwaa",
        region_name=REGION,
        aws_access_key_id="AKIAIOSFODNN7EXAMPLE",
        aws_secret_access_key="wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    )
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


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


# ---- the 64-character Path limit -----------------------------------------------------------------


def test_get_run_with_a_real_run_id_uses_the_batch_list(mwaa: tuple[Any, Stubber]) -> None:
    client, stubber = mwaa
    long_path = f"/dags/{DAG_ID}/dagRuns/{RUN_ID.replace(':', '%3A').replace('+', '%2B')}"
    assert len(long_path) > MWAA_MAX_PATH_CHARS
    # What is sent instead: the DAG's runs, newest first, from the batch endpoint.
    ok(
        stubber,
        "/dags/~/dagRuns/list",
        {"dag_runs": [v2_run("manual__newer", "queued"), v2_run(RUN_ID, "success")], "total_entries": 2},
        method="POST",
        Body={"dag_ids": [DAG_ID], "order_by": "-run_after", "page_offset": 0, "page_limit": 20},
    )
    run = airflow_of(client, "v2").get_run(DAG_ID, RUN_ID)
    assert (run.run_id, run.state) == (RUN_ID, RunState.SUCCESS)


def test_get_run_missing_from_every_page_is_not_found(mwaa: tuple[Any, Stubber]) -> None:
    client, stubber = mwaa
    ok(
        stubber,
        "/dags/~/dagRuns/list",
        {"dag_runs": [{"dag_id": DAG_ID, "dag_run_id": "other", "state": "success"}], "total_entries": 1},
        method="POST",
        Body={"dag_ids": [DAG_ID], "order_by": "-execution_date", "page_offset": 0, "page_limit": 20},
    )
    with pytest.raises(NotFound):
        airflow_of(client, "v1").get_run(DAG_ID, RUN_ID)


def test_list_runs_of_a_long_dag_id_uses_the_batch_list(mwaa: tuple[Any, Stubber]) -> None:
    client, stubber = mwaa
    dag_id = "backtest_" + "w" * 45  # /dags/<id>/dagRuns is 68 characters
    ok(
        stubber,
        "/dags/~/dagRuns/list",
        {"dag_runs": [{"dag_id": dag_id, "dag_run_id": RUN_ID, "state": "queued"}], "total_entries": 1},
        method="POST",
        Body={"dag_ids": [dag_id], "order_by": "-run_after", "page_offset": 0, "page_limit": 1},
    )
    [run] = airflow_of(client, "v2").list_runs(dag_id, limit=1)
    assert (run.run_id, run.state) == (RUN_ID, RunState.QUEUED)


def test_v2_task_instances_of_a_real_run_page_through_the_batch_endpoint(mwaa: tuple[Any, Stubber]) -> None:
    client, stubber = mwaa
    page = 2
    first = [ti("plan", -1, "success"), ti("run_chunk", 0, "running")]
    second = [ti("run_chunk", 1, "failed")]
    for offset, items in ((0, first), (page, second)):
        ok(
            stubber,
            "/dags/~/dagRuns/~/taskInstances/list",
            {"task_instances": items, "total_entries": 3},
            method="POST",
            Body={"dag_ids": [DAG_ID], "dag_run_ids": [RUN_ID], "page_offset": offset, "page_limit": page},
        )
    client_ = AirflowClient(transport_of(client), "v2", page_size=page, max_path_length=MWAA_MAX_PATH_CHARS)
    tis = client_.list_task_instances(DAG_ID, RUN_ID)
    assert [(t.task_id, t.map_index, t.state) for t in tis] == [
        ("plan", -1, TaskState.SUCCESS),
        ("run_chunk", 0, TaskState.RUNNING),
        ("run_chunk", 1, TaskState.FAILED),
    ]


def test_v1_task_instances_use_the_unpaged_batch_form(mwaa: tuple[Any, Stubber]) -> None:
    client, stubber = mwaa
    ok(
        stubber,
        "/dags/~/dagRuns/~/taskInstances/list",
        {
            "task_instances": [ti("run_chunk", 0, "success"), ti("run_chunk", 0, "success", run_id="other")],
            "total_entries": 2,
        },
        method="POST",
        Body={"dag_ids": [DAG_ID], "dag_run_ids": [RUN_ID]},
    )
    tis = airflow_of(client, "v1").list_task_instances(DAG_ID, RUN_ID)
    assert [(t.run_id, t.map_index) for t in tis] == [(RUN_ID, 0)]


def test_a_long_dag_id_is_found_and_unpaused_through_its_pattern(mwaa: tuple[Any, Stubber]) -> None:
    client, stubber = mwaa
    dag_id = "backtest_" + "long_sweep_name_" * 3 + "x" * 10  # 67 characters
    assert len(f"/dags/{dag_id}") > MWAA_MAX_PATH_CHARS
    listed = {"dags": [{"dag_id": dag_id, "is_paused": True}], "total_entries": 1}
    ok(
        stubber,
        "/dags",
        listed,
        QueryParameters={"exclude_stale": "false", "dag_id_pattern": dag_id, "limit": 100, "offset": 0},
    )
    ok(stubber, "/dags", listed, QueryParameters={"dag_id_pattern": dag_id, "limit": 100, "offset": 0})
    ok(
        stubber,
        "/dags",
        {"dags": [{"dag_id": dag_id, "is_paused": False}], "total_entries": 1},
        method="PATCH",
        QueryParameters={"dag_id_pattern": dag_id, "update_mask": "is_paused", "limit": 100},
        Body={"is_paused": False},
    )
    airflow = airflow_of(client, "v2")
    assert airflow.get_dag(dag_id).is_paused
    assert airflow.set_paused(dag_id, False).is_paused is False


def test_unpausing_by_pattern_refuses_when_other_dags_match(mwaa: tuple[Any, Stubber]) -> None:
    client, stubber = mwaa
    dag_id = "backtest_" + "y" * 60
    ok(
        stubber,
        "/dags",
        {"dags": [{"dag_id": dag_id, "is_paused": True}, {"dag_id": dag_id + "_v2", "is_paused": True}]},
        QueryParameters={"dag_id_pattern": dag_id, "limit": 100, "offset": 0},
    )
    with pytest.raises(BadRequest) as info:
        airflow_of(client, "v1").set_paused(dag_id, False)
    assert dag_id + "_v2" in info.value.message  # and no PATCH was sent


def test_a_call_with_no_short_alternative_says_which_and_sends_nothing(mwaa: tuple[Any, Stubber]) -> None:
    client, _ = mwaa
    dag_id = "backtest_" + "z" * 50
    with pytest.raises(BadRequest) as info:
        airflow_of(client, "v2").trigger(dag_id)
    assert f"POST /dags/{dag_id}/dagRuns" in info.value.message
    assert "at most 64" in info.value.message


def test_the_transport_itself_refuses_long_paths(mwaa: tuple[Any, Stubber]) -> None:
    client, _ = mwaa
    with pytest.raises(BadRequest) as info:
        transport_of(client)(ApiRequest("GET", f"/dags/{DAG_ID}/dagRuns/{RUN_ID}/taskInstances"))
    assert "too long for MWAA" in info.value.message


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
    assert detect_mwaa_api_version(client, ENV) == api


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
