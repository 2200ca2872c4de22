"""The one mapping of Airflow task states onto grid-point states (Batch's is beside its adapter)."""

from __future__ import annotations

from services.airflow.models import TaskState
from services.models import PointState

# Every TaskState has a row (a unit test keeps it so): a new Airflow state arrives as TaskState.UNKNOWN.
# A task instance that exists but waits is never NOT_STARTED:
# - DEFERRED hands its wait to the triggerer while the work runs elsewhere (a deferrable BatchOperator's
#   job is in flight), so its points are RUNNING, refined by their Batch jobs where Batch answers;
# - AWAITING_INPUT (Airflow 3.1's human-in-the-loop) waits on a person before any work: QUEUED,
#   like UP_FOR_RETRY / UP_FOR_RESCHEDULE, which will run again.
POINT_STATE_OF_TASK: dict[TaskState, PointState] = {
    TaskState.SUCCESS: PointState.DONE,
    TaskState.RUNNING: PointState.RUNNING,
    TaskState.RESTARTING: PointState.RUNNING,
    TaskState.DEFERRED: PointState.RUNNING,
    TaskState.QUEUED: PointState.QUEUED,
    TaskState.SCHEDULED: PointState.QUEUED,
    TaskState.AWAITING_INPUT: PointState.QUEUED,
    TaskState.UP_FOR_RETRY: PointState.QUEUED,
    TaskState.UP_FOR_RESCHEDULE: PointState.QUEUED,
    TaskState.FAILED: PointState.FAILED,
    TaskState.UPSTREAM_FAILED: PointState.FAILED,
    # Points of a chunk that will not run (or whose state this code cannot read) were not computed.
    TaskState.NONE: PointState.NOT_STARTED,
    TaskState.SKIPPED: PointState.NOT_STARTED,
    TaskState.REMOVED: PointState.NOT_STARTED,
    TaskState.UNKNOWN: PointState.NOT_STARTED,
}


def point_state_of_task(state: TaskState) -> PointState:
    """Where the points of a chunk stand, given its task instance's state."""
    return POINT_STATE_OF_TASK[state]
