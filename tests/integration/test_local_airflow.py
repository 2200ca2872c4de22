"""The local Airflow stack of scripts/local_airflow.py: health, auth, DAG pickup, re-parse, a real run."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from scripts import local_airflow
from services.settings import Settings
from tests.conftest import airflow_test_settings

pytestmark = pytest.mark.airflow

PICKUP_TIMEOUT_S = 15.0
REPARSE_TIMEOUT_S = 20.0
RUN_TIMEOUT_S = 120.0
SECOND_START_MAX_S = 5.0
POLL_S = 0.5
HTTP_TIMEOUT_S = 10.0
WRITE_RETRIES = 5  # SQLite may answer a write with 500 "database is locked"
TASK_ID = "check_environment"
_TOKENS: dict[str, str] = {}

SMOKE_DAG = '''"""Smoke DAG written by tests/integration/test_local_airflow.py; deleted after the test."""

import os
import subprocess
import sys
from datetime import datetime, timezone

from airflow.sdk import dag, task

PROBE = "import json, airflow_backtest_framework.config as c; print(json.dumps(c.__file__))"


@dag(
    dag_id="__DAG_ID__",
    schedule=None,
    start_date=datetime(2024, 1, 1, tzinfo=timezone.utc),
    catchup=False,
    tags=["__TAG__"],
)
def smoke():
    @task(doc_md="version __TAG__")
    def __TASK_ID__() -> dict:
        # A fresh interpreter in another cwd: imports work through PYTHONPATH, as for the engine.
        probe = subprocess.run([sys.executable, "-c", PROBE], cwd="/", capture_output=True, text=True)
        return {
            "executor": os.environ.get("BACKTEST_EXECUTOR"),
            "results_uri": os.environ.get("AIRFLOW_VAR_BACKTEST_RESULTS_URI"),
            "probe_rc": probe.returncode,
            "probe_out": probe.stdout.strip() or probe.stderr[-2000:],
        }

    __TASK_ID__()


smoke()
'''


def _headers(settings: Settings) -> dict[str, str]:
    """A bearer token, fetched once per instance (valid 24 h, and across restarts)."""
    if settings.airflow_url not in _TOKENS:
        _TOKENS[settings.airflow_url] = local_airflow.get_token(settings)
    return {"Authorization": f"Bearer {_TOKENS[settings.airflow_url]}"}


def _api(settings: Settings, method: str, path: str, **kwargs: Any) -> requests.Response:
    """One REST call on /api/v2; writes are retried on 5xx (SQLite locks under concurrent writers)."""
    retries = 1 if method == "GET" else WRITE_RETRIES
    for attempt in range(retries):
        response = requests.request(
            method,
            f"{settings.airflow_url}/api/v2{path}",
            headers=_headers(settings),
            timeout=HTTP_TIMEOUT_S,
            **kwargs,
        )
        if response.status_code < 500 or attempt == retries - 1:
            return response
        time.sleep(POLL_S * (attempt + 1))
    raise AssertionError("unreachable")


def _wait_for(what: str, timeout: float, probe: Callable[[], Any]) -> tuple[Any, float]:
    """Poll `probe` until it returns something truthy; return it and the seconds it took."""
    began = time.monotonic()
    while time.monotonic() - began < timeout:
        if result := probe():
            return result, time.monotonic() - began
        time.sleep(POLL_S)
    raise AssertionError(f"{what}: not within {timeout:.0f} s")


def _dag_with_tag(settings: Settings, dag_id: str, tag: str) -> Callable[[], bool]:
    """Registered with `tag` in the DAG table AND in the serialized DAG the scheduler runs (task doc)."""

    def probe() -> bool:
        dag = _api(settings, "GET", f"/dags/{dag_id}")
        if dag.status_code != 200 or tag not in {t["name"] for t in dag.json().get("tags", [])}:
            return False
        task = _api(settings, "GET", f"/dags/{dag_id}/tasks/{TASK_ID}")
        return task.status_code == 200 and task.json().get("doc_md") == f"version {tag}"

    return probe


def _write_dag(folder: Path, dag_id: str, tag: str) -> Path:
    path = folder / f"{dag_id}.py"
    source = SMOKE_DAG.replace("__DAG_ID__", dag_id).replace("__TAG__", tag).replace("__TASK_ID__", TASK_ID)
    tmp = path.with_name(f".{path.name}.tmp")  # atomic, and the processor never parses the temp file
    tmp.write_text(source)
    tmp.replace(path)
    return path


@pytest.fixture(scope="module")
def smoke_dag(airflow_stack: Settings) -> Iterator[tuple[str, Path, float]]:
    """A one-task DAG written into the dags folder and registered: (dag_id, file, seconds to register)."""
    dag_id = f"local_stack_smoke_{int(time.time())}"  # fresh per run, even on a kept instance
    path = _write_dag(airflow_stack.local_dags_folder, dag_id, "v1")
    registered = _dag_with_tag(airflow_stack, dag_id, "v1")
    _, seconds = _wait_for(f"{dag_id} registered", PICKUP_TIMEOUT_S, registered)
    print(f"\nnew DAG file registered after {seconds:.1f} s")
    yield dag_id, path, seconds
    path.unlink(missing_ok=True)
    _api(airflow_stack, "DELETE", f"/dags/{dag_id}")


def test_health_reports_every_component_healthy(airflow_stack: Settings) -> None:
    health = requests.get(f"{airflow_stack.airflow_url}/api/v2/monitor/health", timeout=HTTP_TIMEOUT_S).json()
    for component in ("metadatabase", "scheduler", "dag_processor", "triggerer"):
        assert health[component]["status"] == "healthy", health


def test_token_for_configured_credentials_and_401_for_a_wrong_password(airflow_stack: Settings) -> None:
    assert local_airflow.get_token(airflow_stack).count(".") == 2  # a JWT
    response = requests.post(
        f"{airflow_stack.airflow_url}/auth/token",
        json={"username": airflow_stack.airflow_username, "password": "wrong-password"},
        timeout=HTTP_TIMEOUT_S,
    )
    assert response.status_code == 401
    assert _api(airflow_stack, "GET", "/dags").status_code == 200
    assert requests.get(f"{airflow_stack.airflow_url}/api/v2/dags", timeout=HTTP_TIMEOUT_S).status_code == 401


def test_second_start_is_quick_and_keeps_the_instance(airflow_stack: Settings) -> None:
    before = local_airflow.status(airflow_stack)
    began = time.monotonic()
    again = local_airflow.start(airflow_stack)
    assert time.monotonic() - began < SECOND_START_MAX_S
    assert again.healthy and again.pid == before.pid


def test_status_reports_healthy(airflow_stack: Settings) -> None:
    result = local_airflow.status(airflow_stack)
    assert (result.running, result.healthy, result.url) == (True, True, airflow_stack.airflow_url)


def test_framework_is_deployed_and_hidden_from_the_dag_processor(airflow_stack: Settings) -> None:
    package = airflow_stack.local_dags_folder / "airflow_backtest_framework"
    assert (package / "config.py").is_file()
    assert (package / ".airflowignore").read_text().strip() == "*"
    errors = _api(airflow_stack, "GET", "/importErrors").json()["import_errors"]
    assert [e for e in errors if "airflow_backtest_framework" in e["filename"]] == []


def test_new_dag_file_registers_within_15_s(smoke_dag: tuple[str, Path, float]) -> None:
    assert smoke_dag[2] < PICKUP_TIMEOUT_S


def test_edited_dag_file_is_reparsed_within_20_s(airflow_stack: Settings, smoke_dag: tuple) -> None:
    dag_id, _, _ = smoke_dag
    _write_dag(airflow_stack.local_dags_folder, dag_id, "v2")
    _, seconds = _wait_for("edit re-parsed", REPARSE_TIMEOUT_S, _dag_with_tag(airflow_stack, dag_id, "v2"))
    print(f"\nedited DAG file re-parsed after {seconds:.1f} s")


def test_triggered_run_succeeds_with_the_local_environment(airflow_stack: Settings, smoke_dag: tuple) -> None:
    dag_id, _, _ = smoke_dag
    assert _api(airflow_stack, "PATCH", f"/dags/{dag_id}", json={"is_paused": False}).status_code == 200
    began = time.monotonic()
    created = _api(airflow_stack, "POST", f"/dags/{dag_id}/dagRuns", json={"logical_date": None})
    assert created.status_code == 200, created.text
    run_id = created.json()["dag_run_id"]

    def finished() -> str | None:
        state = _api(airflow_stack, "GET", f"/dags/{dag_id}/dagRuns/{run_id}").json()["state"]
        return state if state in ("success", "failed") else None

    state, _ = _wait_for(f"run {run_id} finished", RUN_TIMEOUT_S, finished)
    print(f"\ntrigger -> {state} after {time.monotonic() - began:.1f} s")
    task_path = f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{TASK_ID}"
    if state != "success":
        log = _api(airflow_stack, "GET", f"{task_path}/logs/1", headers={"Accept": "application/json"})
        pytest.fail(f"run {run_id} {state}; task log:\n{log.text[-3000:]}")
    xcom = _api(airflow_stack, "GET", f"{task_path}/xcomEntries/return_value", params={"deserialize": True})
    value = xcom.json()["value"]
    seen = json.loads(value) if isinstance(value, str) else value
    assert seen["executor"] == "local"
    assert seen["results_uri"] == str(airflow_stack.results_root)
    assert seen["probe_rc"] == 0, seen["probe_out"]
    print(f"airflow_backtest_framework.config imported from {seen['probe_out']}")


def test_stale_pid_file_is_removed_and_stop_is_harmless(tmp_path: Path) -> None:
    settings = airflow_test_settings(airflow_home=tmp_path / "home", airflow_url="http://127.0.0.1:1")
    pid_file = settings.airflow_home / local_airflow.PID_FILE
    pid_file.parent.mkdir(parents=True)
    gone = subprocess.Popen(["true"])
    gone.wait()
    for stale_pid in (gone.pid, 1):  # a dead process, and a live one that is not our standalone
        pid_file.write_text(f"{stale_pid}\n")
        result = local_airflow.status(settings)
        assert (result.running, result.healthy) == (False, False)
        assert not pid_file.exists()
    assert local_airflow.stop(settings) is False
