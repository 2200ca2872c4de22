"""Each sweep's last deployment in the shared cache: replaced at each step, interrupted once silent."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import diskcache

from services.deploy_records import SILENT_AFTER, DeployRecords
from services.models import DeployProgress, StepState
from services.shared_cache import DiskSharedCache

START = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)


def records(tmp_path: Path, clock: list[datetime]) -> DeployRecords:
    return DeployRecords(DiskSharedCache(diskcache.Cache(str(tmp_path / "flags"))), now=lambda: clock[0])


def test_each_report_replaces_the_sweeps_record(tmp_path: Path) -> None:
    clock = [START]
    report = records(tmp_path, clock).reporter("mr_spy", "ann")
    progress = DeployProgress(dag_id="backtest_mr_spy")
    report(progress)
    progress.steps[0].state = StepState.DONE
    clock[0] = START + timedelta(seconds=3)
    report(progress)

    last = records(tmp_path, clock).last("mr_spy")  # another process reading the same cache

    assert last is not None and last.by == "ann"
    assert last.started_at == START and last.reported_at == clock[0]
    assert last.progress.steps[0].state == StepState.DONE and not last.progress.finished
    assert records(tmp_path, clock).last("other") is None


def test_a_deploy_that_went_silent_reads_as_interrupted(tmp_path: Path) -> None:
    clock = [START]
    records(tmp_path, clock).reporter("mr_spy", "ann")(DeployProgress(dag_id="backtest_mr_spy"))
    clock[0] = START + SILENT_AFTER + timedelta(seconds=1)

    last = records(tmp_path, clock).last("mr_spy")

    assert last is not None and last.progress.finished and not last.progress.ok
    assert "stopped reporting at 12:00:00 UTC" in (last.progress.error or "")
    assert "Deploy again" in (last.progress.error or "")


def test_a_deploy_ending_on_an_exception_is_recorded_failed_at_its_last_step(tmp_path: Path) -> None:
    from services.auth import Principal, Role
    from services.deploy_records import UNEXPECTED_STOP, DeployTracker
    from services.errors import Unavailable

    clock = [START]
    seen: list[DeployProgress] = []
    ann = Principal(name="ann", role=Role.RESEARCHER)
    for name, error, expected in (
        ("mr_spy", Unavailable("Airflow did not answer."), "Airflow did not answer."),
        ("mo_spy", RuntimeError("boom at /srv/app/x.py"), UNEXPECTED_STOP),  # no internals shown
    ):
        tracker = DeployTracker(records(tmp_path, clock), f"backtest_{name}", name, ann, seen.append)
        progress = DeployProgress(dag_id=f"backtest_{name}")
        progress.steps[0].state = StepState.DONE
        tracker.report(progress)
        tracker.failed(error)

        last = records(tmp_path, clock).last(name)
        assert last is not None and last.by == "ann"
        assert last.progress.finished and not last.progress.ok and last.progress.error == expected
        assert last.progress.steps[0].state == StepState.DONE  # the steps it had done stay shown
    assert len(seen) == 2  # the caller's callback got each step


def test_cancelling_ends_a_running_record_and_leaves_a_finished_one(tmp_path: Path) -> None:
    clock = [START]
    running = records(tmp_path, clock).reporter("mr_spy", "ann")
    running(DeployProgress(dag_id="backtest_mr_spy"))
    done = records(tmp_path, clock).reporter("mo_spy", "ann")
    done(DeployProgress(dag_id="backtest_mo_spy", finished=True, ok=True))

    for name in ("mr_spy", "mo_spy", "unknown"):
        records(tmp_path, clock).mark_cancelled(name)

    cancelled = records(tmp_path, clock).last("mr_spy")
    assert cancelled is not None and cancelled.progress.finished and cancelled.progress.error == "cancelled"
    finished = records(tmp_path, clock).last("mo_spy")
    assert finished is not None and finished.progress.ok and finished.progress.error is None
    assert records(tmp_path, clock).last("unknown") is None
