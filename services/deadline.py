"""Deadlines for upstream calls: a block's calls share one, and a nested block keeps the earlier end."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass

# A page waits at most this long for Airflow in one user action (Connections, preflight, trigger).
PAGE_DEADLINE_S = 5.0


@dataclass(frozen=True)
class Deadline:
    """An end time on `clock`; `total_s` is how long it was when set (what messages quote)."""

    ends_at: float
    total_s: float
    clock: Callable[[], float] = time.monotonic

    @classmethod
    def after(cls, seconds: float, clock: Callable[[], float] = time.monotonic) -> Deadline:
        return cls(ends_at=clock() + seconds, total_s=seconds, clock=clock)

    def remaining_s(self) -> float:
        """Seconds left, never below 0."""
        return max(0.0, self.ends_at - self.clock())

    @property
    def expired(self) -> bool:
        return self.remaining_s() <= 0.0


_current: ContextVar[Deadline | None] = ContextVar("backtest_deadline", default=None)


def current_deadline() -> Deadline | None:
    """The deadline the calls in progress must meet; None outside any `deadline` block."""
    return _current.get()


@contextlib.contextmanager
def within(candidate: Deadline) -> Iterator[Deadline]:
    """Run the block under `candidate` or the deadline already in force, whichever leaves less time."""
    outer = _current.get()
    chosen = outer if outer is not None and outer.remaining_s() <= candidate.remaining_s() else candidate
    token = _current.set(chosen)
    try:
        yield chosen
    finally:
        _current.reset(token)


@contextlib.contextmanager
def deadline(seconds: float = PAGE_DEADLINE_S) -> Iterator[Deadline]:
    """Every upstream call inside the block ends within `seconds` from now (one user action's budget)."""
    with within(Deadline.after(seconds)) as chosen:
        yield chosen
