"""The composition root: `build_services(settings)` picks the adapters the pages will use."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import pandas as pd

from airflow_backtest_framework.config import SweepConfig
from services.models import CheckResult, DeployProgress, RunProgress, RunSummary, SweepStatus
from services.registry import SweepRegistry
from services.settings import Settings

if TYPE_CHECKING:
    from services.aws.batch import BatchJob, BatchJobsService
    from services.sweep_actions import SweepActions

ProgressCallback = Callable[[DeployProgress], None]
CancelCheck = Callable[[], bool]


class Deployer(Protocol):
    def preflight(self, config: SweepConfig) -> list[CheckResult]:
        """Checks to pass before deploying: Airflow reachable, dags location writable, id free, grid ok."""

    def deploy(
        self,
        config: SweepConfig,
        on_progress: ProgressCallback | None = None,
        cancelled: CancelCheck | None = None,
    ) -> DeployProgress:
        """Render, upload, wait for registration, unpause; progress reported after every step."""


class Runs(Protocol):
    def trigger(self, config: SweepConfig) -> RunSummary:
        """Start a DAG run of a deployed sweep; errors say when the DAG is missing or paused."""

    def list_runs(self, config: SweepConfig, limit: int = 20) -> list[RunSummary]:
        """The sweep's runs, newest first."""

    def latest_runs(self, configs: Sequence[SweepConfig]) -> dict[str, RunSummary]:
        """The newest run of each sweep, by name; sweeps never run are absent."""


class Monitor(Protocol):
    def status(self, config: SweepConfig, run_id: str | None = None) -> SweepStatus:
        """One sweep's status (the latest run when run_id is None); stale, never raising, on outages."""

    def run_progress(self, config: SweepConfig, limit: int) -> list[RunProgress]:
        """The newest runs' points done over time, newest first; raises BacktestError on outages."""

    def batch_jobs(self, config: SweepConfig, run_id: str) -> list[BatchJob]:
        """The run's AWS Batch jobs (cached); [] where there is no Batch; raises BacktestError."""


class Results(Protocol):
    def table(self, config: SweepConfig, run_id: str) -> pd.DataFrame:
        """One row per finished grid point: index, parameters, metrics."""


class Connections(Protocol):
    def check_all(self) -> list[CheckResult]:
        """Every connection check of the current mode."""


@dataclass(frozen=True)
class Services:
    """Everything the pages call, built once per process."""

    settings: Settings
    registry: SweepRegistry
    deployer: Deployer
    runs: Runs
    monitor: Monitor
    results: Results
    connections: Connections
    airflow_ui_url: Callable[[str, str | None], str]
    batch: BatchJobsService | None = None  # AWS mode: the sweep runs' Batch jobs (Monitor page)
    actions: SweepActions | None = None  # re-trigger, retry failed points, cancel (Sweeps page)


def build_services(settings: Settings) -> Services:
    """Pick the adapters for the settings' mode; nothing is contacted here."""
    from services.wiring import wire

    return wire(settings)
