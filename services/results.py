"""Per-point result files of a run (the framework's results layout) read as a table, with the run's
`results.csv` (written by the DAG's summarize task) standing in for the points it holds."""

from __future__ import annotations

import io
import logging
import math
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor

import pandas as pd

from airflow_backtest_framework import engine_contract as ec
from airflow_backtest_framework.config import SweepConfig
from airflow_backtest_framework.results_store import ResultsStore
from services.errors import BacktestError, NotFound
from services.models import EquityCurve, PointResultSummary
from services.storage import ArtifactStore

log = logging.getLogger(__name__)

READ_THREADS = 8  # S3 GETs overlap well; local reads do not mind
TASKS_PER_THREAD = 4  # reads go in this many batches per thread: a task per file costs more than a local read
METRIC_COLUMNS = ec.METRIC_NAMES


def table_columns(config: SweepConfig) -> list[str]:
    return ["index", *config.strategy_spec.param_names, *METRIC_COLUMNS]


def _batches(items: list[int], count: int) -> Iterable[list[int]]:
    """`items` in at most `count` consecutive batches of (nearly) equal size."""
    size = max(1, math.ceil(len(items) / count))
    return (items[start : start + size] for start in range(0, len(items), size))


class ResultsService:
    """Reads the result files the engine writes: the framework's results store (its layout) on the
    results ArtifactStore (whose adapters map storage errors to NotFound / StorageError / ...)."""

    def __init__(self, store: ArtifactStore) -> None:
        self._store = ResultsStore(store)

    def done_indices(self, dag_id: str, run_id: str) -> set[int]:
        """Indices of the grid points that have a result file (one listing, no reads)."""
        return self._store.point_indices(dag_id, run_id)

    def live_done_indices(self, dag_id: str, run_id: str) -> set[int]:
        """Indices done of a running or finished run: from its chunks' progress records (one listing, a
        read per chunk; they move every second within a chunk), else one listing of the point files."""
        try:
            done = self._store.progress_indices(dag_id, run_id)
        except NotFound:
            done = None
        return self.done_indices(dag_id, run_id) if done is None else done

    def chunk_plan(self, dag_id: str, run_id: str) -> tuple[list[tuple[int, int]], bool] | None:
        """The chunks `plan` cut the run into ((start, count) positions of the run order, by map index) and
        whether that order is space-filling; None before it wrote them (or for runs planned before)."""
        try:
            document = self._store.get_json(ec.plan_key(dag_id, run_id))
            chunks = [(int(start), int(count)) for start, count in document["chunks"]]
            return chunks, bool(document.get("space_filling", False))
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

    def equity(self, dag_id: str, run_id: str, index: int) -> EquityCurve | None:
        """A point's equity curve (`<dag_id>/<run_id>/equity/<index>.json`); None when none was written."""
        try:
            document = self._store.read_equity(dag_id, run_id, index)
            return EquityCurve(index=index, dates=document["dates"], equity=document["equity"])
        except NotFound:
            return None
        except (ValueError, KeyError, TypeError) as exc:
            log.warning("equity %s of %s/%s unreadable: %s", index, dag_id, run_id, exc)
            return None

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
