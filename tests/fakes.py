"""Fake services recording state in a folder (a forked background job shares it), and a real registry."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from datetime import UTC, datetime, timedelta
from pathlib import Path

from airflow_backtest_framework.config import SweepConfig
from services.airflow.models import RunState
from services.bootstrap import compose, shared_cache
from services.database import Database, database_url
from services.errors import DeployRefused, NotFound, Unavailable
from services.health import cache_ping
from services.models import (
    CancelResult,
    CheckResult,
    DeployProgress,
    RunSummary,
    StepState,
)
from services.ports import AuditTrail, Services
from services.registry import SweepRegistry
from services.settings import Settings
from tests.support.fake_sweep_progress import FakeMonitor, FakeResults


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

    def fail_chunks(self, config: SweepConfig, run_id: str, chunks: list[int]) -> None:
        """Make `retry_failed` find these failed chunks (map indices) in the run."""
        self.state.update(lambda d: d.setdefault("failed_chunks", {}).__setitem__(run_id, chunks))

    def retry_failed(self, config: SweepConfig, run_id: str) -> list[int]:
        """The run's failed chunks, cleared (they are no longer failed)."""
        self._run(config, run_id)
        failed = self.state.read().get("failed_chunks", {}).get(run_id, [])
        self.state.update(lambda d: d.setdefault("failed_chunks", {}).pop(run_id, None))
        return failed

    def cancel(self, config: SweepConfig, run_id: str) -> CancelResult:
        """An unfinished run is marked failed (and stays so); a finished one is left as it is."""
        run = self._run(config, run_id)
        if run.state.finished:
            return CancelResult(run=run, already_finished=True)

        def mark(data: dict) -> None:
            for raw in data["runs"][config.dag_id]:
                if raw["run_id"] == run_id:
                    raw["cancelled"] = True

        self.state.update(mark)
        return CancelResult(run=run.model_copy(update={"state": RunState.FAILED}))

    def _run(self, config: SweepConfig, run_id: str) -> RunSummary:
        run = next((r for r in self.list_runs(config, limit=10_000) if r.run_id == run_id), None)
        if run is None:
            raise NotFound(f"{config.dag_id} has no run {run_id}")
        return run

    def seconds_of(self, config: SweepConfig, run_id: str) -> float:
        """How long a run takes: its own `run_seconds` when a test gave it one, else the default."""
        return next(
            (seconds for run, seconds in self._runs(config) if run.run_id == run_id), self.run_seconds
        )

    def _runs(self, config: SweepConfig) -> list[tuple[RunSummary, float]]:
        raw = self.state.read().get("runs", {}).get(config.dag_id, [])
        return [
            (
                RunSummary.model_validate(r | ({"state": RunState.FAILED} if r.get("cancelled") else {})),
                float(r.get("run_seconds", self.run_seconds)),
            )
            for r in raw
        ]

    def latest_runs(self, configs: Sequence[SweepConfig]) -> dict[str, RunSummary]:
        return {config.name: runs[0] for config in configs if (runs := self.list_runs(config, limit=1))}

    @staticmethod
    def _aged(run: RunSummary, seconds: float) -> RunSummary:
        """A run is running once started, and succeeds `seconds` after its start (unless cancelled)."""
        if run.state is RunState.FAILED:
            return run
        elapsed = (datetime.now(UTC) - run.start_date).total_seconds() if run.start_date else 0.0
        if elapsed >= seconds:
            return run.model_copy(
                update={"state": RunState.SUCCESS, "end_date": run.start_date + timedelta(seconds=seconds)}
            )
        return run.model_copy(update={"state": RunState.RUNNING if elapsed > 0 else run.state})


class FakeConnections:
    def __init__(self) -> None:
        self.failing: dict[str, str] = {}  # check key -> detail, for checks that should fail
        self.calls = 0

    def ping(self) -> None:
        """/readyz's Airflow check: Unavailable while the fake Airflow API check is set failing."""
        if "airflow_api" in self.failing:
            raise Unavailable(f"Airflow API: {self.failing['airflow_api']}")

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
        cls,
        folder: Path,
        settings: Settings | None = None,
        step_delay_s: float = 0.0,
        audit: AuditTrail | None = None,
        **overrides,
    ) -> FakeServices:
        """Fakes in `folder`; `overrides` are Settings fields (e.g. max_grid_points) for default settings;
        the audit trail is the settings' database's (SQLite in `folder`) unless given."""
        settings = settings or Settings(app_data_dir=folder / "app", cache_dir=folder / "cache", **overrides)
        state = _State(folder / "fake-state.json")
        registry = SweepRegistry(folder / "registry", max_grid_points=settings.max_grid_points)
        deployer = FakeDeployer(state, step_delay_s=step_delay_s)
        runs = FakeRuns(state, deployer)
        monitor = FakeMonitor(runs)
        services_connections = FakeConnections()
        services = compose(
            settings,
            registry=registry,
            deployer=deployer,
            runs=runs,
            monitor=monitor,
            results=FakeResults(monitor, registry),
            connections=services_connections,
            airflow_ui_url=lambda dag_id, run_id=None: (
                f"http://fake-airflow/dags/{dag_id}" + (f"/runs/{run_id}" if run_id else "")
            ),
            audit=audit,
            readiness_checks={
                "database": Database(database_url(settings)).ping,
                "cache": cache_ping(shared_cache(settings)),
                "airflow": services_connections.ping,
            },
        )
        return cls(**{field.name: getattr(services, field.name) for field in fields(services)})


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
