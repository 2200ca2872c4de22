"""The connection checks, reused for a while per process (the navbar badge asks on every page)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from services.models import CheckResult
from services.ports import Connections


class CachedChecks:
    """`checks(max_age_s)`: the last results of `connections.check_all()` while they are young enough."""

    def __init__(self, connections: Connections, clock: Callable[[], float] = time.time) -> None:
        self._connections = connections
        self._clock = clock
        self._lock = threading.Lock()
        self._last: tuple[float, list[CheckResult]] | None = None

    def checks(self, max_age_s: float, force: bool = False) -> tuple[float, list[CheckResult]]:
        """(checked_at epoch seconds, results), re-checked when older than `max_age_s` or when forced."""
        with self._lock:
            now = self._clock()
            if not force and self._last is not None and now - self._last[0] < max_age_s:
                return self._last
            self._last = (now, self._connections.check_all())
            return self._last
