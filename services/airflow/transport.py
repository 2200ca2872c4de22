"""The Airflow transport port (request in, response out) and a retrying wrapper for any transport."""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from services.deadline import PAGE_DEADLINE_S, Deadline, within
from services.errors import Unavailable

log = logging.getLogger(__name__)

QueryValue = str | int | float | bool | Sequence[str | int]

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "PUT", "PATCH", "DELETE"})

# Statuses a server answers while it cannot serve *now*; the same request may succeed later.
TRANSIENT_STATUSES = frozenset({429, 502, 503, 504})
# Statuses that say the request was never processed, so even a POST can be sent again.
NOT_PROCESSED_STATUSES = frozenset({429, 503})
# SQLite's answer to concurrent writes. Airflow 3 hides the text by default and answers any
# SQLAlchemy error as 500 {"detail": {"reason": "Database error", ...}}. Either way the
# transaction was rolled back, so even a POST may be sent again.
DATABASE_LOCKED = "database is locked"
DATABASE_ERROR_REASON = "Database error"

DEFAULT_ATTEMPTS = 3
DEFAULT_BASE_DELAY_S = 0.25
DEFAULT_MAX_DELAY_S = 2.0
# One call, retries included, ends within this: a page must not wait longer for a slow Airflow.
DEFAULT_BUDGET_S = PAGE_DEADLINE_S


@dataclass(frozen=True)
class ApiRequest:
    """One REST call: method, path relative to the API root (e.g. `/dags/my_dag`), query, JSON body."""

    method: str
    path: str
    params: Mapping[str, QueryValue] = field(default_factory=dict)
    json: Any = None

    @property
    def is_write(self) -> bool:
        return self.method.upper() in WRITE_METHODS

    @property
    def is_idempotent(self) -> bool:
        return self.method.upper() in IDEMPOTENT_METHODS

    def describe(self) -> str:
        """`GET /dags/x`: for messages and logs (no body, no headers)."""
        return f"{self.method.upper()} {self.path}"


@dataclass(frozen=True)
class ApiResponse:
    """The answer: HTTP status and the parsed JSON body (or the raw text when it was not JSON)."""

    status: int
    json: Any = None
    text: str = ""

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def body(self) -> Any:
        """The JSON body if any, else the text: what an error message quotes."""
        return self.json if self.json is not None else self.text


class AirflowTransport(Protocol):
    """Sends one request to Airflow's REST API; a plain function with this signature is a transport.

    Answers every HTTP status as an ApiResponse; raises `Unavailable` only when no answer came
    (connection refused, timeout), and `AuthError` when it cannot authenticate at all.
    """

    def __call__(self, request: ApiRequest) -> ApiResponse: ...


def is_database_busy(response: ApiResponse) -> bool:
    """A 500 from the metadata database (SQLite locked, or Airflow's hidden "Database error")."""
    if response.status != 500:
        return False
    detail = response.json.get("detail") if isinstance(response.json, dict) else None
    if isinstance(detail, dict) and detail.get("reason") == DATABASE_ERROR_REASON:
        return True
    return DATABASE_LOCKED in str(response.body).lower()


def is_transient(response: ApiResponse) -> bool:
    """Whether a response says "try again later" (throttled, gateway trouble, database busy)."""
    return response.status in TRANSIENT_STATUSES or is_database_busy(response)


def _safe_to_resend(request: ApiRequest, response: ApiResponse | None, error: Unavailable | None) -> bool:
    if request.is_idempotent:
        return True
    if error is not None:
        return error.not_sent
    assert response is not None
    return response.status in NOT_PROCESSED_STATUSES or is_database_busy(response)


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded retries with exponential backoff and full jitter, within a total time budget (the
    deadline of each call: attempts are cut short at it, see `services.deadline`)."""

    attempts: int = DEFAULT_ATTEMPTS
    base_delay_s: float = DEFAULT_BASE_DELAY_S
    max_delay_s: float = DEFAULT_MAX_DELAY_S
    budget_s: float = DEFAULT_BUDGET_S

    def delay(self, retry: int, rng: Callable[[], float]) -> float:
        """Full jitter: uniform in [0, min(max, base * 2**retry)] (retry counts from 0)."""
        return rng() * min(self.max_delay_s, self.base_delay_s * (2**retry))


class RetryingTransport:
    """Wraps a transport: resends transient failures (5xx gateway, 429, "database is locked",
    connection errors) with backoff; a POST is resent only when it surely was not processed.

    Each call runs under a deadline (the policy's budget, or an enclosing `services.deadline` block's
    if that ends sooner) that the inner transport reads with `current_deadline()` to bound its waits."""

    def __init__(
        self,
        inner: AirflowTransport,
        policy: RetryPolicy | None = None,
        *,
        sleep: Callable[[float], None] = time.sleep,
        rng: Callable[[], float] = random.random,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.inner = inner
        self.policy = policy or RetryPolicy()
        self._sleep, self._rng, self._clock = sleep, rng, clock

    def __repr__(self) -> str:
        return f"RetryingTransport({self.inner!r}, {self.policy!r})"

    def __call__(self, request: ApiRequest) -> ApiResponse:
        with within(Deadline.after(self.policy.budget_s, self._clock)) as deadline:
            return self._send(request, deadline)

    def _send(self, request: ApiRequest, deadline: Deadline) -> ApiResponse:
        retry = 0
        while True:
            response: ApiResponse | None = None
            error: Unavailable | None = None
            try:
                response = self.inner(request)
            except Unavailable as exc:
                error = exc
            if response is not None and not is_transient(response):
                return response
            last_try = retry + 1 >= self.policy.attempts or not _safe_to_resend(request, response, error)
            delay = self.policy.delay(retry, self._rng)
            if last_try or delay >= deadline.remaining_s():
                if error is not None:
                    raise error
                assert response is not None
                return response
            log.warning(
                "%s: %s; retry %d/%d in %.2fs",
                request.describe(),
                error.message if error is not None else f"HTTP {response.status}",  # type: ignore[union-attr]
                retry + 1,
                self.policy.attempts - 1,
                delay,
            )
            self._sleep(delay)
            retry += 1
