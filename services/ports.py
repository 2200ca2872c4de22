"""The ports: every call the pages and the use cases make, as Protocols, and the Services they form."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import pandas as pd

from airflow_backtest_framework.config import SweepConfig
from services.models import (
    CancelResult,
    CheckResult,
    DeployProgress,
    EquityCurve,
    RunProgress,
    RunSummary,
    SweepDag,
    SweepRecord,
    SweepStatus,
    SweepSummary,
    ValidationRead,
)
from services.records import DamagedRecord
from services.settings import Settings

if TYPE_CHECKING:
    from services.audit import AuditEvent, AuditPage, AuditQuery
    from services.auth import Principal
    from services.aws.batch import BatchJob
    from services.deploy_records import DeployRecord
    from services.kiosk import KioskLink
    from services.pending import PendingAction, PendingKind
    from services.wall import WallFilter, WallTile, WallView

ProgressCallback = Callable[[DeployProgress], None]
CancelCheck = Callable[[], bool]
AirflowLinks = Callable[[str, str | None], str]


class SweepStore(Protocol):
    """The saved sweeps and what was done with them (the registry)."""

    def get(self, name: str) -> SweepRecord:
        """The record; NotFound when there is none."""

    def find(self, name: str) -> SweepRecord | None: ...

    def list(self) -> list[SweepRecord]:
        """Every readable saved sweep, newest change first."""

    def summaries(self) -> list[SweepSummary]:
        """What the Sweeps grid shows of every readable saved sweep, newest change first (cheap: the
        database keeps each summary beside its record)."""

    def names(self) -> set[str]:
        """Every saved name, readable or damaged (cheap: no record is read)."""

    def damaged(self) -> list[DamagedRecord]:
        """The saved sweeps whose record cannot be read (each can be deleted, or restored if it has a
        previous version)."""

    def save(
        self, config: SweepConfig, *, expected_version: int | None = None, by: str | None = None
    ) -> SweepRecord:
        """Save the spec if the stored version is still `expected_version` (NEW_SWEEP: the name is free;
        None: unchecked); SaveConflict, DamagedRecordError or DiskFull otherwise, nothing changed."""

    def restore_previous(self, name: str) -> SweepRecord:
        """Put a (damaged) record's previous version back; NotFound when there is none."""

    def record_deploy(self, name: str, spec_hash: str) -> SweepRecord: ...

    def record_run(self, name: str, run_id: str) -> SweepRecord: ...

    def delete(self, name: str) -> None: ...


class Deployer(Protocol):
    """Puts a sweep's DAG where Airflow reads it and gets it registered and unpaused."""

    @property
    def max_name_chars(self) -> int | None:
        """The longest sweep name whose runs can still be cancelled through the API (None: no limit)."""

    def preflight(self, config: SweepConfig) -> list[CheckResult]:
        """Checks to pass before deploying: Airflow reachable, dags location writable, id free, grid ok."""

    def deploy(
        self, config: SweepConfig, on_progress: ProgressCallback | None, cancelled: CancelCheck | None
    ) -> DeployProgress:
        """Render, upload, wait for registration, unpause; progress reported after every step."""


class Runs(Protocol):
    """Runs of deployed sweeps in Airflow (and their AWS Batch jobs in AWS mode)."""

    def trigger(self, config: SweepConfig) -> RunSummary:
        """Start a DAG run of a deployed sweep; errors say when the DAG is missing or paused."""

    def list_runs(self, config: SweepConfig, limit: int) -> list[RunSummary]:
        """The sweep's runs, newest first."""

    def latest_runs(self, configs: Sequence[SweepDag]) -> dict[str, RunSummary]:
        """The newest run of each sweep, by name; sweeps never run are absent."""

    def retry_failed(self, config: SweepConfig, run_id: str) -> list[int]:
        """Clear only the run's failed chunks (and its summary); the cleared map indices."""

    def cancel(self, config: SweepConfig, run_id: str) -> CancelResult:
        """Mark the run failed and stop its unfinished work."""


class Monitor(Protocol):
    """Live status of sweeps, cached so that many viewers cost one upstream poll."""

    @property
    def batch_enabled(self) -> bool:
        """Whether the sweeps' chunks run as AWS Batch jobs (the Monitor page lists them)."""

    def status(self, config: SweepConfig, run_id: str | None = None) -> SweepStatus:
        """One sweep's status (the latest run when run_id is None); stale, never raising, on outages."""

    def run_progress(self, config: SweepConfig, limit: int) -> list[RunProgress]:
        """The newest runs' points done over time, newest first; raises BacktestError on outages."""

    def batch_jobs(self, config: SweepConfig, run_id: str) -> list[BatchJob]:
        """The run's AWS Batch jobs (cached); [] where there is no Batch; raises BacktestError."""


class Results(Protocol):
    """What the engine wrote for a run: one result per finished point, equity curves, summaries."""

    def done_indices(self, dag_id: str, run_id: str) -> set[int]:
        """Grid indices that have a result file (one listing)."""

    def table(self, config: SweepConfig, run_id: str, done: set[int] | None = None) -> pd.DataFrame:
        """One row per finished grid point: index, parameters, metrics (`done`: a listing just made)."""

    def summarized(self, config: SweepConfig, run_id: str) -> pd.DataFrame | None:
        """The run's table as its summarize task wrote it, or None before that."""

    def run_record(self, dag_id: str, run_id: str) -> dict | None:
        """One point's result file of the run (how it was computed), or None before any finished."""

    def equity(self, dag_id: str, run_id: str, index: int) -> EquityCurve | None:
        """One point's equity curve, or None when the engine wrote none."""

    def validation(self, dag_id: str, run_id: str) -> ValidationRead:
        """The run's validation report; absent or damaged is a report of None with the reason."""


class ResultsTables(Protocol):
    """Results tables kept per process, re-read only when a run wrote new points."""

    def table(self, config: SweepConfig, run_id: str, rows: int | None = None) -> pd.DataFrame: ...

    def validation(self, config: SweepConfig, run_id: str, rows: int | None = None) -> ValidationRead:
        """The run's validation report, re-read when the run has more points than `rows` said."""


class Wall(Protocol):
    """The tiles of the monitoring wall."""

    def board(self, wall_filter: WallFilter | None = None, *, period_s: float) -> list[WallTile]: ...

    def view(self, wall_filter: WallFilter | None = None, *, period_s: float) -> WallView:
        """The board's tiles and the outage behind its stale ones (when Airflow does not answer)."""


class Connections(Protocol):
    def check_all(self) -> list[CheckResult]:
        """Every connection check of the current mode."""


class ConnectionStatus(Protocol):
    """The connection checks, reused for a while (the navbar badge asks on every page)."""

    def checks(self, max_age_s: float, force: bool = False) -> tuple[float, list[CheckResult]]:
        """(checked_at epoch seconds, results), at most `max_age_s` old unless `force`."""


class Flags(Protocol):
    """Short-lived flags every worker process sees."""

    def set(self, key: str) -> None: ...

    def has(self, key: str) -> bool: ...


class SweepActions(Protocol):
    """The use cases: one call per user action, by sweep name, bookkeeping and authorisation included
    (Forbidden when the acting user may not act on the sweep)."""

    def check(self, principal: Principal | None, name: str, what: str) -> None: ...

    def save(
        self, principal: Principal | None, config: SweepConfig, *, expected_version: int | None = None
    ) -> tuple[SweepRecord, bool]:
        """Save the spec as the acting user's, from the version it was edited from; (record, existed)."""

    def preflight(self, name: str) -> list[CheckResult]: ...

    def deploy(
        self,
        principal: Principal | None,
        name: str,
        on_progress: ProgressCallback | None = None,
        cancelled: CancelCheck | None = None,
    ) -> DeployProgress:
        """Deploy the saved sweep; recorded as deployed when it succeeded."""

    def trigger(self, principal: Principal | None, name: str) -> RunSummary:
        """Start a run of the saved sweep and record its id."""

    def retry_failed(self, principal: Principal | None, name: str, run_id: str) -> list[int]: ...

    def cancel(self, principal: Principal | None, name: str, run_id: str) -> CancelResult: ...

    def cancel_deploy(self, principal: Principal | None, name: str) -> None:
        """Record the sweep's running deployment as cancelled."""

    def last_deploy(self, name: str) -> DeployRecord | None:
        """The sweep's last deployment, from any page load on any host."""


class PendingConfirmations(Protocol):
    """Confirmation dialogs' pending actions, kept on the server and looked up by token."""

    def create(self, principal: Principal, action: PendingKind, name: str, run_id: str = "") -> str: ...

    def take(self, principal: Principal, token: object) -> PendingAction: ...


class AuditTrail(Protocol):
    """Who did what to which sweep or run, from where, and how it went; events are only ever added."""

    def record(self, event: AuditEvent) -> None:
        """Add an event (a database that does not answer is logged, not raised)."""

    def history(self, sweep: str, limit: int = ...) -> list[AuditEvent]:
        """The sweep's newest events, newest first."""

    def search(self, principal: Principal | None, query: AuditQuery) -> AuditPage:
        """One page of matching events, newest first; Forbidden unless `principal` is an admin."""

    def export_csv(self, principal: Principal | None, query: AuditQuery) -> str:
        """The matching events as CSV; Forbidden unless `principal` is an admin."""


class KioskStore(Protocol):
    """Revocable read-only links to the wall."""

    def create(
        self, principal: Principal | None, label: str = "", **wall_filter: str | None
    ) -> KioskLink: ...

    def revoke(self, principal: Principal | None, token: str) -> None: ...

    def list(self, principal: Principal | None) -> list[KioskLink]: ...

    def find(self, token: object) -> KioskLink | None: ...


class ReadinessCheck(Protocol):
    """/readyz: whether each component this instance needs is reachable now."""

    def check(self) -> dict[str, bool]:
        """{component name: reachable} (database, cache, airflow); never raises."""


@dataclass(frozen=True)
class Services:
    """Everything the pages call, built once per process by `services.bootstrap.build_services`."""

    settings: Settings
    registry: SweepStore
    deployer: Deployer
    runs: Runs
    monitor: Monitor
    results: Results
    results_tables: ResultsTables
    wall: Wall
    connections: Connections
    connection_status: ConnectionStatus
    flags: Flags
    actions: SweepActions
    airflow_ui_url: AirflowLinks
    pending: PendingConfirmations
    kiosk: KioskStore
    audit: AuditTrail
    readiness: ReadinessCheck
