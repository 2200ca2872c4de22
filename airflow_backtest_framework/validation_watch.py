"""The sweep DAG's `validate` task: the partial validation report, rewritten while the chunks run.

It starts with the chunks (after `plan`) and looks at the run every CHECK_S (one listing of its returns
files, one question to Airflow). When a chunk has written its file since the last report, and the last
report is at least POLL_S old (or REPORT_SHARE of the time, whichever is longer, so that partial reports
never take more than a tenth of the machine from the chunks), and the run will likely go on for a few
times what the report costs, it rewrites `validation.json` (`final` false) from the points done so far.
It stops as soon as every chunk has written its file or Airflow says every `run_chunk` instance has
finished, without a last partial report: `summarize`, which runs next, writes the final one. It also
stops after IDLE_LIMIT_S without a new file. It never fails the run: a report that cannot be built is
logged and the watch goes on.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

from airflow_backtest_framework import engine_contract as ec
from airflow_backtest_framework.config import SweepConfig
from airflow_backtest_framework.results_backends import ResultsStoreError
from airflow_backtest_framework.results_store import ResultsStore

log = logging.getLogger(__name__)

CHECK_S = 1.0  # how often the watch looks for new returns files and the end of the run
POLL_S = 30.0  # at least this long between partial reports
REPORT_SHARE = 0.1  # ... and long enough that reports take at most this share of the time
REPORT_SECONDS_PER_POINT = 1e-3  # a partial report's cost before one was measured (0.5 ms measured)
REPORT_HEADROOM = 3.0  # report only when the run has this many times the report's cost still to go
IDLE_LIMIT_S = 3 * 3600.0  # no new returns file for this long: stop watching (summarize still runs)
FINISHED_STATES = ("success", "failed", "upstream_failed", "skipped", "removed")


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


def _worth_a_report(
    store: ResultsStore, config: SweepConfig, run_id: str, elapsed: float, seconds_per_point: float
) -> bool:
    """Whether the run will likely go on for a while after a partial report made now: its chunks all
    finish together (one wave), so the first returns files come shortly before the last, and a report
    started then (a minute for 60,000 points) would only hold up `summarize`. The run's remaining time is
    estimated from the chunks' progress records: elapsed × (1 − f) / f, f the share of points done."""
    done = sum(int(record.get("done") or 0) for record in store.progress_records(config.dag_id, run_id))
    if done <= 0 or done >= config.grid_size:
        return done <= 0
    remaining = elapsed * (config.grid_size - done) / done
    return remaining > REPORT_HEADROOM * done * seconds_per_point


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
    check_s: float = CHECK_S,
    poll_s: float = POLL_S,
    report_share: float = REPORT_SHARE,
    idle_limit_s: float = IDLE_LIMIT_S,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> dict[str, int]:
    """Rewrite the partial report while new returns files appear; returns what it did. `chunks`: how
    many returns files make the run whole (default: plan.json's chunks)."""
    from airflow_backtest_framework.validation import run_bars_per_year, validate_run  # numpy: at run time

    expected = planned_chunks(store, config, run_id) if chunks is None else chunks
    seen, reported, reports = 0, 0, 0
    last_change = next_report = began = clock()
    cost = REPORT_SECONDS_PER_POINT  # seconds a partial report takes per point done (the last one's)
    while True:
        finished = chunks_finished()  # asked before listing: a file written before this is listed
        try:
            files = len(store.returns_keys(config.dag_id, run_id))
        except OSError as exc:  # ResultsStoreError is one
            log.warning("returns files not listed: %s", exc)
            files = seen
        if files != seen:
            seen, last_change = files, clock()
        if seen >= expected or finished or clock() - last_change > idle_limit_s:
            return {"reports": reports, "returns_files": seen, "chunks": expected}
        if (
            seen != reported
            and clock() >= next_report
            and _worth_a_report(store, config, run_id, clock() - began, cost)
        ):
            reported = seen
            try:
                bars_per_year = run_bars_per_year(store, config.dag_id, run_id)
                report = validate_run(store, config, run_id, final=False, bars_per_year=bars_per_year)
            except (ValueError, KeyError, ResultsStoreError) as exc:
                log.warning("partial validation report not written: %s", exc)
                next_report = clock() + poll_s
            else:
                reports += 1
                cost = report.seconds / max(report.points_done, 1)
                next_report = clock() + max(poll_s, report.seconds / report_share)
                log.info("partial validation report: %d points in %.1fs", report.points_done, report.seconds)
        sleep(check_s)
