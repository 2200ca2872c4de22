"""AirflowClient on task instances, their states and clearing, against in-memory fake Airflows."""

from __future__ import annotations

import pytest

from services.airflow.models import RunState, TaskKey, TaskState
from services.errors import BadRequest, NotFound
from tests.support.airflow_api_client import RUN_ID, client_for
from tests.support.airflow_api_fake import FakeAirflowApi


def test_states_unknown_and_none_never_crash(fake: FakeAirflowApi) -> None:
    fake.add_dag("d")
    fake.add_run("d", "r", state="brand_new_state")
    for index, state in enumerate([None, "none", "awaiting_input", "RUNNING", "quantum"]):
        fake.add_ti("d", "r", "work", index, state)
    client = client_for(fake)
    assert client.get_run("d", "r").state is RunState.UNKNOWN
    states = [ti.state for ti in client.list_task_instances("d", "r")]
    assert states == [
        TaskState.NONE,
        TaskState.NONE,
        TaskState.AWAITING_INPUT,
        TaskState.RUNNING,
        TaskState.UNKNOWN,
    ]
    assert RunState.parse(None) is RunState.NONE


def test_all_mapped_task_instances_over_many_pages(fake: FakeAirflowApi) -> None:
    fake.add_dag("d")
    fake.add_run("d", RUN_ID)
    fake.add_ti("d", RUN_ID, "plan", state="success")
    for index in range(250):
        fake.add_ti("d", RUN_ID, "run_chunk", index, state="success" if index % 3 else "failed")
    fake.add_ti("d", RUN_ID, "summarize")
    tis = client_for(fake, page_size=7).list_task_instances("d", RUN_ID)
    assert len(tis) == 252
    chunks = [ti for ti in tis if ti.task_id == "run_chunk"]
    assert [ti.map_index for ti in chunks] == list(range(250))
    assert all(ti.is_mapped and ti.run_id == RUN_ID and ti.dag_id == "d" for ti in chunks)
    assert not next(ti for ti in tis if ti.task_id == "plan").is_mapped
    assert len(fake.requests) == -(-252 // 7)
    assert {r.params["limit"] for r in fake.requests} == {7}


def test_task_instances_of_a_missing_run(fake: FakeAirflowApi) -> None:
    fake.add_dag("d")
    with pytest.raises(NotFound):
        client_for(fake).list_task_instances("d", "missing")


def test_clear_only_failed_whole_task(fake: FakeAirflowApi) -> None:
    fake.add_dag("d")
    fake.add_run("d", "r", state="failed")
    for index, state in enumerate(["success", "failed", "success", "failed"]):
        fake.add_ti("d", "r", "work", index, state)
    cleared = client_for(fake).clear_task_instances("d", "r", ["work"])
    body = fake.requests[-1].json
    assert body["dry_run"] is False and body["only_failed"] is True and body["task_ids"] == ["work"]
    assert [c.task_id for c in cleared] == ["work", "work"]
    if fake.version == "v2":
        assert cleared == [TaskKey(task_id="work", map_index=1), TaskKey(task_id="work", map_index=3)]
    states = [ti.state for ti in client_for(fake).list_task_instances("d", "r")]
    assert states == [TaskState.SUCCESS, TaskState.NONE, TaskState.SUCCESS, TaskState.NONE]


def test_clear_single_map_indexes() -> None:
    fake = FakeAirflowApi("v2")
    fake.add_dag("d")
    fake.add_run("d", "r", state="failed")
    for index in range(3):
        fake.add_ti("d", "r", "work", index, "failed")
    cleared = client_for(fake).clear_task_instances(
        "d", "r", [("work", 2), TaskKey(task_id="work", map_index=0)]
    )
    assert fake.requests[-1].json["task_ids"] == [["work", 2], ["work", 0]]
    assert sorted(c.map_index for c in cleared) == [0, 2]  # type: ignore[type-var]


def test_v1_cannot_clear_single_map_indexes() -> None:
    fake = FakeAirflowApi("v1")
    with pytest.raises(BadRequest, match="only_failed"):
        client_for(fake).clear_task_instances("d", "r", [("work", 2)])
    assert fake.requests == []
