"""The results store: a sweep run's documents in the engine contract's layout, on any results backend."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Mapping
from typing import Any

from airflow_backtest_framework import engine_contract as ec
from airflow_backtest_framework.parquet_files import decode_parquet, encode_parquet
from airflow_backtest_framework.results_backends import (
    ResultNotFound,
    ResultsBackend,
    S3ClientFactory,
    default_s3_client,
    open_backend,
)


def encode_json(document: object) -> bytes:
    """Compact JSON; NaN and infinities are refused so every reader can parse the file."""
    return json.dumps(document, separators=(",", ":"), allow_nan=False).encode()


class ResultsStore:
    """A sweep run's result documents in the contract's layout (`engine_contract`), on any backend; errors
    come from the backend (ResultNotFound / ResultsStoreError here, the app's own from its ArtifactStore)."""

    def __init__(self, backend: ResultsBackend) -> None:
        self.backend = backend

    def __repr__(self) -> str:
        return f"ResultsStore({self.backend!r})"

    def describe(self, key: str = "") -> str:
        """The location of `key` (or of the root), for messages."""
        root = self.backend.describe().rstrip("/")
        return f"{root}/{key}" if key else root

    def put_json(self, key: str, document: object) -> None:
        self.backend.put(key, encode_json(document))

    def get_json(self, key: str) -> Any:
        """The parsed document at `key`; ValueError when it is not JSON."""
        return json.loads(self.backend.get(key))

    def point_indices(self, dag_id: str, run_id: str) -> set[int]:
        """Indices of the run's grid points that have a result (one listing, no reads)."""
        prefix = ec.points_prefix(dag_id, run_id)
        found = (ec.point_index(key.removeprefix(prefix)) for key in self.backend.list(prefix))
        return {index for index in found if index is not None}

    def progress_records(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        """The run's chunk progress records (one listing, a read per chunk); unreadable ones left out."""
        records = []
        for key in self.backend.list(ec.progress_prefix(dag_id, run_id)):
            with contextlib.suppress(ValueError, ResultNotFound):
                records.append(self.get_json(key))
        return records

    def write_point(self, dag_id: str, run_id: str, index: int, record: object) -> None:
        self.put_json(ec.point_key(dag_id, run_id, index), record)

    def read_point(self, dag_id: str, run_id: str, index: int) -> Any:
        return self.get_json(ec.point_key(dag_id, run_id, index))

    def write_equity(self, dag_id: str, run_id: str, index: int, curve: object) -> None:
        self.put_json(ec.equity_key(dag_id, run_id, index), curve)

    def read_equity(self, dag_id: str, run_id: str, index: int) -> Any:
        return self.get_json(ec.equity_key(dag_id, run_id, index))

    def write_returns(self, dag_id: str, run_id: str, chunk_start: int, columns: Mapping[str, Any]) -> None:
        """One chunk's daily returns as Parquet (columns: ec.RETURNS_COLUMNS, equal-length arrays)."""
        self.put_returns_file(dag_id, run_id, chunk_start, encode_parquet(columns))

    def put_returns_file(self, dag_id: str, run_id: str, chunk_start: int, data: bytes) -> None:
        """One chunk's returns file as built elsewhere (parquet_files.ParquetRowGroups)."""
        self.backend.put(ec.returns_key(dag_id, run_id, chunk_start), data)

    def returns_keys(self, dag_id: str, run_id: str, required: bool = False) -> list[str]:
        """The run's returns files (one per chunk that wrote one); ResultNotFound if `required` and none."""
        prefix = ec.returns_prefix(dag_id, run_id)
        keys = [key for key in self.backend.list(prefix) if key.endswith(ec.RETURNS_SUFFIX)]
        if required and not keys:
            raise ResultNotFound(f"no returns files at {self.describe(prefix)}")
        return keys

    def read_returns(self, dag_id: str, run_id: str) -> Any:
        """Every returns file of the run as one pyarrow Table, sorted by point and date."""
        keys = self.returns_keys(dag_id, run_id, required=True)
        return decode_parquet([self.backend.get(key) for key in keys], sort_by=("point", "date"))

    def write_spec(self, dag_id: str, run_id: str, spec_json: str) -> None:
        self.backend.put(ec.spec_key(dag_id, run_id), spec_json.encode("utf-8"))

    def write_table(self, dag_id: str, run_id: str, csv_text: str) -> None:
        self.backend.put(ec.table_key(dag_id, run_id), csv_text.encode("utf-8"))

    def read_table(self, dag_id: str, run_id: str) -> bytes:
        return self.backend.get(ec.table_key(dag_id, run_id))

    def write_summary(self, dag_id: str, run_id: str, summary: object) -> None:
        self.put_json(ec.summary_key(dag_id, run_id), summary)

    def write_validation(self, dag_id: str, run_id: str, report: object) -> None:
        """`validation.json`: a ValidationReport's JSON (validation_report.py)."""
        self.put_json(ec.validation_key(dag_id, run_id), report)

    def read_validation(self, dag_id: str, run_id: str) -> Any:
        return self.get_json(ec.validation_key(dag_id, run_id))

    def write_plan(
        self, dag_id: str, run_id: str, chunks: list[tuple[int, int]], space_filling: bool
    ) -> None:
        self.put_json(ec.plan_key(dag_id, run_id), {"chunks": chunks, "space_filling": space_filling})

    def read_plan(self, dag_id: str, run_id: str) -> tuple[list[tuple[int, int]], bool]:
        """`plan`'s chunks ((start, count) by map index) and whether its run order is space-filling."""
        document = self.get_json(ec.plan_key(dag_id, run_id))
        return [(int(s), int(n)) for s, n in document["chunks"]], bool(document.get("space_filling", False))


def record_indices(records: list[dict[str, Any]]) -> set[int]:
    """The indices the chunk progress records say were written."""
    done: set[int] = set()
    for record in records:
        for first, count in record.get("ranges") or []:
            done.update(range(int(first), int(first) + int(count)))
    return done


def record_history(record: dict[str, Any]) -> list[tuple[int, int]]:
    """A progress record's history: (unix second, points written) pairs; [] if it has none (written by an
    engine before histories) or it is malformed."""
    try:
        return [(int(at), int(done)) for at, done in record.get("history") or []]
    except (TypeError, ValueError):
        return []


def open_results_store(uri: str, *, s3_client_factory: S3ClientFactory = default_s3_client) -> ResultsStore:
    """The store of a results root given as a local path, file:// URL or s3://bucket/prefix."""
    return ResultsStore(open_backend(uri, s3_client_factory=s3_client_factory))
