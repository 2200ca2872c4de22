"""AirflowClient + HttpTransport against a real Airflow 3 (`airflow_stack`): the REST facts we rely on."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import pytest

from services.airflow.client import AirflowClient
from services.airflow.http import HttpTransport
from services.airflow.models import DagRun, RunState, TaskKey, TaskState
from services.errors import NotFound, Unavailable
from services.settings import Settings
from services.storage import LocalFolderStore

pytestmark = pytest.mark.airflow

REGISTER_TIMEOUT_S = 60.0
RUN_TIMEOUT_S = 180.0
POLL_S = 1.0
MAPPED_ITEMS = 3
CONCURRENT_TRIGGERS = 4

MAPPED_DAG = '''"""Written by tests/integration/test_airflow_api_live.py; removed after the test."""

import time
from datetime import datetime, timezone

from airflow.sdk import dag, get_current_context, task


@dag(dag_id="__DAG_ID__", schedule=None, start_date=datetime(2024, 1, 1, tzinfo=timezone.utc),
     catchup=False, tags=["client-live"])
def client_live():
    @task
    def items() -> list[int]:
        conf = get_current_context()["dag_run"].conf or {}
        time.sleep(float(conf.get("sleep_s", 0)))
        return list(range(__ITEMS__))

    @task
    def work(x: int) -> int:
        return x * 2

    work.expand(x=items())


client_live()
'''

# Mentions "airflow" and "dag": the processor's safe mode skips files that name neither.
BROKEN_DAG = "from airflow.sdk import dag\nimport module_that_does_not_exist_xyz\n"

T = TypeVar("T")


def wait_for(probe: Callable[[], T | None], timeout_s: float, what: str) -> T:
    """Poll until `probe` answers something truthy; a busy Airflow (Unavailable) only delays it."""
    deadline = time.monotonic() + timeout_s
    last_error: Unavailable | None = None
    while time.monotonic() < deadline:
        try:
            value = probe()
        except Unavailable as exc:  # SQLite-backed Airflow can stall for seconds right after a start
            last_error, value = exc, None
        if value:
            return value
        time.sleep(POLL_S)
    raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what} (last error: {last_error})")


def wait_finished(client: AirflowClient, dag_id: str, run_id: str) -> DagRun:
    def finished() -> DagRun | None:
        run = client.get_run(dag_id, run_id)
        return run if run.state.finished else None

    return wait_for(finished, RUN_TIMEOUT_S, f"run {run_id} to finish")


@pytest.fixture(scope="module")
def client(airflow_stack: Settings) -> AirflowClient:
    return AirflowClient(HttpTransport.from_settings(airflow_stack))


@pytest.fixture(scope="module")
def dags_folder(airflow_stack: Settings) -> LocalFolderStore:
    return LocalFolderStore(airflow_stack.local_dags_folder)


@pytest.fixture(scope="module")
def mapped_dag(client: AirflowClient, dags_folder: LocalFolderStore) -> Iterator[str]:
    dag_id = f"client_live_{uuid.uuid4().hex[:8]}"
    source = MAPPED_DAG.replace("__DAG_ID__", dag_id).replace("__ITEMS__", str(MAPPED_ITEMS))
    dags_folder.put(f"{dag_id}.py", source.encode())
    try:
        wait_for(lambda: client.find_dag(dag_id), REGISTER_TIMEOUT_S, f"DAG {dag_id} to register")
        yield dag_id
    finally:
        dags_folder.delete(f"{dag_id}.py")


@pytest.fixture(scope="module")
def finished_run(client: AirflowClient, mapped_dag: str) -> DagRun:
    client.set_paused(mapped_dag, False)
    run = client.trigger(mapped_dag, {"sleep_s": 0, "who": "live test"})
    return wait_finished(client, mapped_dag, run.run_id)


def test_version_and_health(client: AirflowClient) -> None:
    assert client.version().major == 3
    health = client.health()
    assert health.healthy, health


def test_missing_dag_is_not_found(client: AirflowClient) -> None:
    with pytest.raises(NotFound) as info:
        client.get_dag("no_such_dag_anywhere")
    assert info.value.status == 404 and "no_such_dag_anywhere" in info.value.message


def test_new_dag_registers_paused_and_unpauses(client: AirflowClient, mapped_dag: str) -> None:
    dag = client.get_dag(mapped_dag)
    assert dag.is_paused is True  # Airflow's default for a new DAG
    assert dag.tags == ["client-live"] and dag.fileloc.endswith(f"{mapped_dag}.py")
    assert (found := client.find_dag(mapped_dag)) is not None and found.dag_id == mapped_dag
    assert client.set_paused(mapped_dag, False).is_paused is False
    assert client.get_dag(mapped_dag).is_paused is False


def test_run_with_mapped_tasks_reaches_success(
    client: AirflowClient, mapped_dag: str, finished_run: DagRun
) -> None:
    assert finished_run.state is RunState.SUCCESS, finished_run
    assert finished_run.conf == {"sleep_s": 0, "who": "live test"}
    assert ":" in finished_run.run_id and "+" in finished_run.run_id  # percent-encoding works
    tis = client.list_task_instances(mapped_dag, finished_run.run_id)
    work = [ti for ti in tis if ti.task_id == "work"]
    assert [ti.map_index for ti in work] == list(range(MAPPED_ITEMS))
    assert {ti.state for ti in tis} == {TaskState.SUCCESS}
    assert next(ti for ti in tis if ti.task_id == "items").map_index == -1


def test_task_instances_page_through_small_pages(
    airflow_stack: Settings, mapped_dag: str, finished_run: DagRun
) -> None:
    small = AirflowClient(HttpTransport.from_settings(airflow_stack), page_size=2)
    tis = small.list_task_instances(mapped_dag, finished_run.run_id)
    assert len(tis) == MAPPED_ITEMS + 1


def test_clear_one_mapped_task_instance_reruns_it(
    client: AirflowClient, mapped_dag: str, finished_run: DagRun
) -> None:
    run_id = finished_run.run_id
    assert client.clear_task_instances(mapped_dag, run_id, ["work"], only_failed=True) == []
    dry = client.clear_task_instances(mapped_dag, run_id, [("work", 1)], only_failed=False, dry_run=True)
    assert dry == [TaskKey(task_id="work", map_index=1)]
    cleared = client.clear_task_instances(mapped_dag, run_id, [("work", 1)], only_failed=False)
    assert cleared == [TaskKey(task_id="work", map_index=1)]
    assert client.get_run(mapped_dag, run_id).state is not RunState.SUCCESS  # reset_dag_runs re-opened it

    def rerun_finished() -> bool:
        tis = {ti.key: ti for ti in client.list_task_instances(mapped_dag, run_id)}
        rerun = tis[TaskKey(task_id="work", map_index=1)]
        return (
            rerun.try_number == 2
            and rerun.state.finished
            and client.get_run(mapped_dag, run_id).state.finished
        )

    wait_for(rerun_finished, RUN_TIMEOUT_S, "the cleared task instance to run again")
    assert client.get_run(mapped_dag, run_id).state is RunState.SUCCESS
    tries = {
        (ti.task_id, ti.map_index): ti.try_number for ti in client.list_task_instances(mapped_dag, run_id)
    }
    assert tries == {("items", -1): 1, ("work", 0): 1, ("work", 1): 2, ("work", 2): 1}


def test_concurrent_triggers_then_cancel(client: AirflowClient, mapped_dag: str) -> None:
    client.set_paused(mapped_dag, False)
    with ThreadPoolExecutor(CONCURRENT_TRIGGERS) as pool:
        runs = list(
            pool.map(
                lambda n: client.trigger(mapped_dag, {"sleep_s": 60, "n": n}), range(CONCURRENT_TRIGGERS)
            )
        )
    assert len({run.run_id for run in runs}) == CONCURRENT_TRIGGERS
    with ThreadPoolExecutor(CONCURRENT_TRIGGERS) as pool:
        cancelled = list(
            pool.map(lambda run: client.set_run_state(mapped_dag, run.run_id, RunState.FAILED), runs)
        )
    assert {run.state for run in cancelled} == {RunState.FAILED}
    newest = client.list_runs(mapped_dag, limit=CONCURRENT_TRIGGERS)
    assert {run.run_id for run in newest} == {run.run_id for run in runs}
    assert [run.run_after for run in newest] == sorted((run.run_after for run in newest), reverse=True)


def test_import_error_names_the_broken_file(client: AirflowClient, dags_folder: LocalFolderStore) -> None:
    key = f"client_live_broken_{uuid.uuid4().hex[:8]}.py"
    dags_folder.put(key, BROKEN_DAG.encode())
    try:
        error = wait_for(
            lambda: client.import_error_for(key), REGISTER_TIMEOUT_S, f"an import error for {key}"
        )
        assert "module_that_does_not_exist_xyz" in error.summary
        assert error.refers_to(str(dags_folder.root / key))
    finally:
        dags_folder.delete(key)
