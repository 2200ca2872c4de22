"""Readiness for a load balancer: is each component this instance needs reachable now (yes or no only)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout

from services.redaction import redact

log = logging.getLogger(__name__)

READY_TTL_S = 5.0  # a probe every second from each balancer costs one round of checks per 5 s
CHECK_TIMEOUT_S = 3.0  # a component slower than this is not ready (balancers time out at ~5 s)
ERROR_LOG_CHARS = 200


class Readiness:
    """Runs each component's check (a callable that raises, or returns False, when the component is not
    reachable) in parallel within CHECK_TIMEOUT_S, and keeps the answer READY_TTL_S. What a probe gets
    is component names and ok/fail, nothing else; the reasons go to the log."""

    def __init__(
        self,
        checks: Mapping[str, Callable[[], object]],
        ttl_s: float = READY_TTL_S,
        timeout_s: float = CHECK_TIMEOUT_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._checks = dict(checks)
        self._ttl_s = ttl_s
        self._timeout_s = timeout_s
        self._clock = clock
        self._lock = threading.Lock()
        self._last: tuple[float, dict[str, bool]] | None = None
        self._pool = ThreadPoolExecutor(max_workers=len(self._checks) or 1, thread_name_prefix="readyz")

    def check(self) -> dict[str, bool]:
        """{component: reachable}, at most `ttl_s` old."""
        with self._lock:
            now = self._clock()
            if self._last is not None and now - self._last[0] < self._ttl_s:
                return dict(self._last[1])
            results = self._run_all()
            self._last = (now, results)
            return dict(results)

    def _run_all(self) -> dict[str, bool]:
        futures = {name: self._pool.submit(_passes, name, check) for name, check in self._checks.items()}
        deadline = time.monotonic() + self._timeout_s
        results: dict[str, bool] = {}
        for name, future in futures.items():
            try:
                results[name] = future.result(timeout=max(0.0, deadline - time.monotonic()))
            except FutureTimeout:
                log.warning("readiness: %s did not answer within %.1f s", name, self._timeout_s)
                results[name] = False
        return results


def _passes(name: str, check: Callable[[], object]) -> bool:
    try:
        ok = check() is not False
    except Exception as exc:  # any failure of any component means "not ready", never a 500
        log.warning("readiness: %s failed: %s", name, redact(str(exc))[:ERROR_LOG_CHARS])
        return False
    if not ok:
        log.warning("readiness: %s is not ready", name)
    return ok


def cache_ping(cache) -> Callable[[], bool]:
    """A check that the shared cache takes a write and gives it back."""

    def ping() -> bool:
        token = f"{time.time():.6f}"
        cache.set("readyz-probe", token, expire=60)
        return cache.get("readyz-probe") is not None

    return ping
