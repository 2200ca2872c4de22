"""The framework's results store: one contract suite on the local and the S3 backend (moto), the layout,
the URI parser, and the app reading what the engine writes through its own ArtifactStore."""

from __future__ import annotations

import contextlib
import json
import math
import os
import stat
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import boto3
import numpy as np
import pytest
from moto import mock_aws

from airflow_backtest_framework import engine_contract as ec
from airflow_backtest_framework import results_backends as backends
from airflow_backtest_framework.dag_factory import _summarize
from airflow_backtest_framework.results_backends import (
    LocalFolderBackend,
    ResultNotFound,
    ResultsStoreError,
    S3Backend,
    read_object,
)
from airflow_backtest_framework.results_store import ResultsStore
from services.aws.s3_store import S3Store
from services.results import ResultsService
from services.storage import LocalFolderStore
from tests.support.sweeps import small_sweep

S3_REGION = "us-east-1"
BUCKET = "results-bucket"
PREFIX = "root/runs"
DAG, RUN = "backtest_demo", "manual__2026-12-03T09:00:00+00:00"
RECORD = {"index": 3, "params": {"lookback": 7}, "metrics": {"sharpe": 1.25, "trades": 4}}
FRAMEWORK_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def s3_client(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A moto S3 (this process only) with an empty bucket; boto3 clients built later see it too."""
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": S3_REGION,
    }.items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"):
        monkeypatch.delenv(name, raising=False)
    with mock_aws():
        client = boto3.client("s3", region_name=S3_REGION)
        client.create_bucket(Bucket=BUCKET)
        yield client


@contextlib.contextmanager
def _local(tmp: Path, _request: pytest.FixtureRequest) -> Iterator[LocalFolderBackend]:
    yield LocalFolderBackend(tmp / "results")


@contextlib.contextmanager
def _s3(_tmp: Path, request: pytest.FixtureRequest) -> Iterator[S3Backend]:
    yield S3Backend(BUCKET, PREFIX, client=request.getfixturevalue("s3_client"))


# One entry per backend of the framework: a context manager giving a fresh, empty backend.
BACKENDS: dict[str, Callable[[Path, pytest.FixtureRequest], AbstractContextManager[Any]]] = {
    "local": _local,
    "s3": _s3,
}


@pytest.fixture(params=sorted(BACKENDS))
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[LocalFolderBackend | S3Backend]:
    with BACKENDS[request.param](tmp_path, request) as opened:
        yield opened


@pytest.fixture
def store(backend: LocalFolderBackend | S3Backend) -> ResultsStore:
    return ResultsStore(backend)


# ---- the contract (every backend) ------------------------------------------------------------


def test_returns_files_of_several_chunks_read_back_as_one_table(store: ResultsStore) -> None:
    dates = np.array(["2024-01-02", "2024-01-03"], dtype="datetime64[D]")
    for start, points in ((10, (11, 10)), (0, (0,))):  # chunks written in any order, points too
        rows = {name: [] for name in ec.RETURNS_COLUMNS}
        for point in points:
            rows["point"] += [point, point]
            rows["date"] += list(dates)
            for name in ec.RETURNS_COLUMNS[2:]:
                rows[name] += [point / 100, -point / 100]
        store.write_returns(DAG, RUN, start, {k: np.array(v) for k, v in rows.items()})
    assert store.backend.list(ec.returns_prefix(DAG, RUN)) == [ec.returns_key(DAG, RUN, s) for s in (0, 10)]
    table = store.read_returns(DAG, RUN).to_pydict()
    assert table["point"] == [0, 0, 10, 10, 11, 11]
    assert [str(day) for day in table["date"]] == ["2024-01-02", "2024-01-03"] * 3
    assert table["net_return"] == [0.0, -0.0, 0.1, -0.1, 0.11, -0.11]
    with pytest.raises(ResultNotFound):
        store.read_returns(DAG, "no_such_run")


def test_a_run_round_trips_in_the_contract_layout(store: ResultsStore) -> None:
    store.write_spec(DAG, RUN, '{"name": "demo"}')
    store.write_point(DAG, RUN, 3, RECORD)
    store.write_equity(DAG, RUN, 3, {"dates": ["2024-01-02"], "equity": [1.0]})
    store.write_table(DAG, RUN, "index,sharpe\n3,1.25\n")
    store.write_summary(DAG, RUN, {"points_done": 1})

    assert store.read_point(DAG, RUN, 3) == RECORD
    assert store.read_equity(DAG, RUN, 3) == {"dates": ["2024-01-02"], "equity": [1.0]}
    assert store.read_table(DAG, RUN) == b"index,sharpe\n3,1.25\n"
    assert store.get_json(ec.summary_key(DAG, RUN)) == {"points_done": 1}
    assert store.backend.list(f"{DAG}/") == sorted(
        [
            f"{DAG}/{RUN}/spec.json",
            f"{DAG}/{RUN}/points/3.json",
            f"{DAG}/{RUN}/equity/3.json",
            f"{DAG}/{RUN}/results.csv",
            f"{DAG}/{RUN}/summary.json",
        ]
    )


def test_point_indices_come_from_one_listing_of_the_points(store: ResultsStore) -> None:
    for index in (10, 2, 0):
        store.write_point(DAG, RUN, index, {**RECORD, "index": index})
    store.write_equity(DAG, RUN, 7, {"dates": [], "equity": []})  # not a point
    store.write_point(DAG, "other_run", 5, RECORD)  # another run
    store.backend.put(f"{DAG}/{RUN}/points/notes.txt", b"not a result")
    store.backend.put(f"{DAG}/{RUN}/points/x.json", b"{}")
    assert store.point_indices(DAG, RUN) == {0, 2, 10}
    assert store.point_indices(DAG, "never_ran") == set()


def test_put_replaces_the_whole_document(store: ResultsStore) -> None:
    store.write_point(DAG, RUN, 1, {"index": 1, "params": {}, "metrics": {"sharpe": 0.5}, "pad": "x" * 500})
    store.write_point(DAG, RUN, 1, RECORD)
    assert store.read_point(DAG, RUN, 1) == RECORD


def test_documents_are_compact_json_without_nan(store: ResultsStore) -> None:
    store.write_point(DAG, RUN, 3, RECORD)
    assert store.backend.get(ec.point_key(DAG, RUN, 3)) == json.dumps(RECORD, separators=(",", ":")).encode()
    with pytest.raises(ValueError):
        store.write_point(DAG, RUN, 4, {"metrics": {"sharpe": math.nan}})
    assert store.point_indices(DAG, RUN) == {3}  # the refused document left nothing behind


def test_a_missing_result_is_result_not_found(store: ResultsStore) -> None:
    with pytest.raises(ResultNotFound) as info:
        store.read_point(DAG, RUN, 99)
    assert "99.json" in str(info.value)
    with pytest.raises(ResultNotFound):
        store.read_table(DAG, RUN)


def test_list_is_a_sorted_string_prefix_match(backend: LocalFolderBackend | S3Backend) -> None:
    keys = ("d/r/points/1.json", "d/r/points/10.json", "d/r2/points/0.json", "d/r/equity/1.json")
    for key in keys:
        backend.put(key, b"{}")
    assert backend.list("d/r/points/") == ["d/r/points/1.json", "d/r/points/10.json"]
    assert backend.list("d/r") == sorted(keys)
    assert backend.list("d/r/points/1") == ["d/r/points/1.json", "d/r/points/10.json"]
    assert backend.list("nothing/") == []
    assert backend.list() == sorted(keys)


INVALID_KEYS = ("", "/abs.json", "../up.json", "d/../../up.json", "a//b", "./a", "a\\b")


def test_keys_outside_the_root_are_refused(backend: LocalFolderBackend | S3Backend) -> None:
    for key in INVALID_KEYS:  # one backend for all keys: a moto S3 takes a second to set up
        with pytest.raises(ResultsStoreError):
            backend.put(key, b"{}")
        with pytest.raises(ResultsStoreError):
            backend.get(key)
    assert backend.list() == []


def test_describe_names_the_root(store: ResultsStore, tmp_path: Path) -> None:
    root = store.describe()
    local_root = str(tmp_path / "results")
    assert root == (f"s3://{BUCKET}/{PREFIX}" if isinstance(store.backend, S3Backend) else local_root)
    assert store.describe(ec.point_key(DAG, RUN, 1)) == f"{root}/{DAG}/{RUN}/points/1.json"


def test_the_app_reads_what_the_engine_wrote_through_its_artifact_store(
    backend: LocalFolderBackend | S3Backend, request: pytest.FixtureRequest
) -> None:
    """The engine writes with the framework's backend, the app reads the same root with its own
    adapter: both go through the one layout, so the app sees every point and the table."""
    ResultsStore(backend).write_point(DAG, RUN, 3, RECORD)
    ResultsStore(backend).write_equity(DAG, RUN, 3, {"dates": ["2024-01-02"], "equity": [1.5]})
    if isinstance(backend, S3Backend):
        app_store = S3Store(request.getfixturevalue("s3_client"), BUCKET, PREFIX)
    else:
        app_store = LocalFolderStore(backend.root)
    results = ResultsService(app_store)
    assert results.done_indices(DAG, RUN) == {3}
    assert results.records(DAG, RUN) == [RECORD]
    curve = results.equity(DAG, RUN, 3)
    assert curve is not None and curve.equity == [1.5]
    assert results.equity(DAG, RUN, 4) is None


# ---- local folder --------------------------------------------------------------------------


def test_local_write_is_atomic_and_leaves_no_temp_file_on_failure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    backend = LocalFolderBackend(tmp_path)
    backend.put("d/r/points/1.json", b"old")

    def failing_replace(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(backends.os, "replace", failing_replace)
    with pytest.raises(ResultsStoreError, match="No space left"):
        backend.put("d/r/points/1.json", b"new")
    assert backend.get("d/r/points/1.json") == b"old"
    assert sorted(path.name for path in (tmp_path / "d/r/points").iterdir()) == ["1.json"]


def test_local_files_are_readable_by_other_processes_and_temp_files_never_listed(tmp_path: Path) -> None:
    backend = LocalFolderBackend(tmp_path)
    backend.put("d/r/points/1.json", b"{}")
    assert stat.S_IMODE(os.stat(tmp_path / "d/r/points/1.json").st_mode) == backends.FILE_MODE
    (tmp_path / "d/r/points" / f"{backends.TEMP_PREFIX}2.json{backends.TEMP_SUFFIX}").write_bytes(b"half")
    assert backend.list("d/r/points/") == ["d/r/points/1.json"]


def test_local_prepare_reports_an_unusable_root_before_any_work(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    LocalFolderBackend(tmp_path / "fresh").prepare(ec.points_prefix(DAG, RUN))
    assert (tmp_path / "fresh" / DAG / RUN / "points").is_dir()
    with pytest.raises(ResultsStoreError, match="cannot create"):
        LocalFolderBackend(blocker).prepare(ec.points_prefix(DAG, RUN))


# ---- S3 --------------------------------------------------------------------------------------


def test_s3_client_is_built_on_first_use_only(s3_client: Any) -> None:
    built: list[Any] = []

    def factory() -> Any:
        built.append(s3_client)
        return s3_client

    backend = S3Backend(BUCKET, PREFIX, client_factory=factory)
    assert built == []
    backend.put("d/r/points/1.json", b"{}")
    assert backend.get("d/r/points/1.json") == b"{}"
    assert len(built) == 1
    stored = s3_client.get_object(Bucket=BUCKET, Key=f"{PREFIX}/d/r/points/1.json")
    assert stored["ContentType"] == "application/json"


def test_s3_missing_bucket_is_a_store_error_naming_it(s3_client: Any) -> None:
    backend = S3Backend("no-such-bucket", "x", client=s3_client)
    with pytest.raises(ResultsStoreError, match=r"no-such-bucket.*NoSuchBucket") as info:
        backend.put("d/r/points/1.json", b"{}")
    assert not isinstance(info.value, ResultNotFound)
    with pytest.raises(ResultsStoreError, match="cannot list s3://no-such-bucket/x/d/"):
        backend.list("d/")


def test_s3_lists_every_page(s3_client: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(backends, "S3_LIST_PAGE_SIZE", 2)
    store = ResultsStore(S3Backend(BUCKET, "", client=s3_client))
    for index in range(5):
        store.write_point(DAG, RUN, index, RECORD)
    assert store.point_indices(DAG, RUN) == set(range(5))


def test_summarize_writes_the_table_and_summary_on_s3(s3_client: Any) -> None:
    """The DAG's last task on an s3:// results root (the boto3 client it builds sees moto)."""
    config = small_sweep()
    uri = f"s3://{BUCKET}/{PREFIX}"
    engine_store = ResultsStore(S3Backend(BUCKET, PREFIX, client=s3_client))
    params = dict.fromkeys(config.strategy_spec.param_names, 1)
    for index in range(config.grid_size):
        record = {"index": index, "params": params, "metrics": {"sharpe": float(index)}}
        engine_store.write_point(config.dag_id, "r", index, record)
    assert _summarize(config, uri, "r")["points_done"] == config.grid_size
    table = engine_store.read_table(config.dag_id, "r").decode().splitlines()
    assert table[0] == ",".join(["index", *params, "sharpe"]) and len(table) == config.grid_size + 1
    summary = engine_store.get_json(ec.summary_key(config.dag_id, "r"))
    assert summary["best_by_sharpe"][0]["index"] == config.grid_size - 1


def test_read_object_reads_a_file_or_an_s3_object(tmp_path: Path, s3_client: Any) -> None:
    (tmp_path / "spec.json").write_text('{"a": 1}')
    assert read_object(str(tmp_path / "spec.json")) == b'{"a": 1}'
    assert read_object((tmp_path / "spec.json").as_uri()) == b'{"a": 1}'
    s3_client.put_object(Bucket=BUCKET, Key="runs/d/r/spec.json", Body=b"{}")
    assert read_object(f"s3://{BUCKET}/runs/d/r/spec.json", s3_client_factory=lambda: s3_client) == b"{}"
    with pytest.raises(ResultsStoreError, match="not an object"):
        read_object(f"s3://{BUCKET}", s3_client_factory=lambda: s3_client)
    with pytest.raises(ResultNotFound):
        read_object(str(tmp_path / "missing.json"))
