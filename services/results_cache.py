"""A per-process cache of results tables: re-read a run's files only when new ones appeared."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable

import pandas as pd

from airflow_backtest_framework.config import SweepConfig
from services.models import ValidationRead
from services.ports import Results

MAX_TABLES = 8  # a 10,000-point table is a few MB: a handful per worker is plenty
REPORT_MAX_AGE_S = 10.0  # a running sweep's report: summarize rewrites it every few points


class ResultsTables:
    """`table(config, run_id)` that keeps the last tables read, keyed by how many result files exist.

    One listing (`done_indices`) tells whether a running sweep wrote new points: while it did
    not, changing a heatmap's axes costs no file read. A caller that knows the size of the table it
    shows (`rows`) gets that table while it is kept, without a listing; so does a process that has not read it
    yet when the run's summarized table (`summarized`, the summarize task's results.csv) has that
    many rows: its points all had result files when it was written, so it is the same table.
    """

    def __init__(self, results: Results, clock: Callable[[], float] = time.monotonic) -> None:
        self._results = results
        self._clock = clock
        self._tables: OrderedDict[tuple, pd.DataFrame] = OrderedDict()
        self._lock = threading.Lock()
        self._reports: OrderedDict[tuple, tuple[int, ValidationRead, float]] = OrderedDict()

    def table(self, config: SweepConfig, run_id: str, rows: int | None = None) -> pd.DataFrame:
        run = (config.dag_id, config.spec_hash, run_id)
        if rows is not None:
            with self._lock:
                for key in reversed(self._tables):
                    if key[:3] == run and len(self._tables[key]) == rows:
                        self._tables.move_to_end(key)
                        return self._tables[key]
            table = self._results.summarized(config, run_id)
            if table is not None and len(table) == rows:
                self._keep((*run, rows), table)
                return table
        done = self._results.done_indices(config.dag_id, run_id)
        key = (*run, len(done))
        with self._lock:
            if key in self._tables:
                self._tables.move_to_end(key)
                return self._tables[key]
        table = self._results.table(config, run_id, done=done)
        self._keep(key, table)
        return table

    def validation(self, config: SweepConfig, run_id: str, rows: int | None = None) -> ValidationRead:
        """The run's validation report, kept while the run's number of points (`rows`, or a listing's
        count) stays; a report that is not final is re-read after REPORT_MAX_AGE_S too, since summarize
        rewrites it after the last point (a final report is kept as long as the run's points stay)."""
        run = (config.dag_id, config.spec_hash, run_id)
        with self._lock:
            kept = self._reports.get(run)
        if kept is not None and kept[0] == rows and self._fresh(kept):
            return kept[1]
        count = len(self._results.done_indices(config.dag_id, run_id)) if rows is None else rows
        if kept is not None and kept[0] == count and self._fresh(kept):
            return kept[1]
        read = self._results.validation(config.dag_id, run_id)
        with self._lock:
            self._reports[run] = (count, read, self._clock())
            self._reports.move_to_end(run)
            while len(self._reports) > MAX_TABLES:
                self._reports.popitem(last=False)
        return read

    def _fresh(self, kept: tuple[int, ValidationRead, float]) -> bool:
        final = kept[1].report is not None and kept[1].report.final
        return final or self._clock() - kept[2] < REPORT_MAX_AGE_S

    def _keep(self, key: tuple, table: pd.DataFrame) -> None:
        with self._lock:
            self._tables[key] = table
            while len(self._tables) > MAX_TABLES:
                self._tables.popitem(last=False)
