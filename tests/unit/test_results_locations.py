"""The results store's names: URI parsing, the layout, task ids and tags; the framework stays light."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from airflow_backtest_framework import engine_contract as ec
from airflow_backtest_framework.results_backends import LocalFolderBackend, S3Backend
from airflow_backtest_framework.results_store import open_results_store
from airflow_backtest_framework.results_uri import ResultsLocation, parse_results_uri
from services.aws.s3_store import S3Store

DAG = "backtest_demo"
FRAMEWORK_ROOT = Path(__file__).resolve().parents[2]


# ---- the URI parser and object reads -----------------------------------------------------------


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("/srv/results", ResultsLocation("local", path="/srv/results")),
        ("results/here", ResultsLocation("local", path="results/here")),
        ("file:///srv/my%20results", ResultsLocation("local", path="/srv/my results")),
        ("s3://bucket", ResultsLocation("s3", bucket="bucket", prefix="")),
        ("s3://bucket/", ResultsLocation("s3", bucket="bucket", prefix="")),
        ("s3://bucket/a/b/", ResultsLocation("s3", bucket="bucket", prefix="a/b")),
        (" s3://bucket/a ", ResultsLocation("s3", bucket="bucket", prefix="a")),
    ],
)
def test_results_uris_parse_to_one_location(uri: str, expected: ResultsLocation) -> None:
    assert parse_results_uri(uri) == expected


@pytest.mark.parametrize("uri", ["", "   ", "s3:///prefix", "s3://", "http://host/results", "gs://bucket/x"])
def test_other_uris_are_refused_naming_the_accepted_forms(uri: str) -> None:
    with pytest.raises(ValueError, match="s3://bucket/prefix"):
        parse_results_uri(uri)


def test_a_location_names_its_keys_and_parses_back() -> None:
    s3 = parse_results_uri("s3://bucket/runs")
    assert s3.uri(ec.spec_key(DAG, "r")) == f"s3://bucket/runs/{DAG}/r/spec.json"
    assert parse_results_uri("s3://bucket").uri("a.json") == "s3://bucket/a.json"
    assert parse_results_uri(s3.uri("d/r")) == ResultsLocation("s3", bucket="bucket", prefix="runs/d/r")
    assert parse_results_uri("/srv/results").uri("d/r/spec.json") == "/srv/results/d/r/spec.json"


def test_open_results_store_picks_the_backend_of_the_uri(tmp_path: Path) -> None:
    assert isinstance(open_results_store(str(tmp_path)).backend, LocalFolderBackend)
    s3 = open_results_store("s3://bucket/runs", s3_client_factory=lambda: None).backend
    assert isinstance(s3, S3Backend) and (s3.bucket, s3.prefix) == ("bucket", "runs")


def test_the_services_s3_adapter_uses_the_same_parser() -> None:
    store = S3Store.from_uri(lambda: None, "s3://bucket/a/b/")
    assert (store.bucket, store.prefix) == ("bucket", "a/b/")
    with pytest.raises(ValueError):
        S3Store.from_uri(lambda: None, "/local/folder")


# ---- the framework stays light -----------------------------------------------------------------


def test_the_framework_imports_and_stores_locally_without_boto3_dash_or_airflow(tmp_path: Path) -> None:
    script = f"""
import sys
for name in ("boto3", "botocore", "dash", "airflow", "pandas", "flask"):
    sys.modules[name] = None  # any import of them fails
from airflow_backtest_framework import dag_factory, engine_contract as ec
from airflow_backtest_framework.results_store import open_results_store
store = open_results_store({str(tmp_path)!r})
store.write_point("d", "r", 1, {{"index": 1}})
assert store.read_point("d", "r", 1) == {{"index": 1}} and store.point_indices("d", "r") == {{1}}
assert not any(name.split(".")[0] in ("boto3", "dash", "airflow") and module
               for name, module in sys.modules.items())
"""
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=FRAMEWORK_ROOT, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr


# ---- the contract's names (the README's "contract between the app, the DAGs and the engine") ---------


def test_layout_task_ids_and_batch_tags_are_the_documented_ones() -> None:
    assert ec.run_prefix("d", "r") == "d/r"
    assert ec.points_prefix("d", "r") == "d/r/points/"
    assert ec.point_key("d", "r", 7) == "d/r/points/7.json"
    assert ec.equity_key("d", "r", 7) == "d/r/equity/7.json"
    assert ec.spec_key("d", "r") == "d/r/spec.json"
    assert ec.summary_key("d", "r") == "d/r/summary.json"
    assert ec.table_key("d", "r") == "d/r/results.csv"
    assert (ec.PLAN_TASK_ID, ec.CHUNK_TASK_ID, ec.SUMMARY_TASK_ID) == ("plan", "run_chunk", "summarize")
    assert ec.batch_job_tags("d", "{{ run_id }}") == {
        "backtest_dag_id": "d",
        "backtest_run_id": "{{ run_id }}",
    }


@pytest.mark.parametrize(
    ("name", "index"), [("7.json", 7), ("0.json", 0), ("7.tmp", None), ("x.json", None), ("sub/7.json", None)]
)
def test_point_index_reads_only_point_file_names(name: str, index: int | None) -> None:
    assert ec.point_index(name) == index
