"""Typed views of Airflow's REST answers: DAGs, runs, task instances, import errors, version, health."""

from __future__ import annotations

import logging
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

log = logging.getLogger(__name__)

UNMAPPED = -1  # Airflow's map_index of a task instance that is not mapped

E = TypeVar("E", bound=StrEnum)


def _parse_state(enum: type[E], value: object, none: E, unknown: E) -> E:
    """The one mapping from Airflow's state strings: None/"none" -> `none`, anything new -> `unknown`."""
    if isinstance(value, enum):
        return value
    if value is None or (isinstance(value, str) and value.strip().lower() in ("", "none", "null")):
        return none
    try:
        return enum(str(value).strip().lower())
    except ValueError:
        log.debug("unknown Airflow %s %r mapped to %s", enum.__name__, value, unknown)
        return unknown


class RunState(StrEnum):
    """A DAG run's state; NONE before Airflow gave one, UNKNOWN for a value this code does not know."""

    QUEUED = "queued"
    RUNNING = "running"
    SUCCESS = "success"
    FAILED = "failed"
    NONE = "none"
    UNKNOWN = "unknown"

    @classmethod
    def parse(cls, value: object) -> RunState:
        """Map Airflow's string (or None) to a RunState; never raises."""
        return _parse_state(cls, value, cls.NONE, cls.UNKNOWN)

    @property
    def finished(self) -> bool:
        return self in (RunState.SUCCESS, RunState.FAILED)

    @property
    def active(self) -> bool:
        """Queued or running: the run still has work ahead (NONE and UNKNOWN are not counted as active)."""
        return self in (RunState.QUEUED, RunState.RUNNING)


class TaskState(StrEnum):
    """A task instance's state; NONE = not started yet (Airflow's null), UNKNOWN = not known to this code."""

    NONE = "none"
    SCHEDULED = "scheduled"
    QUEUED = "queued"
    RUNNING = "running"
    SUCCESS = "success"
    FAILED = "failed"
    UP_FOR_RETRY = "up_for_retry"
    UP_FOR_RESCHEDULE = "up_for_reschedule"
    UPSTREAM_FAILED = "upstream_failed"
    SKIPPED = "skipped"
    REMOVED = "removed"
    RESTARTING = "restarting"
    DEFERRED = "deferred"
    AWAITING_INPUT = "awaiting_input"
    UNKNOWN = "unknown"

    @classmethod
    def parse(cls, value: object) -> TaskState:
        """Map Airflow's string (or None) to a TaskState; never raises."""
        return _parse_state(cls, value, cls.NONE, cls.UNKNOWN)

    @property
    def finished(self) -> bool:
        return self in _FINISHED_TASK_STATES

    @property
    def failed(self) -> bool:
        return self in (TaskState.FAILED, TaskState.UPSTREAM_FAILED)


_FINISHED_TASK_STATES = frozenset(
    {TaskState.SUCCESS, TaskState.FAILED, TaskState.UPSTREAM_FAILED, TaskState.SKIPPED, TaskState.REMOVED}
)

RunStateField = Annotated[RunState, BeforeValidator(RunState.parse)]
TaskStateField = Annotated[TaskState, BeforeValidator(TaskState.parse)]


def _none_to_empty(value: Any) -> Any:
    return {} if value is None else value


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class DagInfo(_Model):
    """A DAG as Airflow registered it (`GET /dags/{dag_id}`)."""

    dag_id: str
    is_paused: bool
    fileloc: str = ""
    relative_fileloc: str | None = None
    tags: list[str] = Field(default_factory=list)
    has_import_errors: bool = False
    is_stale: bool = False
    last_parsed_time: datetime | None = None
    file_token: str | None = None
    description: str | None = None
    owners: list[str] = Field(default_factory=list)


class DagRun(_Model):
    """One DAG run (`GET /dags/{dag_id}/dagRuns/{run_id}`)."""

    dag_id: str
    run_id: str
    state: RunStateField = RunState.NONE
    run_type: str = ""
    logical_date: datetime | None = None
    run_after: datetime | None = None
    queued_at: datetime | None = None
    start_date: datetime | None = None
    end_date: datetime | None = None
    conf: Annotated[dict[str, Any], BeforeValidator(_none_to_empty)] = Field(default_factory=dict)
    note: str | None = None


class TaskInstance(_Model):
    """One task instance of a run; a mapped one has map_index >= 0, an unmapped one -1."""

    dag_id: str
    run_id: str
    task_id: str
    map_index: int = UNMAPPED
    state: TaskStateField = TaskState.NONE
    try_number: int = 0
    max_tries: int = 0
    start_date: datetime | None = None
    end_date: datetime | None = None
    duration: float | None = None
    rendered_map_index: str | None = None
    operator: str | None = None
    hostname: str | None = None

    @property
    def is_mapped(self) -> bool:
        return self.map_index != UNMAPPED

    @property
    def key(self) -> TaskKey:
        return TaskKey(task_id=self.task_id, map_index=self.map_index)


class TaskKey(_Model):
    """A task instance within a run: task id plus map index (None when the API did not say)."""

    task_id: str
    map_index: int | None = None


class ImportErrorInfo(_Model):
    """A file Airflow failed to import (`GET /importErrors`); v2 filenames are relative to the bundle."""

    id: int | None = None
    filename: str
    bundle_name: str | None = None
    stack_trace: str = ""
    timestamp: datetime | None = None

    def refers_to(self, path: str) -> bool:
        """Whether this error is about `path` (absolute, or relative to the dags folder)."""
        mine, theirs = self.filename.replace("\\", "/"), path.replace("\\", "/")
        return mine == theirs or mine.endswith("/" + theirs.lstrip("/")) or theirs.endswith("/" + mine)

    @property
    def summary(self) -> str:
        """The last non-empty line of the stack trace (usually `SomeError: what went wrong`)."""
        lines = [line.strip() for line in self.stack_trace.splitlines() if line.strip()]
        return lines[-1] if lines else ""


class VersionInfo(_Model):
    """Airflow's version (`GET /version`)."""

    version: str
    git_version: str | None = None

    @property
    def major(self) -> int:
        head = self.version.split(".", 1)[0]
        return int(head) if head.isdigit() else 0


class ComponentHealth(_Model):
    """One component of `GET /monitor/health`: its status and last heartbeat."""

    status: str | None = None
    latest_heartbeat: datetime | None = None

    @property
    def healthy(self) -> bool:
        return self.status == "healthy"


class HealthInfo(_Model):
    """Airflow's health: metadatabase, scheduler, triggerer, dag processor."""

    components: dict[str, ComponentHealth] = Field(default_factory=dict)

    @property
    def healthy(self) -> bool:
        """The database and the scheduler are healthy (the minimum for runs to progress)."""
        return all(
            self.components.get(name, ComponentHealth()).healthy for name in ("metadatabase", "scheduler")
        )

    def unhealthy(self) -> list[str]:
        """Names of the components that report something other than healthy."""
        return sorted(name for name, part in self.components.items() if not part.healthy)
