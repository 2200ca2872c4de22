"""Fake services recording state in a folder (a forked background job shares it), and a real registry."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd

from airflow_backtest_framework.config import SweepConfig
from services.airflow.models import RunState, TaskState
from services.bootstrap import Services
from services.errors import DeployRefused, NotFound
from services.models import (
    CheckResult,
    CompletionSummary,
    DeployProgress,
    EquityCurve,
    PointResultSummary,
    PointState,
    RunProgress,
    RunSummary,
    StepState,
    SweepStatus,
)
from services.registry import SweepRegistry
from services.settings import Settings
from tests.support.fake_sweep_progress import fake_metrics, fake_progress, fake_sharpe, point_states


class _State:
    """A JSON file of fake state shared by processes (the app and its background-callback children)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)

    def read(self) -> dict:
        try:
            return json.loads(self.path.read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return {}

    def update(self, change: Callable[[dict], None]) -> dict:
        data = self.read()
        change(data)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data))
        tmp.replace(self.path)
        return data


class FakeDeployer:
    """Walks the real deploy steps, reporting each; records deployed spec hashes."""

    def __init__(self, state: _State, step_delay_s: float = 0.0) -> None:
        self.state = state
        self.step_delay_s = step_delay_s
        self.import_error: str | None = None  # set to make the 'register' step fail with this message
        self.refuse: str | None = None  # set to make deploy raise DeployRefused
        self.max_name_chars: int | None = None  # as DeployService's: set to play MWAA's path limit

    def deployed_hash(self, dag_id: str) -> str | None:
        return self.state.read().get("deployed", {}).get(dag_id)

    def preflight(self, config: SweepConfig) -> list[CheckResult]:
        return [
            CheckResult(
                key="airflow", label="Airflow API reachable", resource="http://fake-airflow", ok=True
            ),
            CheckResult(key="dags", label="DAG folder writable", resource="/fake/dags", ok=True),
            CheckResult(
                key="dag_id",
                label="DAG id free or ours",
                resource=config.dag_id,
                ok=self.refuse is None,
                detail=self.refuse or "",
                fix="choose another sweep name" if self.refuse else "",
            ),
        ]

    def deploy(self, config: SweepConfig, on_progress=None, cancelled=None) -> DeployProgress:
        if self.refuse:
            raise DeployRefused(self.refuse)
        progress = DeployProgress(dag_id=config.dag_id)
        unchanged = self.deployed_hash(config.dag_id) == config.spec_hash
        for step in progress.steps:
            if cancelled is not None and cancelled():
                progress.finished, progress.error = True, "cancelled"
                return progress
            step.state = StepState.RUNNING
            if on_progress:
                on_progress(progress.model_copy(deep=True))
            time.sleep(self.step_delay_s)
            if step.key == "register" and self.import_error:
                step.state, step.detail = StepState.FAILED, self.import_error
                progress.finished, progress.error = (
                    True,
                    f"Airflow cannot import {config.dag_id}.py: {self.import_error}",
                )
                if on_progress:
                    on_progress(progress.model_copy(deep=True))
                return progress
            skip = unchanged and step.key in ("framework", "dag")
            step.state = StepState.SKIPPED if skip else StepState.DONE
            step.detail = "unchanged" if skip else ""
        progress.finished, progress.ok = True, True
        progress.uploaded = [] if unchanged else [f"{config.dag_id}.py"]
        self.state.update(lambda d: d.setdefault("deployed", {}).__setitem__(config.dag_id, config.spec_hash))
        if on_progress:
            on_progress(progress.model_copy(deep=True))
        return progress


class FakeRuns:
    """Triggers runs of deployed sweeps; a run's start time drives the fake monitor's progress."""

    def __init__(self, state: _State, deployer: FakeDeployer, run_seconds: float = 90.0) -> None:
        self.state = state
        self.deployer = deployer
        self.run_seconds = run_seconds

    def trigger(self, config: SweepConfig) -> RunSummary:
        if self.deployer.deployed_hash(config.dag_id) is None:
            raise NotFound(f"DAG {config.dag_id} is not deployed")
        now = datetime.now(UTC)
        run = RunSummary(
            run_id=f"manual__{now.isoformat(timespec='seconds')}", state=RunState.QUEUED, start_date=now
        )
        self.state.update(
            lambda d: (
                d.setdefault("runs", {}).setdefault(config.dag_id, []).insert(0, run.model_dump(mode="json"))
            )
        )
        return run

    def list_runs(self, config: SweepConfig, limit: int = 20) -> list[RunSummary]:
        return [self._aged(run, seconds) for run, seconds in self._runs(config)[:limit]]

    def seconds_of(self, config: SweepConfig, run_id: str) -> float:
        """How long a run takes: its own `run_seconds` when a test gave it one, else the default."""
        return next(
            (seconds for run, seconds in self._runs(config) if run.run_id == run_id), self.run_seconds
        )

    def _runs(self, config: SweepConfig) -> list[tuple[RunSummary, float]]:
        raw = self.state.read().get("runs", {}).get(config.dag_id, [])
        return [(RunSummary.model_validate(r), float(r.get("run_seconds", self.run_seconds))) for r in raw]

    def latest_runs(self, configs: Sequence[SweepConfig]) -> dict[str, RunSummary]:
        return {config.name: runs[0] for config in configs if (runs := self.list_runs(config, limit=1))}

    @staticmethod
    def _aged(run: RunSummary, seconds: float) -> RunSummary:
        """A run is running once started, and succeeds `seconds` after its start."""
        elapsed = (datetime.now(UTC) - run.start_date).total_seconds() if run.start_date else 0.0
        if elapsed >= seconds:
            return run.model_copy(
                update={"state": RunState.SUCCESS, "end_date": run.start_date + timedelta(seconds=seconds)}
            )
        return run.model_copy(update={"state": RunState.RUNNING if elapsed > 0 else run.state})


class FakeMonitor:
    """A SweepStatus whose progress follows the time since the run started (or a fixed fraction)."""

    def __init__(self, runs: FakeRuns) -> None:
        self.runs = runs
        self.fraction: float | None = None  # fixed progress, for unit tests
        self.stale_reason: str | None = None

    batch = None  # a fake BatchJobsService, when a test plays AWS mode

    def batch_jobs(self, config: SweepConfig, run_id: str) -> list:
        return self.batch.jobs_of_run(config.dag_id, run_id, job_name=config.dag_id) if self.batch else []

    def status(self, config: SweepConfig, run_id: str | None = None) -> SweepStatus:
        now = datetime.now(UTC)
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
    def __init__(self, monitor: FakeMonitor) -> None:
        self.monitor = monitor

    def equity(self, dag_id: str, run_id: str, index: int) -> EquityCurve:
        """A deterministic year of weekly equity, drifting with the point's Sharpe."""
        drift = fake_sharpe(index) / 100
        days = pd.date_range("2024-01-05", periods=52, freq="W-FRI")
        values = [round(1 + drift * week + 0.02 * math.sin(week / 3), 4) for week in range(len(days))]
        return EquityCurve(index=index, dates=[str(d.date()) for d in days], equity=values)

    def table(self, config: SweepConfig, run_id: str) -> pd.DataFrame:
        status = self.monitor.status(config, run_id)
        rows = [
            {"index": i, **config.point(i), **fake_metrics(i)}
            for i, state in enumerate(status.point_states)
            if state == PointState.DONE
        ]
        return pd.DataFrame(rows)


class FakeConnections:
    def __init__(self) -> None:
        self.failing: dict[str, str] = {}  # check key -> detail, for checks that should fail
        self.calls = 0

    def check_all(self) -> list[CheckResult]:
        self.calls += 1
        checks = [
            (
                "airflow_api",
                "Airflow API",
                "http://127.0.0.1:8080/api/v2",
                "start it: scripts/local_airflow.py start",
            ),
            ("airflow_auth", "Airflow login", "admin", "check AIRFLOW_USERNAME / AIRFLOW_PASSWORD"),
            (
                "dags_folder",
                "DAG folder writable",
                "/fake/airflow/dags",
                "create the folder or fix its permissions",
            ),
            ("results", "Results readable", "/fake/results", "create RESULTS_ROOT"),
        ]
        return [
            CheckResult(
                key=key,
                label=label,
                resource=resource,
                ok=key not in self.failing,
                detail=self.failing.get(key, "ok"),
                fix=fix if key in self.failing else "",
            )
            for key, label, resource, fix in checks
        ]


@dataclass(frozen=True)
class FakeServices(Services):
    """Services with fakes behind every port and a real SweepRegistry in `folder`."""

    deployer: FakeDeployer
    runs: FakeRuns
    monitor: FakeMonitor
    results: FakeResults
    connections: FakeConnections

    @classmethod
    def create(
        cls, folder: Path, settings: Settings | None = None, step_delay_s: float = 0.0, **overrides
    ) -> FakeServices:
        """Fakes in `folder`; `overrides` are Settings fields (e.g. max_grid_points) for default settings."""
        settings = settings or Settings(app_data_dir=folder / "app", cache_dir=folder / "cache", **overrides)
        state = _State(folder / "fake-state.json")
        deployer = FakeDeployer(state, step_delay_s=step_delay_s)
        runs = FakeRuns(state, deployer)
        monitor = FakeMonitor(runs)
        return cls(
            settings=settings,
            registry=SweepRegistry(folder / "registry", max_grid_points=settings.max_grid_points),
            deployer=deployer,
            runs=runs,
            monitor=monitor,
            results=FakeResults(monitor),
            connections=FakeConnections(),
            airflow_ui_url=lambda dag_id, run_id=None: (
                f"http://fake-airflow/dags/{dag_id}" + (f"/runs/{run_id}" if run_id else "")
            ),
        )


_app: list = []


def use_fake_services(folder: Path, **options) -> FakeServices:
    """Point the app's callbacks at fresh fakes in `folder`; the Dash app (which registers the pages) is
    created once per process, since pages can only be imported after it."""
    from components import context

    services = FakeServices.create(folder, **options)
    if not _app:
        from app import create_app

        _app.append(create_app(services.settings, services))
    context.configure(services.settings, services)
    return services


def use_fake_services_with_a_run(folder: Path, name: str = "mr_spy") -> FakeServices:
    """use_fake_services, with one small sweep saved, deployed and triggered."""
    from tests.support.sweeps import small_sweep

    services = use_fake_services(folder)
    config = small_sweep(name=name)
    services.registry.save(config)
    services.deployer.deploy(config)
    services.registry.record_run(name, services.runs.trigger(config).run_id)
    return services
