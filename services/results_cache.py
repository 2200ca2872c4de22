"""A per-process cache of results tables: re-read a run's files only when new ones appeared."""

from __future__ import annotations

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
    is re-read every UNLISTED_TTL_S.
    """

    def __init__(self, results: TableSource, clock: Callable[[], float] = time.monotonic) -> None:
        self._results = results
        self._clock = clock
        self._tables: OrderedDict[tuple, pd.DataFrame] = OrderedDict()
        self._lock = threading.Lock()

    def _marker(self, config: SweepConfig, run_id: str) -> object:
        done_indices = getattr(self._results, "done_indices", None)
        if done_indices is None:
            return int(self._clock() // UNLISTED_TTL_S)
        return len(done_indices(config.dag_id, run_id))

    def table(self, config: SweepConfig, run_id: str) -> pd.DataFrame:
        key = (config.dag_id, config.spec_hash, run_id, self._marker(config, run_id))
        with self._lock:
            if key in self._tables:
                self._tables.move_to_end(key)
                return self._tables[key]
        table = self._results.table(config, run_id)
        with self._lock:
            self._tables[key] = table
            while len(self._tables) > MAX_TABLES:
                self._tables.popitem(last=False)
        return table
