"""AirflowClient against in-memory fake Airflows shaped like /api/v2 (Airflow 3) and /api/v1 (Airflow 2)."""

from __future__ import annotations

import contextlib
import re
from typing import Any

import pytest

from services.airflow.client import AirflowClient, api_path
from services.airflow.models import ImportErrorInfo, RunState, TaskKey, TaskState
from services.airflow.transport import ApiRequest, ApiResponse, RetryingTransport, RetryPolicy
from services.errors import AuthError, BacktestError, BadRequest, Conflict, NotFound, Unavailable
from tests.support.airflow_api_fake import FakeAirflowApi

RUN_ID = "manual__2026-01-02T03:04:05.678901+00:00"
TOKEN = "eyJhbGciOiJIUzUxMiJ9.eyJzdWIiOiJhZG1pbiIsImV4cCI6OTk5OTk5OTk5OX0.c2lnbmF0dXJlLXNpZ25hdHVyZQ"


@pytest.fixture(params=["v2", "v1"])
def fake(request: pytest.FixtureRequest) -> FakeAirflowApi:
    return FakeAirflowApi(version=request.param)


def client_for(fake: FakeAirflowApi, **options: Any) -> AirflowClient:
    return AirflowClient(fake, api_version=fake.version, **options)  # type: ignore[arg-type]


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


# ---- errors ----------------------------------------------------------------------------------------


def answering(status: int, body: Any = None, text: str = "") -> Any:
    def transport(request: ApiRequest) -> ApiResponse:
        return ApiResponse(status, body, text)

    return transport


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (400, BadRequest),
        (401, AuthError),
        (403, AuthError),
        (404, NotFound),
        (409, Conflict),
        (422, BadRequest),
        (429, Unavailable),
        (500, Unavailable),
        (503, Unavailable),
    ],
)
def test_status_mapping(status: int, error: type[BacktestError]) -> None:
    with pytest.raises(error) as info:
        AirflowClient(answering(status, {"detail": "what happened"})).get_dag("d")
    assert info.value.status == status
    assert info.value.message == f"Airflow GET /dags/d: HTTP {status}: what happened"


def test_validation_detail_is_readable() -> None:
    body = {"detail": [{"type": "missing", "loc": ["body", "logical_date"], "msg": "Field required"}]}
    with pytest.raises(BadRequest) as info:
        AirflowClient(answering(422, body)).trigger("d")
    assert info.value.detail == "logical_date: Field required"


def test_long_and_plain_text_details_are_trimmed() -> None:
    with pytest.raises(Unavailable) as info:
        AirflowClient(answering(502, None, "<html>" + "x" * 5000 + "</html>")).version()
    assert len(info.value.detail) <= 300 and "\n" not in info.value.message


def test_no_secret_in_error_messages() -> None:
    body = {"detail": f"bad header Authorization: Bearer {TOKEN} with password=hunter2 and {TOKEN}"}
    with pytest.raises(AuthError) as info:
        AirflowClient(answering(401, body)).version()
    for text in (info.value.message, str(info.value), repr(info.value), info.value.detail):
        assert TOKEN not in text and "hunter2" not in text
        assert TOKEN[:20] not in text


def test_unexpected_answer_is_a_clear_error() -> None:
    with pytest.raises(BacktestError, match="unexpected answer"):
        AirflowClient(answering(200, {"nothing": "here"})).get_dag("d")


class Flaky:
    """A transport answering a scripted list of statuses (then 200) and counting calls."""

    def __init__(self, *statuses: int, detail: str = "") -> None:
        self.statuses = list(statuses)
        self.calls = 0
        self.detail = detail

    def __call__(self, request: ApiRequest) -> ApiResponse:
        self.calls += 1
        if self.statuses:
            return ApiResponse(self.statuses.pop(0), {"detail": self.detail})
        return ApiResponse(200, {"version": "3.3.2", "dag_id": "d", "dag_run_id": "r", "state": "queued"})


def retrying(inner: Any, attempts: int = 4) -> tuple[RetryingTransport, list[float]]:
    sleeps: list[float] = []
    return RetryingTransport(
        inner, RetryPolicy(attempts=attempts), sleep=sleeps.append, rng=lambda: 1.0
    ), sleeps


def test_5xx_retried_with_backoff_then_unavailable() -> None:
    flaky = Flaky(503, 503, 503, 503, 503)
    transport, sleeps = retrying(flaky)
    with pytest.raises(Unavailable) as info:
        AirflowClient(transport).version()
    assert flaky.calls == 4 and info.value.status == 503
    assert sleeps == [0.25, 0.5, 1.0]


def test_transient_error_then_success() -> None:
    flaky = Flaky(502, 504)
    transport, _ = retrying(flaky)
    assert AirflowClient(transport).version().version == "3.3.2"
    assert flaky.calls == 3


def test_post_is_resent_only_when_surely_not_processed() -> None:
    for statuses, calls in [((502,), 1), ((504,), 1), ((503,), 2), ((429,), 2)]:
        flaky = Flaky(*statuses)
        transport, _ = retrying(flaky)
        with contextlib.suppress(Unavailable):
            AirflowClient(transport).trigger("d")
        assert flaky.calls == calls, statuses
    locked = Flaky(500, 500, detail="(sqlite3.OperationalError) database is locked")
    transport, _ = retrying(locked)
    assert AirflowClient(transport).trigger("d").run_id == "r"
    assert locked.calls == 3


def test_airflow3_hidden_database_error_is_retried() -> None:
    hidden = {"reason": "Database error", "statement": "hidden", "orig_error": "hidden", "message": "Serious"}
    calls = []

    def busy_once(request: ApiRequest) -> ApiResponse:
        calls.append(request)
        if len(calls) == 1:
            return ApiResponse(500, {"detail": hidden})
        return ApiResponse(200, {"dag_id": "d", "dag_run_id": "r", "state": "queued"})

    transport, _ = retrying(busy_once)
    assert AirflowClient(transport).trigger("d").state is RunState.QUEUED
    assert len(calls) == 2


def test_plain_500_is_not_retried() -> None:
    flaky = Flaky(500, detail="KeyError: boom")
    transport, _ = retrying(flaky)
    with pytest.raises(Unavailable, match="boom"):
        AirflowClient(transport).version()
    assert flaky.calls == 1


def test_connection_error_is_retried_within_the_budget() -> None:
    calls = []

    def refused(request: ApiRequest) -> ApiResponse:
        calls.append(request)
        raise Unavailable("cannot reach Airflow at http://airflow:8080: connection refused", not_sent=True)

    transport, sleeps = retrying(refused, attempts=3)
    with pytest.raises(Unavailable, match=re.escape("http://airflow:8080")):
        AirflowClient(transport).trigger("d")
    assert len(calls) == 3 and len(sleeps) == 2


def test_4xx_is_never_retried() -> None:
    flaky = Flaky(404, 404)
    transport, sleeps = retrying(flaky)
    with pytest.raises(NotFound):
        AirflowClient(transport).get_dag("d")
    assert flaky.calls == 1 and sleeps == []


def test_retry_budget_bounds_total_time() -> None:
    now = [0.0]
    flaky = Flaky(*([503] * 50))
    policy = RetryPolicy(attempts=50, base_delay_s=1.0, max_delay_s=4.0, budget_s=10.0)

    def sleep(seconds: float) -> None:
        now[0] += seconds

    transport = RetryingTransport(flaky, policy, sleep=sleep, rng=lambda: 1.0, clock=lambda: now[0])
    with pytest.raises(Unavailable):
        AirflowClient(transport).version()
    assert now[0] <= 10.0 and flaky.calls < 50


def test_client_repr_has_no_secrets() -> None:
    assert "AirflowClient" in repr(AirflowClient(answering(200), api_version="v1"))
    with pytest.raises(ValueError):
        AirflowClient(answering(200), api_version="v9")  # type: ignore[arg-type]
