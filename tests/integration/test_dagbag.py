"""Generated DAG files load in a real Airflow 3 DagBag with the expected shape, for both executors."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from airflow_backtest_framework import engine_contract as ec
from airflow_backtest_framework.catalog import STRATEGIES
from services.dag_generator import dag_filename, render_dag
from services.framework_bundle import write_framework
from services.settings import PROJECT_ROOT
from tests.support.dagbag import load_dagbag
from tests.support.sweeps import small_sweep

EXAMPLE = PROJECT_ROOT / "dags" / "framework_backtest_simple_example_dag.py"


@pytest.fixture(scope="module")
def dags_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("dags")
    write_framework(folder)
    shutil.copy(EXAMPLE, folder / EXAMPLE.name)
    for strategy in STRATEGIES:
        config = small_sweep(strategy, description='a "quoted"\nmulti-line doc ending in x.md')
        (folder / dag_filename(config)).write_text(render_dag(config))
    return folder


@pytest.mark.parametrize("executor", ["local", "batch"])
def test_generated_and_example_dags_load_without_import_errors(
    dags_folder: Path, executor: str, tmp_path: Path
) -> None:
    report = load_dagbag(dags_folder, executor, tmp_path / "home")
    assert report["import_errors"] == {}
    expected = {small_sweep(s).dag_id for s in STRATEGIES} | {"backtest_framework_simple_example"}
    assert set(report["dags"]) == expected  # the framework's own modules are not DAG files
    mapped = "MappedOperator" if executor == "batch" else "DecoratedMappedOperator"
    for dag_id, dag in report["dags"].items():
        tasks = [ec.PLAN_TASK_ID, ec.CHUNK_TASK_ID, ec.SUMMARY_TASK_ID, ec.VALIDATE_TASK_ID]
        assert dag["tasks"] == tasks, dag_id
        # validate watches alongside the chunks; summarize waits for both
        assert dag["upstream"][ec.VALIDATE_TASK_ID] == [ec.PLAN_TASK_ID], dag_id
        assert dag["upstream"][ec.SUMMARY_TASK_ID] == [ec.CHUNK_TASK_ID, ec.VALIDATE_TASK_ID], dag_id
        assert dag["operators"][ec.CHUNK_TASK_ID] == mapped
        assert dag["schedule"] == "NullTimetable" and dag["catchup"] is False
        assert dag["start_date"].endswith("+00:00")
        assert "backtest" in dag["tags"]


def test_unknown_executor_is_an_import_error_naming_the_variable(dags_folder: Path, tmp_path: Path) -> None:
    report = load_dagbag(dags_folder, "kubernetes", tmp_path / "home")
    assert report["dags"] == {}
    assert all("BACKTEST_EXECUTOR" in message for message in report["import_errors"].values())
