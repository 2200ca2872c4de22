"""A chunk's progress record, rewritten as its points are written (engine_contract.progress_key).

Monitor and the wall list a run's `progress/` folder and read these few records instead of listing
every point's result: coverage, the ETA and the wall move within a chunk, every PROGRESS_EVERY_S.
Its `history` ([[unix second, points written], ...], from the chunk's start) keeps that movement for
the coverage-over-time chart once the run is over.
"""

from __future__ import annotations

import logging
import time

from airflow_backtest_framework.engine_contract import progress_key
from airflow_backtest_framework.results_store import ResultsStore

logger = logging.getLogger("backtest_engine")

PROGRESS_EVERY_S = 1.0
HISTORY_MAX_ENTRIES = 240  # a chart a few hundred pixels wide shows no more; older entries are thinned


def thin_history(history: list[list[int]], max_entries: int = HISTORY_MAX_ENTRIES) -> list[list[int]]:
    """At most `max_entries`: every other interior entry dropped until it fits (first and last kept)."""
    while len(history) > max_entries >= 2:
        history = [*history[:-1:2], history[-1]] if len(history) % 2 == 0 else history[::2]
    return history


class ChunkProgress:
    """Points done of the chunk at run-order positions [start, start + count), as index ranges."""

    def __init__(self, store: ResultsStore, dag_id: str, run_id: str, start: int, count: int) -> None:
        self._store, self._key = store, progress_key(dag_id, run_id, start)
        self._start, self._count = start, count
        self._ranges: list[list[int]] = []
        self._failed: list[int] = []
        self._passed = 0
        self._written = 0
        self._history: list[list[int]] = [[int(time.time()), 0]]
        self._written_at = 0.0

    def record(self, written: list[int], failed: list[int], passed: int) -> None:
        """After a block of the chunk: its written and failed indices, `passed` positions so far."""
        for index in sorted(written):
            if self._ranges and self._ranges[-1][0] + self._ranges[-1][1] == index:
                self._ranges[-1][1] += 1
            else:
                self._ranges.append([index, 1])
        self._failed.extend(failed)
        self._passed = passed
        self._written += len(written)
        if time.monotonic() - self._written_at >= PROGRESS_EVERY_S:
            self.write()

    def write(self) -> None:
        """Write the record now; a storage error is logged (progress is a view, the results are the truth)."""
        now = int(time.time())
        if len(self._history) > 1 and self._history[-1][0] == now:  # one entry a second (the start kept)
            self._history[-1][1] = self._written
        elif self._history[-1][1] != self._written:
            self._history = thin_history([*self._history, [now, self._written]])
        document = {
            "start": self._start,
            "count": self._count,
            "done": self._passed,
            "ranges": self._ranges,
            "failed": sorted(self._failed),
            "history": self._history,
        }
        try:
            self._store.put_json(self._key, document)
        except OSError as exc:  # StorageError is one
            logger.warning("progress of the chunk at %d not written: %s", self._start, exc)
        self._written_at = time.monotonic()
