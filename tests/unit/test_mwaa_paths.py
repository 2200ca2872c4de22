"""MWAA's 64-character InvokeRestApi Path limit: long DAG and run ids go through the batch endpoints."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.stub import Stubber

from services.airflow.client import AirflowClient
from services.airflow.models import RunState, TaskState
from services.airflow.mwaa import MWAA_MAX_PATH_CHARS
from services.airflow.transport import ApiRequest
from services.errors import BadRequest, NotFound
from tests.support import mwaa_stubs as stub

# ---- the 64-character Path limit -----------------------------------------------------------------


def test_get_run_with_a_real_run_id_uses_the_batch_list(mwaa: tuple[Any, Stubber]) -> None:
    client, stubber = mwaa
    long_path = f"/dags/{stub.DAG_ID}/dagRuns/{stub.RUN_ID.replace(':', '%3A').replace('+', '%2B')}"
    assert len(long_path) > MWAA_MAX_PATH_CHARS
    # What is sent instead: the DAG's runs, newest first, from the batch endpoint.
    stub.ok(
        stubber,
        "/dags/~/dagRuns/list",
        {
            "dag_runs": [stub.v2_run("manual__newer", "queued"), stub.v2_run(stub.RUN_ID, "success")],
            "total_entries": 2,
        },
        method="POST",
        Body={"dag_ids": [stub.DAG_ID], "order_by": "-run_after", "page_offset": 0, "page_limit": 20},
    )
    run = stub.airflow_of(client, "v2").get_run(stub.DAG_ID, stub.RUN_ID)
    assert (run.run_id, run.state) == (stub.RUN_ID, RunState.SUCCESS)


def test_get_run_missing_from_every_page_is_not_found(mwaa: tuple[Any, Stubber]) -> None:
    client, stubber = mwaa
    stub.ok(
        stubber,
        "/dags/~/dagRuns/list",
        {
            "dag_runs": [{"dag_id": stub.DAG_ID, "dag_run_id": "other", "state": "success"}],
            "total_entries": 1,
        },
        method="POST",
        Body={"dag_ids": [stub.DAG_ID], "order_by": "-execution_date", "page_offset": 0, "page_limit": 20},
    )
    with pytest.raises(NotFound):
        stub.airflow_of(client, "v1").get_run(stub.DAG_ID, stub.RUN_ID)


def test_list_runs_of_a_long_dag_id_uses_the_batch_list(mwaa: tuple[Any, Stubber]) -> None:
    client, stubber = mwaa
    dag_id = "backtest_" + "w" * 45  # /dags/<id>/dagRuns is 68 characters
    stub.ok(
        stubber,
        "/dags/~/dagRuns/list",
        {"dag_runs": [{"dag_id": dag_id, "dag_run_id": stub.RUN_ID, "state": "queued"}], "total_entries": 1},
        method="POST",
        Body={"dag_ids": [dag_id], "order_by": "-run_after", "page_offset": 0, "page_limit": 1},
    )
    [run] = stub.airflow_of(client, "v2").list_runs(dag_id, limit=1)
    assert (run.run_id, run.state) == (stub.RUN_ID, RunState.QUEUED)


def test_v2_task_instances_of_a_real_run_page_through_the_batch_endpoint(mwaa: tuple[Any, Stubber]) -> None:
    client, stubber = mwaa
    page = 2
    first = [stub.ti("plan", -1, "success"), stub.ti("run_chunk", 0, "running")]
    second = [stub.ti("run_chunk", 1, "failed")]
    for offset, items in ((0, first), (page, second)):
        stub.ok(
            stubber,
            "/dags/~/dagRuns/~/taskInstances/list",
            {"task_instances": items, "total_entries": 3},
            method="POST",
            Body={
                "dag_ids": [stub.DAG_ID],
                "dag_run_ids": [stub.RUN_ID],
                "page_offset": offset,
                "page_limit": page,
            },
        )
    client_ = AirflowClient(
        stub.transport_of(client), "v2", page_size=page, max_path_length=MWAA_MAX_PATH_CHARS
    )
    tis = client_.list_task_instances(stub.DAG_ID, stub.RUN_ID)
    assert [(t.task_id, t.map_index, t.state) for t in tis] == [
        ("plan", -1, TaskState.SUCCESS),
        ("run_chunk", 0, TaskState.RUNNING),
        ("run_chunk", 1, TaskState.FAILED),
    ]


def test_v1_task_instances_use_the_unpaged_batch_form(mwaa: tuple[Any, Stubber]) -> None:
    client, stubber = mwaa
    stub.ok(
        stubber,
        "/dags/~/dagRuns/~/taskInstances/list",
        {
            "task_instances": [
                stub.ti("run_chunk", 0, "success"),
                stub.ti("run_chunk", 0, "success", run_id="other"),
            ],
            "total_entries": 2,
        },
        method="POST",
        Body={"dag_ids": [stub.DAG_ID], "dag_run_ids": [stub.RUN_ID]},
    )
    tis = stub.airflow_of(client, "v1").list_task_instances(stub.DAG_ID, stub.RUN_ID)
    assert [(t.run_id, t.map_index) for t in tis] == [(stub.RUN_ID, 0)]


def test_a_long_dag_id_is_found_and_unpaused_through_its_pattern(mwaa: tuple[Any, Stubber]) -> None:
    client, stubber = mwaa
    dag_id = "backtest_" + "long_sweep_name_" * 3 + "x" * 10  # 67 characters
    assert len(f"/dags/{dag_id}") > MWAA_MAX_PATH_CHARS
    listed = {"dags": [{"dag_id": dag_id, "is_paused": True}], "total_entries": 1}
    stub.ok(
        stubber,
        "/dags",
        listed,
        QueryParameters={"exclude_stale": "false", "dag_id_pattern": dag_id, "limit": 100, "offset": 0},
    )
    stub.ok(stubber, "/dags", listed, QueryParameters={"dag_id_pattern": dag_id, "limit": 100, "offset": 0})
    stub.ok(
        stubber,
        "/dags",
        {"dags": [{"dag_id": dag_id, "is_paused": False}], "total_entries": 1},
        method="PATCH",
        QueryParameters={"dag_id_pattern": dag_id, "update_mask": "is_paused", "limit": 100},
        Body={"is_paused": False},
    )
    airflow = stub.airflow_of(client, "v2")
    assert airflow.get_dag(dag_id).is_paused
    assert airflow.set_paused(dag_id, False).is_paused is False


def test_unpausing_by_pattern_refuses_when_other_dags_match(mwaa: tuple[Any, Stubber]) -> None:
    client, stubber = mwaa
    dag_id = "backtest_" + "y" * 60
    stub.ok(
        stubber,
        "/dags",
        {"dags": [{"dag_id": dag_id, "is_paused": True}, {"dag_id": dag_id + "_v2", "is_paused": True}]},
        QueryParameters={"dag_id_pattern": dag_id, "limit": 100, "offset": 0},
    )
    with pytest.raises(BadRequest) as info:
        stub.airflow_of(client, "v1").set_paused(dag_id, False)
    assert dag_id + "_v2" in info.value.message  # and no PATCH was sent


def test_a_call_with_no_short_alternative_says_which_and_sends_nothing(mwaa: tuple[Any, Stubber]) -> None:
    client, _ = mwaa
    dag_id = "backtest_" + "z" * 50
    with pytest.raises(BadRequest) as info:
        stub.airflow_of(client, "v2").trigger(dag_id)
    assert f"POST /dags/{dag_id}/dagRuns" in info.value.message
    assert "at most 64" in info.value.message


def test_the_transport_itself_refuses_long_paths(mwaa: tuple[Any, Stubber]) -> None:
    client, _ = mwaa
    with pytest.raises(BadRequest) as info:
        stub.transport_of(client)(
            ApiRequest("GET", f"/dags/{stub.DAG_ID}/dagRuns/{stub.RUN_ID}/taskInstances")
        )
    assert "too long for MWAA" in info.value.message
