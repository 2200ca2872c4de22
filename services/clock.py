"""The time the services read and wait on: the system's, or one a test hands in."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Clock:
    """The time of day (`now`, UTC), elapsed time (`monotonic`) and waiting (`sleep`).

    A test builds its own with the calls it controls, e.g. `Clock(sleep=lambda _s: None)`.
    """

    now: Callable[[], datetime] = utc_now
    monotonic: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep


SYSTEM_CLOCK = Clock()
