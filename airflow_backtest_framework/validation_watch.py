"""The sweep DAG's `validate` task: the partial validation report, rewritten while the chunks run.

It starts with the chunks (after `plan`) and polls the run's returns files (one listing per poll); when
a chunk has written its file since the last report it rewrites `validation.json` (`final` false) from the
points done so far. It stops when every chunk has written its file, when Airflow says every `run_chunk`
instance has finished, or after IDLE_LIMIT_S without a new file; `summarize` (after it) writes the final
report. It never fails the run: a report that cannot be built is logged and the watch goes on.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

from airflow_backtest_framework import engine_contract as ec
from airflow_backtest_framework.config import SweepConfig
from airflow_backtest_framework.results_store import ResultsStore, ResultsStoreError

log = logging.getLogger(__name__)

POLL_S = 30.0  # at least this long between polls; twice the last report's compute time when longer
IDLE_LIMIT_S = 3 * 3600.0  # no new returns file for this long: stop watching (summarize still runs)
FINISHED_STATES = ("success", "failed", "upstream_failed", "skipped", "removed")
DEFAULT_BARS_PER_YEAR = 252.0


def chunks_finished_probe(
    context: Mapping[str, Any], dag_id: str, run_id: str, chunks: int
) -> Callable[[], bool]:
    """Whether every `run_chunk` instance of the run has finished, asked of Airflow: the task SDK's
    `get_ti_count` on Airflow 3, the DAG run's task instances on Airflow 2 (MWAA); False when unknown."""
    ti, dag_run = context.get("ti"), context.get("dag_run")

    def airflow3() -> int:
        return ti.get_ti_count(
            dag_id=dag_id, task_ids=[ec.CHUNK_TASK_ID], run_ids=[run_id], states=list(FINISHED_STATES)
        )

    def airflow2() -> int:
        instances = dag_run.get_task_instances(state=list(FINISHED_STATES))
        return sum(1 for instance in instances if instance.task_id == ec.CHUNK_TASK_ID)

    count = airflow3 if hasattr(ti, "get_ti_count") else airflow2 if dag_run is not None else None

    def probe() -> bool:
        if count is None:
            return False
        try:
            return count() >= chunks
        except Exception as exc:  # the probe is an optimisation: the watch ends on its own too
            log.info("cannot ask Airflow for the chunks' states (%s); watching the results only", exc)
            return False

    return probe


def _bars_per_year(store: ResultsStore, config: SweepConfig, run_id: str) -> float:
    done = store.point_indices(config.dag_id, run_id)
    if not done:
        return DEFAULT_BARS_PER_YEAR
    record = store.read_point(config.dag_id, run_id, min(done))
    return float(record.get("bars_per_year", DEFAULT_BARS_PER_YEAR))


def planned_chunks(store: ResultsStore, config: SweepConfig, run_id: str) -> int:
    """How many chunks `plan` made for the run (its `plan.json`: sized for the executor, so not the spec's
    legacy split); the spec's own split only for a run planned before plan.json existed."""
    try:
        return len(store.read_plan(config.dag_id, run_id)[0])
    except (ResultsStoreError, ValueError, KeyError, TypeError):
        return len(config.chunks())


def watch(
    store: ResultsStore,
    config: SweepConfig,
    run_id: str,
    *,
    chunks: int | None = None,
    chunks_finished: Callable[[], bool] = lambda: False,
    poll_s: float = POLL_S,
    idle_limit_s: float = IDLE_LIMIT_S,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> dict[str, int]:
    """Rewrite the partial report whenever new returns files appeared; returns what it did. `chunks`: how
    many returns files make the run whole (default: plan.json's chunks)."""
    from airflow_backtest_framework.validation import validate_run  # numpy: at run time only

    expected = planned_chunks(store, config, run_id) if chunks is None else chunks
    seen, reports = 0, 0
    last_change, wait = clock(), poll_s
    prefix = ec.returns_prefix(config.dag_id, run_id)
    while True:
        finished = chunks_finished()  # asked before listing: a file written before this is listed
        try:
            files = sum(1 for key in store.backend.list(prefix) if key.endswith(ec.RETURNS_SUFFIX))
            if files != seen:
                seen, last_change = files, clock()
                bars_per_year = _bars_per_year(store, config, run_id)
                report = validate_run(store, config, run_id, final=False, bars_per_year=bars_per_year)
                reports += 1
                wait = max(poll_s, 2.0 * report.seconds)
                log.info("partial validation report: %d points in %.1fs", report.points_done, report.seconds)
        except (ValueError, KeyError, ResultsStoreError) as exc:
            log.warning("partial validation report not written: %s", exc)
        if seen >= expected or finished or clock() - last_change > idle_limit_s:
            return {"reports": reports, "returns_files": seen, "chunks": expected}
        sleep(wait)
