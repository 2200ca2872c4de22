"""A per-process cache of results tables: re-read a run's files only when new ones appeared."""

from __future__ import annotations

import inspect
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Protocol

import pandas as pd

from airflow_backtest_framework.config import SweepConfig

MAX_TABLES = 8  # a 10,000-point table is a few MB: a handful per worker is plenty
UNLISTED_TTL_S = 5.0  # results without a cheap listing are re-read after this long


class TableSource(Protocol):
    def table(self, config: SweepConfig, run_id: str) -> pd.DataFrame: ...


class ResultsTables:
    """`table(config, run_id)` that keeps the last tables read, keyed by how many result files exist.

    One listing (`done_indices`) tells whether a running sweep wrote new points: while it did
    not, changing a heatmap's axes costs no file read. A source without `done_indices` (a fake)
    is re-read every UNLISTED_TTL_S. A caller that knows the size of the table it shows (`rows`)
    gets that table while it is kept, without a listing; so does a process that has not read it
    yet when the run's summarized table (`summarized`, the summarize task's results.csv) has that
    many rows: its points all had result files when it was written, so it is the same table.
    """

    def __init__(self, results: TableSource, clock: Callable[[], float] = time.monotonic) -> None:
        self._results = results
        self._clock = clock
        self._tables: OrderedDict[tuple, pd.DataFrame] = OrderedDict()
        self._lock = threading.Lock()
        # A source whose table() takes `done` gets the listing just made instead of listing again.
        self._pass_done = "done" in inspect.signature(results.table).parameters

    def table(self, config: SweepConfig, run_id: str, rows: int | None = None) -> pd.DataFrame:
        run = (config.dag_id, config.spec_hash, run_id)
        if rows is not None:
            with self._lock:
                for key in reversed(self._tables):
                    if key[:3] == run and len(self._tables[key]) == rows:
                        self._tables.move_to_end(key)
                        return self._tables[key]
            summarized = getattr(self._results, "summarized", None)
            table = summarized(config, run_id) if summarized is not None else None
            if table is not None and len(table) == rows:
                self._keep((*run, rows), table)
                return table
        done_indices = getattr(self._results, "done_indices", None)
        done = None if done_indices is None else done_indices(config.dag_id, run_id)
        key = (*run, int(self._clock() // UNLISTED_TTL_S) if done is None else len(done))
        with self._lock:
            if key in self._tables:
                self._tables.move_to_end(key)
                return self._tables[key]
        if done is not None and self._pass_done:
            table = self._results.table(config, run_id, done=done)  # type: ignore[call-arg]
        else:
            table = self._results.table(config, run_id)
        self._keep(key, table)
        return table

    def _keep(self, key: tuple, table: pd.DataFrame) -> None:
        with self._lock:
            self._tables[key] = table
            while len(self._tables) > MAX_TABLES:
                self._tables.popitem(last=False)
