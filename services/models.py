"""Models the services return to the pages: deploy progress, sweep status, checks, registry records."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Protocol

from pydantic import BaseModel, BeforeValidator, Field, field_serializer, field_validator

from airflow_backtest_framework.config import SweepConfig
from airflow_backtest_framework.validation_report import ValidationReport
from services.airflow.models import RunStateField, TaskState


class StepState(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    SKIPPED = "skipped"
    FAILED = "failed"


class DeployStep(BaseModel):
    """One named step of a deployment, as a UI draws it in a checklist."""

    key: str
    label: str
    state: StepState = StepState.PENDING
    detail: str = ""


DEPLOY_STEPS: tuple[tuple[str, str], ...] = (
    ("render", "Render DAG file, check the id is free"),
    ("framework", "Upload framework"),
    ("dag", "Upload DAG file"),
    ("register", "Wait for Airflow to register the DAG"),
    ("unpause", "Unpause DAG"),
)


class DeployProgress(BaseModel):
    """The state of a deployment after each step; `fraction` is 0..1 for a progress bar."""

    dag_id: str
    steps: list[DeployStep] = Field(
        default_factory=lambda: [DeployStep(key=key, label=label) for key, label in DEPLOY_STEPS]
    )
    finished: bool = False
    ok: bool = False
    error: str | None = None
    error_detail: str | None = None  # e.g. Airflow's import error, local paths removed
    uploaded: list[str] = Field(default_factory=list)

    @property
    def fraction(self) -> float:
        finished = sum(step.state in (StepState.DONE, StepState.SKIPPED) for step in self.steps)
        return finished / len(self.steps)

    def step(self, key: str) -> DeployStep:
        return next(step for step in self.steps if step.key == key)


class PointState(StrEnum):
    """Where one grid point stands; the order is the legend's order everywhere."""

    DONE = "done"
    RUNNING = "running"
    QUEUED = "queued"
    FAILED = "failed"
    NOT_STARTED = "not_started"


def point_state_runs(states: list[PointState]) -> list[tuple[str, int]]:
    """Run-length form of per-point states, `[("done", 120), ("running", 8), ...]`: a sweep's points
    change state chunk by chunk, so 100,000 points take a few runs instead of 100,000 strings."""
    runs: list[tuple[str, int]] = []
    for state in states:
        if runs and runs[-1][0] == state:
            runs[-1] = (runs[-1][0], runs[-1][1] + 1)
        else:
            runs.append((PointState(state).value, 1))
    return runs


def states_of_runs(runs: list) -> list[PointState]:
    """The per-point states of `point_state_runs`' output."""
    states: list[PointState] = []
    for state, count in runs:
        states.extend([PointState(state)] * int(count))
    return states


class PointResultSummary(BaseModel):
    index: int
    params: dict[str, int | float]
    metrics: dict[str, float]


class CompletionSummary(BaseModel):
    points_done: int
    points_failed: int
    best: list[PointResultSummary] = Field(default_factory=list)


def _merge_task_counts(value: Any) -> Any:
    """Counts keyed by Airflow's strings or TaskStates, keyed by TaskState; two strings this code does
    not know both become UNKNOWN, so their counts add up instead of one replacing the other."""
    if not isinstance(value, Mapping):
        return value
    merged: dict[TaskState, int] = {}
    for state, count in value.items():
        key = TaskState.parse(state)
        merged[key] = merged.get(key, 0) + int(count)
    return merged


TaskCounts = Annotated[dict[TaskState, int], BeforeValidator(_merge_task_counts)]


class RunSummary(BaseModel):
    """A DAG run of a sweep, as listed on the Monitor and history pages."""

    run_id: str
    state: RunStateField
    logical_date: datetime | None = None
    start_date: datetime | None = None
    end_date: datetime | None = None


class ProgressSample(BaseModel):
    """Points done by a moment of a run (the wall's HistoryPoint has the same fields)."""

    at: datetime
    done: int


class RunProgress(BaseModel):
    """One run's points done over time, for comparing the runs of a sweep."""

    run: RunSummary
    points_total: int
    progress: list[ProgressSample] = Field(default_factory=list)


class SweepStatus(BaseModel):
    """One sweep's live status: run, task-state counts, per-point coverage, timing, summary.

    In JSON (the shared cache, a page's store) `point_states` travels run-length encoded.

    `progress` is the run's points done over time, from its finished chunk tasks (services.progress).
    """

    dag_id: str
    run: RunSummary | None = None
    is_paused: bool | None = None
    task_counts: TaskCounts = Field(default_factory=dict)
    points_total: int = 0
    point_states: list[PointState] = Field(default_factory=list)
    elapsed_s: float | None = None
    eta_s: float | None = None
    summary: CompletionSummary | None = None
    progress: list[ProgressSample] = Field(default_factory=list)
    fetched_at: datetime
    stale: bool = False
    stale_reason: str | None = None

    @field_serializer("point_states", when_used="json")
    def _point_states_as_runs(self, states: list[PointState]) -> list[tuple[str, int]]:
        return point_state_runs(states)

    @field_validator("point_states", mode="before")
    @classmethod
    def _point_states_from_runs(cls, value: object) -> object:
        if isinstance(value, list) and value and isinstance(value[0], list | tuple):
            return states_of_runs(value)
        return value

    def point_counts(self) -> dict[PointState, int]:
        counts = dict.fromkeys(PointState, 0)
        for state in self.point_states:
            counts[state] += 1
        return counts

    @property
    def coverage(self) -> float:
        if not self.points_total:
            return 0.0
        return self.point_counts()[PointState.DONE] / self.points_total


class CheckResult(BaseModel):
    """One connection or preflight check: what was checked, ok or not, and the fix to try."""

    key: str
    label: str
    resource: str = ""
    ok: bool
    detail: str = ""
    fix: str = ""
    warning: bool = (
        False  # passed, but with something to read first (the detail says what, the fix what to do)
    )


FIRST_VERSION = 1
NEW_SWEEP = 0  # the version a form edits when it did not load the sweep: the name must be free


class SweepRecord(BaseModel):
    """A saved sweep in the registry, with the history of what was done with it."""

    config: SweepConfig
    created_at: datetime
    updated_at: datetime
    deployed_hash: str | None = None
    deployed_at: datetime | None = None
    run_ids: list[str] = Field(default_factory=list)
    # Counts the saves of the spec (deploys and runs do not change it); a record written before
    # versions existed reads as version 1, so 0 can mean "a sweep not saved yet".
    version: int = Field(default=FIRST_VERSION, ge=FIRST_VERSION)
    updated_by: str = ""  # who saved the spec last (the sign-in user, or the spec's owner without sign-in)

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def may_have_runs(self) -> bool:
        """Runs this app triggered, or deployed (runs may come from Airflow's UI, REST API or a schedule)."""
        return bool(self.run_ids) or self.deployed_hash is not None

    @property
    def deployed(self) -> str:
        """ "no", "yes" (the saved spec is the deployed one) or "older spec" (saved since the deploy)."""
        if self.deployed_hash is None:
            return "no"
        return "yes" if self.deployed_hash == self.config.spec_hash else "older spec"


RETURNS_SOURCE = "returns"  # an EquityCurve compounded from the point's daily returns file, every bar
EQUITY_FILE_SOURCE = "equity"  # ... read from `equity/<index>.json`: down-sampled, in capital units


class SweepDag(Protocol):
    """A saved sweep as far as its runs go: its name and its DAG (a SweepConfig, or a SweepSummary)."""

    @property
    def name(self) -> str: ...

    @property
    def dag_id(self) -> str: ...


class SweepSummary(BaseModel):
    """What the Sweeps page's grid shows of a saved sweep, kept beside its record: listing thousands of
    sweeps reads these, not every full spec."""

    name: str
    dag_id: str
    strategy: str
    owner: str
    grid_size: int
    description: str = ""
    created_at: datetime
    updated_at: datetime
    deployed: str  # SweepRecord.deployed
    deployed_at: datetime | None = None
    runs: int = 0
    last_run_id: str = ""

    @property
    def may_have_runs(self) -> bool:
        """Runs this app triggered, or deployed (runs may come from Airflow's UI, REST API or a schedule)."""
        return self.runs > 0 or self.deployed_at is not None

    @classmethod
    def of(cls, record: SweepRecord) -> SweepSummary:
        config = record.config
        return cls(
            name=record.name,
            dag_id=config.dag_id,
            strategy=config.strategy,
            owner=config.owner,
            grid_size=config.grid_size,
            description=config.description,
            created_at=record.created_at,
            updated_at=record.updated_at,
            deployed=record.deployed,
            deployed_at=record.deployed_at,
            runs=len(record.run_ids),
            last_run_id=record.run_ids[0] if record.run_ids else "",
        )


class EquityCurve(BaseModel):
    """One grid point's equity curve: growth of 1 from its daily returns file (every bar), or the engine's
    down-sampled `equity/<index>.json` for runs written before returns files (`source` says which)."""

    index: int
    dates: list[str]
    equity: list[float]
    source: str = EQUITY_FILE_SOURCE


class ValidationRead(BaseModel):
    """A run's sweep validation report (`validation.json`), or None and why it cannot be shown."""

    report: ValidationReport | None = None
    reason: str = ""  # why `report` is None, in words a researcher reads


class CancelResult(BaseModel):
    """The outcome of a cancel: the run as Airflow now reports it, and the Batch jobs asked to stop."""

    run: RunSummary
    terminated_jobs: list[str] = Field(default_factory=list)
    already_finished: bool = False  # the run ended before the cancel: it was left as it was
