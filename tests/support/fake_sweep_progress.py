"""What a fake sweep looks like a given share of the way through: point states (some failed), points
done over time, and made-up metrics per grid point; the fake monitor and results that show it."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import pandas as pd

from airflow_backtest_framework.config import SweepConfig
from services.airflow.models import RunState, TaskState
from services.errors import Unavailable
from services.models import (
    CompletionSummary,
    EquityCurve,
    PointResultSummary,
    PointState,
    ProgressSample,
    RunProgress,
    SweepStatus,
    ValidationRead,
)
from services.registry import SweepRegistry
from tests.support.fake_validation import fake_report

if TYPE_CHECKING:
    from tests.fakes import FakeRuns

FAILED_EVERY = 17  # every 17th finished point fails, so failures show up in every chart
RUNNING_SLOTS = 8
QUEUED_SLOTS = 8
PROGRESS_SAMPLES = 40  # samples of a fake run's points-done-over-time
FAILING_KEY = "monitor_failing"  # in the fake state: the reason Airflow does not answer


def point_states(total: int, fraction: float) -> list[PointState]:
    """A realistic mix for `fraction` of the run elapsed: done (some failed), running, queued, not started."""
    finished = min(total, math.floor(total * fraction))
    states = [PointState.FAILED if (i + 1) % FAILED_EVERY == 0 else PointState.DONE for i in range(finished)]
    running = min(RUNNING_SLOTS, total - len(states)) if fraction < 1 else 0
    states += [PointState.RUNNING] * running
    queued = min(QUEUED_SLOTS, total - len(states)) if fraction < 1 else 0
    states += [PointState.QUEUED] * queued
    states += [PointState.NOT_STARTED] * (total - len(states))
    return states


def done_count(total: int, fraction: float) -> int:
    """The DONE points of `point_states(total, fraction)`, without building the list."""
    finished = min(total, math.floor(total * fraction))
    return finished - finished // FAILED_EVERY


def fake_progress(start: datetime, elapsed_s: float, total: int, fraction: float) -> list[ProgressSample]:
    """Points done over the run so far, `fraction` reached after `elapsed_s` at an even pace."""
    steps = PROGRESS_SAMPLES if elapsed_s > 0 else 0
    return [
        ProgressSample(
            at=start + timedelta(seconds=elapsed_s * k / steps),
            done=done_count(total, fraction * k / steps),
        )
        for k in range(steps + 1)
    ]


def fake_sharpe(index: int) -> float:
    return round(1.5 * math.sin(index * 0.37) + 0.4, 3)


def fake_metrics(index: int) -> dict[str, float]:
    return {
        "sharpe": fake_sharpe(index),
        "total_return": round(0.2 * math.cos(index * 0.11), 4),
        "max_drawdown": round(-0.05 - 0.1 * abs(math.sin(index)), 4),
        "trades": float(40 + index % 23),
    }


class FakeMonitor:
    """A SweepStatus whose progress follows the time since the run started (or a fixed fraction)."""

    def __init__(self, runs: FakeRuns) -> None:
        self.runs = runs
        self.fraction: float | None = None  # fixed progress, for unit tests
        self.stale_reason: str | None = None

    batch = None  # a fake BatchJobsService, when a test plays AWS mode

    @property
    def batch_enabled(self) -> bool:
        return self.batch is not None

    def batch_jobs(self, config: SweepConfig, run_id: str) -> list:
        return self.batch.jobs_of_run(config.dag_id, run_id, job_name=config.dag_id) if self.batch else []

    def fail(self, reason: str) -> None:
        """Play an Airflow that does not answer, seen from a fresh cache (no last known status), in every
        process sharing the fake state: statuses come back stale with `reason` and no run."""
        self.runs.state.update(lambda data: data.__setitem__(FAILING_KEY, reason))

    def recover(self) -> None:
        self.runs.state.update(lambda data: data.pop(FAILING_KEY, None))

    def status(self, config: SweepConfig, run_id: str | None = None) -> SweepStatus:
        now = datetime.now(UTC)
        failing = self.runs.state.read().get(FAILING_KEY)
        if failing is not None:  # as MonitorService answers an outage it has no last status for
            return SweepStatus(
                dag_id=config.dag_id,
                points_total=config.grid_size,
                point_states=[PointState.NOT_STARTED] * config.grid_size,
                fetched_at=now,
                stale=True,
                stale_reason=failing,
            )
        runs = self.runs.list_runs(config)
        run = next((r for r in runs if r.run_id == run_id), None) if run_id else (runs[0] if runs else None)
        if run is None:
            return SweepStatus(
                dag_id=config.dag_id, points_total=config.grid_size, fetched_at=now, is_paused=False
            )
        elapsed = (now - run.start_date).total_seconds() if run.start_date else 0.0
        seconds = self.runs.seconds_of(config, run.run_id)
        fraction = self.fraction if self.fraction is not None else min(1.0, elapsed / seconds)
        states = point_states(config.grid_size, fraction)
        counts = {s: states.count(s) for s in PointState}
        finished = fraction >= 1
        run = run.model_copy(update={"state": RunState.SUCCESS if finished else RunState.RUNNING})
        elapsed = min(elapsed, seconds) if self.fraction is None else elapsed
        done_points = [i for i, s in enumerate(states) if s == PointState.DONE]
        start = run.start_date
        progress = fake_progress(start, elapsed, config.grid_size, fraction) if start else []
        return SweepStatus(
            dag_id=config.dag_id,
            run=run,
            is_paused=False,
            task_counts=self._task_counts(config, states),
            points_total=config.grid_size,
            point_states=states,
            elapsed_s=elapsed,
            eta_s=None if finished or fraction == 0 else elapsed * (1 - fraction) / fraction,
            summary=self._summary(config, done_points, counts[PointState.FAILED]) if finished else None,
            progress=progress,
            fetched_at=now,
            stale=self.stale_reason is not None,
            stale_reason=self.stale_reason,
        )

    def run_progress(self, config: SweepConfig, limit: int) -> list[RunProgress]:
        failing = self.runs.state.read().get(FAILING_KEY)
        if failing is not None:
            raise Unavailable(failing)
        compared = []
        for run in self.runs.list_runs(config, limit=limit):
            status = self.status(config, run.run_id)
            compared.append(RunProgress(run=run, points_total=status.points_total, progress=status.progress))
        return compared

    @staticmethod
    def _task_counts(config: SweepConfig, states: list[PointState]) -> dict[TaskState, int]:
        counts = dict.fromkeys(
            (TaskState.SUCCESS, TaskState.RUNNING, TaskState.QUEUED, TaskState.FAILED, TaskState.NONE), 0
        )
        for start, count in config.chunks():
            chunk = set(states[start : start + count])
            if PointState.FAILED in chunk:
                counts[TaskState.FAILED] += 1
            elif chunk <= {PointState.DONE}:
                counts[TaskState.SUCCESS] += 1
            elif PointState.RUNNING in chunk or PointState.DONE in chunk:
                counts[TaskState.RUNNING] += 1
            elif PointState.QUEUED in chunk:
                counts[TaskState.QUEUED] += 1
            else:
                counts[TaskState.NONE] += 1
        counts[TaskState.SUCCESS] += 1  # the `plan` task
        return {state: count for state, count in counts.items() if count}

    @staticmethod
    def _summary(config: SweepConfig, done: list[int], failed: int) -> CompletionSummary:
        best = sorted(done, key=lambda i: -fake_sharpe(i))[:5]
        return CompletionSummary(
            points_done=len(done),
            points_failed=failed,
            best=[PointResultSummary(index=i, params=config.point(i), metrics=fake_metrics(i)) for i in best],
        )


class FakeResults:
    """Results of the fake monitor's done points, with deterministic metrics."""

    def __init__(self, monitor: FakeMonitor, registry: SweepRegistry) -> None:
        self.monitor = monitor
        self.registry = registry

    def equity(self, dag_id: str, run_id: str, index: int) -> EquityCurve:
        """A deterministic year of weekly equity, drifting with the point's Sharpe."""
        drift = fake_sharpe(index) / 100
        days = pd.date_range("2024-01-05", periods=52, freq="W-FRI")
        values = [round(1 + drift * week + 0.02 * math.sin(week / 3), 4) for week in range(len(days))]
        dates = [str(d.date()) for d in days]
        return EquityCurve(index=index, dates=dates, equity=values, source="returns")  # as a current run

    def run_record(self, dag_id: str, run_id: str) -> dict | None:
        """What the engine records of how the run was computed, from the spec as the engine applies it."""
        config = next(r.config for r in self.registry.list() if r.config.dag_id == dag_id)
        if not self.done_indices(dag_id, run_id):
            return None
        source = config.data_source or "synthetic"
        same_close = config.fill == "same_close"
        stops = "close" if same_close or source == "folder" else "intraday"  # the fake folder has closes only
        return {
            "data_source": source,
            "synthetic": source == "synthetic",
            "fill": config.fill,
            "optimistic": same_close,
            "stops": stops,
        }

    def done_indices(self, dag_id: str, run_id: str) -> set[int]:
        config = next(r.config for r in self.registry.list() if r.config.dag_id == dag_id)
        states = self.monitor.status(config, run_id).point_states
        return {i for i, state in enumerate(states) if state == PointState.DONE}

    def table(self, config: SweepConfig, run_id: str, done: set[int] | None = None) -> pd.DataFrame:
        done = self.done_indices(config.dag_id, run_id) if done is None else done
        return pd.DataFrame([{"index": i, **config.point(i), **fake_metrics(i)} for i in sorted(done)])

    def summarized(self, config: SweepConfig, run_id: str) -> pd.DataFrame | None:
        return None  # the fake sweep has no summarize task

    def validation(self, dag_id: str, run_id: str) -> ValidationRead:
        """The fake report of the points done so far (tests/support/fake_validation.py)."""
        config = next(r.config for r in self.registry.list() if r.config.dag_id == dag_id)
        states = self.monitor.status(config, run_id).point_states
        done = [i for i, state in enumerate(states) if state == PointState.DONE]
        final = all(state in (PointState.DONE, PointState.FAILED) for state in states)
        return ValidationRead(report=fake_report(config, done, final=final))
