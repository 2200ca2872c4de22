"""The DAG's validate task: partial reports while the chunks write their files, and when it stops."""

from __future__ import annotations

import contextlib
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from airflow_backtest_framework import engine_contract as ec
from airflow_backtest_framework.results_backends import ResultNotFound
from airflow_backtest_framework.results_store import open_results_store
from airflow_backtest_framework.validation_report import ValidationReport
from airflow_backtest_framework.validation_watch import chunks_finished_probe, watch
from bench.bench_validation import business_days, validation_sweep, write_run

BARS = 300


def setup(tmp_path: Path):
    config = validation_sweep("watch_test", side=4, points_per_task=4)  # 16 points, 4 chunks
    store = open_results_store(str(tmp_path))
    returns = np.random.default_rng(6).normal(0, 0.01, size=(config.grid_size, BARS))
    return config, store, returns


class Chunks:
    """Writes the next chunk's files each time the watch sleeps; records the partial reports seen."""

    def __init__(self, config, store, returns) -> None:
        self.config, self.store, self.returns = config, store, returns
        self.written, self.seen, self.now = 0, [], 0.0

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds
        with contextlib.suppress(ResultNotFound):  # none until the watch's first report
            self.seen.append(
                ValidationReport.model_validate(self.store.read_validation(self.config.dag_id, "r"))
            )
        start = self.written * 4
        if start < self.config.grid_size:
            rows = self.returns[start : start + 4]
            write_run(self.store, self.config, "r", rows, business_days(BARS), chunk=4, first=start)
            self.written += 1


def test_the_watch_rewrites_a_partial_report_per_new_chunk_and_stops_when_all_are_written(
    tmp_path: Path,
) -> None:
    config, store, returns = setup(tmp_path)
    chunks = Chunks(config, store, returns)
    write_run(store, config, "r", returns[:4], business_days(BARS), chunk=4)
    chunks.written = 1
    watching = {"sleep": chunks.sleep, "clock": chunks.clock, "check_s": 5, "poll_s": 5, "report_share": 1}
    done = watch(store, config, "r", **watching)
    assert done == {"reports": 3, "returns_files": 4, "chunks": 4}
    assert [report.points_done for report in chunks.seen] == [4, 8, 12]
    assert not any(report.final for report in chunks.seen)
    # no last partial report once every chunk is in: summarize, which runs next, writes the final one
    last = ValidationReport.model_validate(store.read_validation(config.dag_id, "r"))
    assert (last.final, last.points_done, last.points_total) == (False, 12, 16)


def test_the_watch_sees_the_end_within_a_check_but_reports_at_most_every_poll(tmp_path: Path) -> None:
    """Chunks land every 2 s: the watch looks every 2 s, reports once (the next report would be due at 30 s)
    and returns 2 s after the last chunk, not a poll later."""
    config, store, returns = setup(tmp_path)
    chunks = Chunks(config, store, returns)
    write_run(store, config, "r", returns[:4], business_days(BARS), chunk=4)
    chunks.written = 1
    done = watch(store, config, "r", sleep=chunks.sleep, clock=chunks.clock, check_s=2, poll_s=30)
    assert done == {"reports": 1, "returns_files": 4, "chunks": 4}
    assert chunks.now == 6  # the fourth chunk was written at 6 s: seen on the very next look


def test_the_watch_stops_when_airflow_says_the_chunks_finished_or_nothing_moves(tmp_path: Path) -> None:
    config, store, returns = setup(tmp_path)
    write_run(store, config, "r", returns[:4], business_days(BARS), chunk=4)
    done = watch(store, config, "r", chunks_finished=lambda: True, sleep=lambda s: None)
    assert done == {"reports": 0, "returns_files": 1, "chunks": 4}  # over: summarize reports
    clock = iter(float(t) for t in range(0, 10_000, 100))
    idle = watch(store, config, "r", idle_limit_s=250, sleep=lambda s: None, clock=lambda: next(clock))
    assert idle == {"reports": 1, "returns_files": 1, "chunks": 4}


def test_the_probe_asks_airflow_3_or_the_airflow_2_dag_run() -> None:
    asked = {}

    def get_ti_count(**query):
        asked.update(query)
        return 3

    probe = chunks_finished_probe({"ti": SimpleNamespace(get_ti_count=get_ti_count)}, "d", "r", 3)
    assert probe() is True and asked["task_ids"] == [ec.CHUNK_TASK_ID] and asked["run_ids"] == ["r"]
    assert "running" not in asked["states"] and "success" in asked["states"]
    instances = [SimpleNamespace(task_id=ec.CHUNK_TASK_ID), SimpleNamespace(task_id=ec.PLAN_TASK_ID)]
    dag_run = SimpleNamespace(get_task_instances=lambda state: instances)
    assert chunks_finished_probe({"ti": object(), "dag_run": dag_run}, "d", "r", 2)() is False
    assert chunks_finished_probe({"ti": object(), "dag_run": dag_run}, "d", "r", 1)() is True

    def broken(**query):
        raise ConnectionError("supervisor gone")

    assert chunks_finished_probe({"ti": SimpleNamespace(get_ti_count=broken)}, "d", "r", 1)() is False
    assert chunks_finished_probe({}, "d", "r", 1)() is False


def test_the_watch_counts_the_chunks_plan_made_not_the_specs_own_split(tmp_path: Path) -> None:
    """`plan` sizes chunks for the executor (plan.json); the watch stops when that many files exist, even
    though the spec alone (no executor known) would split the grid differently."""
    config = validation_sweep("watch_plan", side=4)  # 16 points, no points_per_task
    store = open_results_store(str(tmp_path))
    returns = np.random.default_rng(7).normal(0, 0.01, size=(config.grid_size, BARS))
    plan = {"chunks": [[0, 4], [4, 4], [8, 4], [12, 4]], "space_filling": False}
    store.put_json(ec.plan_key(config.dag_id, "r"), plan)
    assert len(config.chunks()) != 4
    write_run(store, config, "r", returns, business_days(BARS), chunk=4)
    sleeps: list[float] = []
    done = watch(store, config, "r", sleep=sleeps.append, clock=lambda: 0.0, poll_s=5)
    assert done == {"reports": 0, "returns_files": 4, "chunks": 4} and sleeps == []


def test_no_partial_report_when_the_run_is_about_to_end(tmp_path: Path) -> None:
    """The chunks' progress says 15 of 16 points are done a moment after they started: a report now
    would still run when the last chunk lands and only hold up summarize, so the watch skips it. With 1
    of 16 done, the run has far to go: it reports."""
    reports = {}
    for done in (15, 1):
        config, store, returns = setup(tmp_path / str(done))
        record = {"start": 0, "count": 16, "done": done, "ranges": [[0, done]], "failed": []}
        store.put_json(ec.progress_key(config.dag_id, "r", 0), record)
        chunks = Chunks(config, store, returns)
        write_run(store, config, "r", returns[:4], business_days(BARS), chunk=4)
        chunks.written = 1
        quick = {"check_s": 0.01, "poll_s": 0.0, "report_share": 1.0}
        reports[done] = watch(store, config, "r", sleep=chunks.sleep, clock=chunks.clock, **quick)["reports"]
    assert reports[15] == 0 and reports[1] >= 1
