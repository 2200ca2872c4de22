"""Per-point result files of a run (`<dag_id>/<run_id>/points/<index>.json`) read as a table."""

from __future__ import annotations

import json
import logging
from concurrent.futures import ThreadPoolExecutor

import pandas as pd

from airflow_backtest_framework import engine_contract as ec
from airflow_backtest_framework.config import SweepConfig
from services.errors import BacktestError, NotFound
from services.models import EquityCurve, PointResultSummary
from services.storage import ArtifactStore

log = logging.getLogger(__name__)

READ_THREADS = 8  # S3 GETs overlap well; local reads do not mind
METRIC_COLUMNS = ec.METRIC_NAMES


def points_prefix(dag_id: str, run_id: str) -> str:
    return f"{ec.run_prefix(dag_id, run_id)}/{ec.POINTS_DIR}/"


class ResultsService:
    """Reads the result files the engine writes, through the results ArtifactStore."""

    def __init__(self, store: ArtifactStore) -> None:
        self._store = store

    def done_indices(self, dag_id: str, run_id: str) -> set[int]:
        """Indices of the grid points that have a result file (one listing, no reads)."""
        prefix = points_prefix(dag_id, run_id)
        indices = set()
        for key in self._store.list(prefix):
            stem = key[len(prefix) :].removesuffix(".json")
            if stem.isdigit():
                indices.add(int(stem))
        return indices

    def records(self, dag_id: str, run_id: str, indices: set[int] | None = None) -> list[dict]:
        """The parsed result files (all, or those of `indices`); unreadable ones are skipped and logged."""
        wanted = sorted(self.done_indices(dag_id, run_id) if indices is None else indices)
        prefix = points_prefix(dag_id, run_id)

        def read(index: int) -> dict | None:
            try:
                return json.loads(self._store.get(f"{prefix}{index}.json"))
            except (NotFound, ValueError) as exc:
                log.warning("result %s of %s/%s unreadable: %s", index, dag_id, run_id, exc)
                return None

        with ThreadPoolExecutor(max_workers=READ_THREADS) as pool:
            return [record for record in pool.map(read, wanted) if record is not None]

    def equity(self, dag_id: str, run_id: str, index: int) -> EquityCurve | None:
        """A point's equity curve (`<dag_id>/<run_id>/equity/<index>.json`); None when none was written."""
        key = f"{ec.run_prefix(dag_id, run_id)}/{ec.EQUITY_DIR}/{index}.json"
        try:
            document = json.loads(self._store.get(key))
            return EquityCurve(index=index, dates=document["dates"], equity=document["equity"])
        except NotFound:
            return None
        except (ValueError, KeyError, TypeError) as exc:
            log.warning("equity %s of %s/%s unreadable: %s", index, dag_id, run_id, exc)
            return None

    def table(self, config: SweepConfig, run_id: str) -> pd.DataFrame:
        """One row per finished point: `index`, the parameters, the metrics; sorted by index."""
        params = list(config.strategy_spec.param_names)
        rows = []
        for record in self.records(config.dag_id, run_id):
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
        frame = pd.DataFrame(rows, columns=["index", *params, *METRIC_COLUMNS])
        return frame.sort_values("index", ignore_index=True)

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
