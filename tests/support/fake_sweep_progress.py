"""What a fake sweep looks like a given share of the way through: point states (some failed), points
done over time, and made-up metrics per grid point. Pure functions, shared by the fake services."""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from services.models import PointState, ProgressSample

FAILED_EVERY = 17  # every 17th finished point fails, so failures show up in every chart
RUNNING_SLOTS = 8
QUEUED_SLOTS = 8
PROGRESS_SAMPLES = 40  # samples of a fake run's points-done-over-time


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
