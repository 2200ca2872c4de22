"""AirflowClient on DAGs, runs and import errors against in-memory fake Airflows (/api/v2 and /api/v1)."""

from __future__ import annotations

import pytest

from services.airflow.client import api_path
from services.airflow.models import ImportErrorInfo, RunState, TaskState
from services.errors import BadRequest, Conflict, NotFound
from tests.support.airflow_api_client import RUN_ID, client_for
from tests.support.airflow_api_fake import FakeAirflowApi

# ---- models, both API versions -------------------------------------------------------------------


def test_version_and_health(fake: FakeAirflowApi) -> None:
    client = client_for(fake)
    assert client.version().major == (3 if fake.version == "v2" else 2)
    health = client.health()
    assert health.healthy
    assert health.unhealthy() == ["triggerer"]
    assert health.components["scheduler"].latest_heartbeat is not None
    assert fake.requests[-1].path == ("/monitor/health" if fake.version == "v2" else "/health")


def test_get_dag_and_not_found(fake: FakeAirflowApi) -> None:
    fake.add_dag("sweep_a", tags=("backtest", "momentum"))
    dag = client_for(fake).get_dag("sweep_a")
    assert (dag.dag_id, dag.is_paused, dag.tags, dag.is_stale) == (
        "sweep_a",
        True,
        ["backtest", "momentum"],
        False,
    )
    assert dag.fileloc.endswith("sweep_a.py")
    with pytest.raises(NotFound) as info:
        client_for(fake).get_dag("nope")
    assert info.value.status == 404
    assert "nope" in info.value.message and "404" in info.value.message
    assert client_for(fake).find_dag("nope") is None


def test_set_paused(fake: FakeAirflowApi) -> None:
    fake.add_dag("sweep_a")
    assert client_for(fake).set_paused("sweep_a", False).is_paused is False
    assert fake.requests[-1].json == {"is_paused": False}
    assert fake.requests[-1].method == "PATCH"


def test_trigger_body_per_version(fake: FakeAirflowApi) -> None:
    fake.add_dag("sweep_a")
    run = client_for(fake).trigger("sweep_a", {"points": [1, 2]})
    body = fake.requests[-1].json
    if fake.version == "v2":
        assert body == {"logical_date": None, "conf": {"points": [1, 2]}}
    else:
        assert body == {"conf": {"points": [1, 2]}}
    assert run.state is RunState.QUEUED
    assert run.conf == {"points": [1, 2]}


def test_trigger_with_a_taken_run_id_is_a_conflict(fake: FakeAirflowApi) -> None:
    fake.add_dag("sweep_a")
    fake.add_run("sweep_a", "mine")
    with pytest.raises(Conflict) as info:
        client_for(fake).trigger("sweep_a", run_id="mine")
    assert "Unique constraint violation" in info.value.message


def test_list_runs_newest_first_and_get_run(fake: FakeAirflowApi) -> None:
    fake.add_dag("sweep_a")
    fake.add_run("sweep_a", "old", state="success", when="2026-01-01")
    fake.add_run("sweep_a", RUN_ID, state="running", when="2026-01-02")
    client = client_for(fake)
    runs = client.list_runs("sweep_a", limit=5)
    assert [r.run_id for r in runs] == [RUN_ID, "old"]
    assert [r.state for r in runs] == [RunState.RUNNING, RunState.SUCCESS]
    run = client.get_run("sweep_a", RUN_ID)
    assert run.start_date is not None and run.conf == {"k": 1}
    if fake.version == "v1":
        assert run.logical_date is not None  # execution_date
    assert "manual__2026-01-02T03%3A04%3A05.678901%2B00%3A00" in fake.requests[-1].path


def test_latest_runs_of_many_dags_in_one_request(fake: FakeAirflowApi) -> None:
    for name in ("a", "b", "c", "never_run"):
        fake.add_dag(name)
    fake.add_run("a", "a_old", state="success", when="2026-01-01")
    fake.add_run("a", "a_new", state="running", when="2026-01-05")
    fake.add_run("b", "b_only", state="failed", when="2026-01-03")
    fake.add_run("c", "c_only", state="success", when="2026-01-02")
    fake.add_run("other", "not_asked", when="2026-01-09")
    latest = client_for(fake).latest_runs(["a", "b", "c", "never_run"])
    assert {dag: run.run_id for dag, run in latest.items()} == {"a": "a_new", "b": "b_only", "c": "c_only"}
    assert latest["b"].state == RunState.FAILED
    assert [(r.method, r.path) for r in fake.requests] == [("POST", "/dags/~/dagRuns/list")]
    assert client_for(fake).latest_runs([]) == {}


def test_latest_runs_pages_until_every_dag_is_found_then_asks_the_rest_one_by_one(
    fake: FakeAirflowApi,
) -> None:
    fake.page_cap = 2
    for name in ("busy", "quiet"):
        fake.add_dag(name)
    for day in range(1, 8):  # "busy" crowds the newest-first pages
        fake.add_run("busy", f"busy_{day}", when=f"2026-01-1{day}")
    fake.add_run("quiet", "quiet_1", state="success", when="2026-01-01")
    latest = client_for(fake, page_size=2).latest_runs(["busy", "quiet"])
    assert (latest["busy"].run_id, latest["quiet"].run_id) == ("busy_7", "quiet_1")
    assert len(fake.requests) == 4  # pages of 2 until "quiet" turned up
    fake.requests.clear()
    capped = client_for(fake, page_size=2).latest_runs(["busy", "quiet"], max_pages=1)
    assert capped["quiet"].run_id == "quiet_1"
    assert [r.path for r in fake.requests] == ["/dags/~/dagRuns/list", "/dags/quiet/dagRuns"]


def test_run_paths_are_percent_encoded() -> None:
    assert api_path("dags", "d", "dagRuns", "a:b+c/d e") == "/dags/d/dagRuns/a%3Ab%2Bc%2Fd%20e"


def test_set_run_state(fake: FakeAirflowApi) -> None:
    fake.add_dag("d")
    fake.add_run("d", RUN_ID)
    client = client_for(fake)
    assert client.set_run_state("d", RUN_ID, RunState.FAILED).state is RunState.FAILED
    assert fake.requests[-1].json == {"state": "failed"}
    sent = len(fake.requests)
    with pytest.raises(BadRequest):
        client.set_run_state("d", RUN_ID, "running")
    assert len(fake.requests) == sent


def test_import_errors_paged_and_matched(fake: FakeAirflowApi) -> None:
    fake.page_cap = 3
    for n in range(7):
        name = f"sweep_{n}.py" if fake.version == "v2" else f"/opt/airflow/dags/sweep_{n}.py"
        trace = f'Traceback:\n  File "{name}"\nModuleNotFoundError: No module named x{n}\n'
        fake.import_errors.append(
            {"import_error_id": n, "filename": name, "stack_trace": trace, "timestamp": None}
        )
    client = client_for(fake)
    errors = client.import_errors()
    assert len(errors) == 7
    found = client.import_error_for("/opt/airflow/dags/sweep_4.py")
    assert found is not None and found.summary == "ModuleNotFoundError: No module named x4"
    assert client.import_error_for("sweep_4.py") == found
    assert client.import_error_for("other.py") is None


def test_import_error_paths_match_relative_and_absolute() -> None:
    error = ImportErrorInfo(filename="sub/sweep.py")
    assert error.refers_to("/opt/dags/sub/sweep.py") and error.refers_to("sub/sweep.py")
    assert not error.refers_to("/opt/dags/other_sweep.py") and not error.refers_to("weep.py")


def test_v1_shapes_map_to_the_same_models() -> None:
    fake = FakeAirflowApi("v1")
    fake.add_dag("d")
    fake.dags["d"]["is_active"] = False
    fake.add_run("d", "scheduled__2024-01-01T00:00:00+00:00", state="success", when="2024-01-01")
    fake.add_ti("d", "scheduled__2024-01-01T00:00:00+00:00", "t", state="none")
    client = client_for(fake)
    assert client.get_dag("d").is_stale is True
    run = client.get_run("d", "scheduled__2024-01-01T00:00:00+00:00")
    assert run.logical_date is not None and run.logical_date.year == 2024
    assert run.run_after is None
    [ti] = client.list_task_instances("d", run.run_id)
    assert (ti.state, ti.map_index, ti.hostname) == (TaskState.NONE, -1, None)
