"""The one table of how a state looks (label, colour, CSS class): every figure, table, badge and tile."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from enum import StrEnum

from services.airflow.models import RunState, TaskState
from services.models import PointState

log = logging.getLogger(__name__)


class Tone(StrEnum):
    """The palette: each state takes one tone, and a tone has one colour and one CSS class."""

    OK = "ok"
    RUN = "run"
    WAIT = "wait"
    BAD = "bad"
    IDLE = "idle"
    RETRY = "retry"
    SKIP = "skip"
    UNKNOWN = "unknown"


TONE_COLORS: dict[Tone, str] = {
    Tone.OK: "#2f9e62",
    Tone.RUN: "#3b7ddd",
    Tone.WAIT: "#9b7fd9",
    Tone.BAD: "#d64545",
    Tone.IDLE: "#b8c0ca",
    Tone.RETRY: "#e0a030",
    Tone.SKIP: "#8a939e",
    Tone.UNKNOWN: "#6c757d",
}


@dataclass(frozen=True)
class StateStyle:
    """How one state is drawn: its legend label, and its tone's colour and CSS class (`bt-tone-<tone>`)."""

    label: str
    tone: Tone

    @property
    def color(self) -> str:
        return TONE_COLORS[self.tone]

    @property
    def css(self) -> str:
        return f"bt-tone-{self.tone}"


# Keyed by enum type first: members of two StrEnums with the same value ("running") are equal keys.
# Within an enum, rows are in legend order. A unit test checks every member has a row.
STATE_STYLES: dict[type[StrEnum], dict[StrEnum, StateStyle]] = {
    PointState: {
        PointState.DONE: StateStyle("Done", Tone.OK),
        PointState.RUNNING: StateStyle("Running", Tone.RUN),
        PointState.QUEUED: StateStyle("Queued", Tone.WAIT),
        PointState.FAILED: StateStyle("Failed", Tone.BAD),
        PointState.NOT_STARTED: StateStyle("Not started", Tone.IDLE),
    },
    TaskState: {
        TaskState.SUCCESS: StateStyle("Success", Tone.OK),
        TaskState.RUNNING: StateStyle("Running", Tone.RUN),
        TaskState.RESTARTING: StateStyle("Restarting", Tone.RUN),
        TaskState.DEFERRED: StateStyle("Deferred", Tone.RUN),
        TaskState.QUEUED: StateStyle("Queued", Tone.WAIT),
        TaskState.SCHEDULED: StateStyle("Scheduled", Tone.WAIT),
        TaskState.AWAITING_INPUT: StateStyle("Awaiting input", Tone.WAIT),
        TaskState.UP_FOR_RETRY: StateStyle("Up for retry", Tone.RETRY),
        TaskState.UP_FOR_RESCHEDULE: StateStyle("Up for reschedule", Tone.RETRY),
        TaskState.FAILED: StateStyle("Failed", Tone.BAD),
        TaskState.UPSTREAM_FAILED: StateStyle("Upstream failed", Tone.BAD),
        TaskState.NONE: StateStyle("Not started", Tone.IDLE),
        TaskState.SKIPPED: StateStyle("Skipped", Tone.SKIP),
        TaskState.REMOVED: StateStyle("Removed", Tone.SKIP),
        TaskState.UNKNOWN: StateStyle("Unknown", Tone.UNKNOWN),
    },
    RunState: {
        RunState.SUCCESS: StateStyle("Success", Tone.OK),
        RunState.RUNNING: StateStyle("Running", Tone.RUN),
        RunState.QUEUED: StateStyle("Queued", Tone.WAIT),
        RunState.FAILED: StateStyle("Failed", Tone.BAD),
        RunState.NONE: StateStyle("No state", Tone.IDLE),
        RunState.UNKNOWN: StateStyle("Unknown", Tone.UNKNOWN),
    },
}
UNKNOWN_STYLE = STATE_STYLES[TaskState][TaskState.UNKNOWN]


def state_style(state: StrEnum) -> StateStyle:
    """The style of a point, task or run state (a Batch status is drawn as the point state it means,
    services.aws.batch.POINT_STATE_OF_JOB). Never raises: a state outside the table is drawn as unknown.
    """
    style = STATE_STYLES.get(type(state), {}).get(state)
    if style is None:
        log.debug("no style for state %r: drawn as unknown", state)
        return UNKNOWN_STYLE
    return style


def state_color(state: StrEnum) -> str:
    return state_style(state).color


def state_name(state: StrEnum) -> str:
    """The state's own name as Airflow or Batch says it (`up for retry`, `succeeded`): badge and cell text."""
    return str(state.value).replace("_", " ").lower()


def states_in_order(kind: type[StrEnum]) -> tuple[StrEnum, ...]:
    """The states of one enum in legend order."""
    return tuple(STATE_STYLES[kind])
