"""Per-point result files of a run (the framework's results layout) read as a table, with the run's
`results.csv` (written by the DAG's summarize task) standing in for the points it holds."""

from __future__ import annotations

import io
import json
import logging
import math
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pandas as pd

from airflow_backtest_framework import engine_contract as ec
from airflow_backtest_framework.config import SweepConfig
from airflow_backtest_framework.parquet_files import decode_parquet
from airflow_backtest_framework.results_store import ResultsStore, record_history, record_indices
from airflow_backtest_framework.validation_report import REPORT_VERSION, ValidationReport
from services.errors import BacktestError, NotFound
from services.models import RETURNS_SOURCE, EquityCurve, PointResultSummary, ValidationRead
from services.storage import ArtifactStore

log = logging.getLogger(__name__)

READ_THREADS = 8  # S3 GETs overlap well; local reads do not mind
TASKS_PER_THREAD = 4  # reads go in this many batches per thread: a task per file costs more than a local read
METRIC_COLUMNS = ec.METRIC_NAMES


def table_columns(config: SweepConfig) -> list[str]:
    return ["index", *config.strategy_spec.param_names, *METRIC_COLUMNS]


def damage(data: bytes) -> str:
    """Why a `validation.json` that did not parse as a report cannot be shown, in words."""
    try:
        document = json.loads(data)
    except ValueError:
        return "The validation report is damaged (not JSON); rerun summarize."
    version = document.get("version", REPORT_VERSION) if isinstance(document, dict) else REPORT_VERSION
    if version != REPORT_VERSION:
        return (
            f"The validation report has version {version}; this app reads version {REPORT_VERSION}. "
            "Update the app or rerun summarize."
        )
    return "The validation report is damaged (fields missing or malformed); rerun summarize."


def _batches(items: list[int], count: int) -> Iterable[list[int]]:
    """`items` in at most `count` consecutive batches of (nearly) equal size."""
    size = max(1, math.ceil(len(items) / count))
    return (items[start : start + size] for start in range(0, len(items), size))


@dataclass(frozen=True)
class LiveProgress:
    """What a run's chunk progress records say: the indices done, and (unix second, points written)
    histories by chunk start (run-order position) for the chunks whose engine keeps one."""

    done: set[int]
    histories: dict[int, list[tuple[int, int]]]


def _histories(records: list[dict]) -> dict[int, list[tuple[int, int]]]:
    """(unix second, points written) histories by chunk start, of the records that keep one."""
    return {
        int(record["start"]): history
        for record in records
        if isinstance(record.get("start"), int) and (history := record_history(record))
    }


class ResultsService:
    """Reads the result files the engine writes: the framework's results store (its layout) on the
    results ArtifactStore (whose adapters map storage errors to NotFound / StorageError / ...)."""

    def __init__(self, store: ArtifactStore) -> None:
        self._store = ResultsStore(store)

    def done_indices(self, dag_id: str, run_id: str) -> set[int]:
        """Indices of the grid points that have a result file (one listing, no reads)."""
        return self._store.point_indices(dag_id, run_id)

    def live_progress(self, dag_id: str, run_id: str) -> LiveProgress:
        """Indices done of a running or finished run and each chunk's history: from its chunks' progress
        records (one listing, a read per chunk; they move every second within a chunk), else the indices
        from one listing of the point files and no history."""
        records = self._progress_records(dag_id, run_id)
        if not records:
            return LiveProgress(self.done_indices(dag_id, run_id), {})
        return LiveProgress(record_indices(records), _histories(records))

    def progress_histories(self, dag_id: str, run_id: str) -> dict[int, list[tuple[int, int]]]:
        """The chunks' histories alone (see `live_progress`): no listing of the point files."""
        return _histories(self._progress_records(dag_id, run_id))

    def _progress_records(self, dag_id: str, run_id: str) -> list[dict]:
        try:
            return self._store.progress_records(dag_id, run_id)
        except NotFound:
            return []

    def chunk_plan(self, dag_id: str, run_id: str) -> tuple[list[tuple[int, int]], bool] | None:
        """The chunks `plan` cut the run into ((start, count) positions of the run order, by map index) and
        whether that order is space-filling; None before it wrote them (or for runs planned before)."""
        try:
            return self._store.read_plan(dag_id, run_id)
        except NotFound:
            return None
        except (ValueError, KeyError, TypeError) as exc:
            log.warning("plan of %s/%s unreadable: %s", dag_id, run_id, exc)
            return None

    def records(self, dag_id: str, run_id: str, indices: set[int] | None = None) -> list[dict]:
        """The parsed result files (all, or those of `indices`); unreadable ones are skipped and logged."""
        wanted = sorted(self.done_indices(dag_id, run_id) if indices is None else indices)

        def read(index: int) -> dict | None:
            try:
                return self._store.read_point(dag_id, run_id, index)
            except (NotFound, ValueError) as exc:
                log.warning("result %s of %s/%s unreadable: %s", index, dag_id, run_id, exc)
                return None

        def read_batch(indices: list[int]) -> list[dict]:
            return [record for record in map(read, indices) if record is not None]

        with ThreadPoolExecutor(max_workers=READ_THREADS) as pool:
            batches = pool.map(read_batch, _batches(wanted, READ_THREADS * TASKS_PER_THREAD))
            return [record for batch in batches for record in batch]

    def run_record(self, dag_id: str, run_id: str) -> dict | None:
        """One point's result file of the run (its lowest index): how the run was computed (data source,
        fills, stops), the same for every point; None before any point finished."""
        for index in sorted(self.done_indices(dag_id, run_id))[:3]:  # a few tries past an unreadable file
            records = self.records(dag_id, run_id, {index})
            if records:
                return records[0]
        return None

    def equity(self, dag_id: str, run_id: str, index: int) -> EquityCurve | None:
        """A point's equity curve (growth of 1) from its chunk's daily returns file, every bar; from its
        down-sampled `equity/<index>.json` when the run wrote no returns (older runs); None without either."""
        curve = self._equity_of_returns(dag_id, run_id, index)
        if curve is not None:
            return curve
        try:
            document = self._store.read_equity(dag_id, run_id, index)
            return EquityCurve(index=index, dates=document["dates"], equity=document["equity"])
        except NotFound:
            return None
        except (ValueError, KeyError, TypeError) as exc:
            log.warning("equity %s of %s/%s unreadable: %s", index, dag_id, run_id, exc)
            return None

    def validation(self, dag_id: str, run_id: str) -> ValidationRead:
        """The run's `validation.json` (the DAG's validate task rewrites it while the run goes on, summarize
        writes the final one); absent, unreadable or damaged is a read without a report whose `reason`
        says why, and the page shows that instead."""
        where = ec.validation_key(dag_id, run_id)
        try:
            data = self._store.backend.get(where)  # parsed by pydantic in one pass: 10,000 points are 1 MB
        except NotFound:
            return ValidationRead(
                reason="No validation report for this run yet: the DAG writes one as chunks finish."
            )
        except BacktestError as exc:
            log.warning("%s unreadable: %s", where, exc)
            return ValidationRead(reason=f"The validation report cannot be read: {exc}")
        try:
            return ValidationRead(report=ValidationReport.model_validate_json(data))
        except ValueError as exc:  # pydantic's ValidationError is a ValueError
            log.warning("%s does not match the report format: %s", where, str(exc)[:500])
            return ValidationRead(reason=damage(data))

    def _returns_chunk(self, dag_id: str, run_id: str, index: int) -> int | None:
        """The start of the chunk whose returns file holds point `index`: from the chunk progress records
        (with the space-filling order a chunk's points are spread over the grid); for runs without them
        (planned in grid order) the largest chunk start at or below `index`."""
        for record in self._store.progress_records(dag_id, run_id):
            for first, count in record.get("ranges") or []:
                if int(first) <= index < int(first) + int(count):
                    return int(record["start"])
        prefix = ec.returns_prefix(dag_id, run_id)
        names = [key.removeprefix(prefix) for key in self._store.backend.list(prefix)]
        starts = [
            int(stem) for n in names if (stem := n.removesuffix(ec.RETURNS_SUFFIX)) != n and stem.isdigit()
        ]
        return max((s for s in starts if s <= index), default=None)

    def _equity_of_returns(self, dag_id: str, run_id: str, index: int) -> EquityCurve | None:
        """Compound the point's net returns from the returns file of the chunk that holds it."""
        try:
            start = self._returns_chunk(dag_id, run_id, index)
        except (NotFound, KeyError, TypeError, ValueError):
            return None
        if start is None:
            return None
        try:
            data = self._store.backend.get(ec.returns_key(dag_id, run_id, start))
            rows = decode_parquet([data]).to_pandas()
            rows = rows[rows["point"] == index].sort_values("date")
        except Exception as exc:  # an unreadable file (pyarrow raises many kinds): the JSON curve instead
            log.warning("returns of point %s of %s/%s unreadable: %s", index, dag_id, run_id, exc)
            return None
        if rows.empty:
            return None
        growth = (1.0 + rows["net_return"].astype(float)).cumprod()
        dates = [str(day)[:10] for day in rows["date"]]
        return EquityCurve(index=index, dates=dates, equity=growth.tolist(), source=RETURNS_SOURCE)

    def table(self, config: SweepConfig, run_id: str, done: set[int] | None = None) -> pd.DataFrame:
        """One row per finished point: `index`, the parameters, the metrics; sorted by index.

        `done` is the run's `done_indices` when the caller just listed them. The points the run's
        `results.csv` holds come from it (one read instead of one per point); the others (all of
        them before the summarize task ran, or points written after it, such as retried ones) from
        their own files.
        """
        done = set(self.done_indices(config.dag_id, run_id) if done is None else done)
        summarized = self.summarized(config, run_id)
        if summarized is not None:
            summarized = summarized[summarized["index"].isin(done)]
            done -= set(summarized["index"].tolist())
        frame = self._table_of_files(config, run_id, done)
        if summarized is not None and not summarized.empty:
            frame = summarized if frame.empty else pd.concat([summarized, frame])
        return frame.sort_values("index", ignore_index=True)

    def summarized(self, config: SweepConfig, run_id: str) -> pd.DataFrame | None:
        """The table of the points in the run's `results.csv`, as `table` has them (sorted by index);
        None when the summarize task did not write one or it is unusable."""
        key = ec.table_key(config.dag_id, run_id)
        try:
            data = self._store.read_table(config.dag_id, run_id)
        except NotFound:
            return None
        columns = table_columns(config)
        try:
            frame = pd.read_csv(io.BytesIO(data))  # pandas parses floats as JSON does (round trip)
            if not set(columns) - set(METRIC_COLUMNS) <= set(frame.columns):
                raise ValueError(f"columns {list(frame.columns)} lack some of {columns}")
            frame = frame.reindex(columns=columns)
            frame[list(METRIC_COLUMNS)] = frame[list(METRIC_COLUMNS)].astype(float)
            frame["index"] = frame["index"].astype(int)
        except (ValueError, TypeError, pd.errors.ParserError) as exc:
            log.warning("%s unusable, reading the point files: %s", key, exc)
            return None
        return frame.drop_duplicates("index").sort_values("index", ignore_index=True)

    def _table_of_files(self, config: SweepConfig, run_id: str, indices: set[int]) -> pd.DataFrame:
        params = list(config.strategy_spec.param_names)
        rows = []
        for record in self.records(config.dag_id, run_id, indices) if indices else []:
            try:
                row = {"index": int(record["index"])}
                row.update({name: record["params"][name] for name in params})
                row.update(
                    {name: float(record["metrics"].get(name, float("nan"))) for name in METRIC_COLUMNS}
                )
            except (KeyError, TypeError, ValueError) as exc:
                raise BacktestError(
                    f"result file {record.get('index')} of {run_id} is malformed: {exc}"
                ) from None
            rows.append(row)
        return pd.DataFrame(rows, columns=table_columns(config))

    def best(
        self, config: SweepConfig, run_id: str, metric: str = "sharpe", top: int = 5
    ) -> list[PointResultSummary]:
        """The `top` points by `metric`, best first."""
        frame = self.table(config, run_id)
        if frame.empty:
            return []
        params = list(config.strategy_spec.param_names)
        ranked = frame.sort_values(metric, ascending=False).head(top)
        return [
            PointResultSummary(
                index=int(row["index"]),
                params={
                    name: row[name].item() if hasattr(row[name], "item") else row[name] for name in params
                },
                metrics={name: float(row[name]) for name in METRIC_COLUMNS},
            )
            for _, row in ranked.iterrows()
        ]
