"""AirflowClient errors: HTTP statuses mapped to our errors, readable details, no secrets, retries."""

from __future__ import annotations

import contextlib
import re
from typing import Any

import pytest

from services.airflow.client import AirflowClient
from services.airflow.models import RunState
from services.airflow.transport import ApiRequest, ApiResponse, RetryingTransport, RetryPolicy
from services.errors import AuthError, BacktestError, BadRequest, Conflict, NotFound, Unavailable

TOKEN = "eyJhbGciOiJIUzUxMiJ9.eyJzdWIiOiJhZG1pbiIsImV4cCI6OTk5OTk5OTk5OX0.c2lnbmF0dXJlLXNpZ25hdHVyZQ"


# ---- errors ----------------------------------------------------------------------------------------


def answering(status: int, body: Any = None, text: str = "") -> Any:
    def transport(request: ApiRequest) -> ApiResponse:
        return ApiResponse(status, body, text)

    return transport


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (400, BadRequest),
        (401, AuthError),
        (403, AuthError),
        (404, NotFound),
        (409, Conflict),
        (422, BadRequest),
        (429, Unavailable),
        (500, Unavailable),
        (503, Unavailable),
    ],
)
def test_status_mapping(status: int, error: type[BacktestError]) -> None:
    with pytest.raises(error) as info:
        AirflowClient(answering(status, {"detail": "what happened"})).get_dag("d")
    assert info.value.status == status
    assert info.value.message == f"Airflow GET /dags/d: HTTP {status}: what happened"


def test_validation_detail_is_readable() -> None:
    body = {"detail": [{"type": "missing", "loc": ["body", "logical_date"], "msg": "Field required"}]}
    with pytest.raises(BadRequest) as info:
        AirflowClient(answering(422, body)).trigger("d")
    assert info.value.detail == "logical_date: Field required"


def test_long_and_plain_text_details_are_trimmed() -> None:
    with pytest.raises(Unavailable) as info:
        AirflowClient(answering(502, None, "<html>" + "x" * 5000 + "</html>")).version()
    assert len(info.value.detail) <= 300 and "\n" not in info.value.message


def test_no_secret_in_error_messages() -> None:
    body = {"detail": f"bad header Authorization: Bearer {TOKEN} with password=hunter2 and {TOKEN}"}
    with pytest.raises(AuthError) as info:
        AirflowClient(answering(401, body)).version()
    for text in (info.value.message, str(info.value), repr(info.value), info.value.detail):
        assert TOKEN not in text and "hunter2" not in text
        assert TOKEN[:20] not in text


def test_unexpected_answer_is_a_clear_error() -> None:
    with pytest.raises(BacktestError, match="unexpected answer"):
        AirflowClient(answering(200, {"nothing": "here"})).get_dag("d")


class Flaky:
    """A transport answering a scripted list of statuses (then 200) and counting calls."""

    def __init__(self, *statuses: int, detail: str = "") -> None:
        self.statuses = list(statuses)
        self.calls = 0
        self.detail = detail

    def __call__(self, request: ApiRequest) -> ApiResponse:
        self.calls += 1
        if self.statuses:
            return ApiResponse(self.statuses.pop(0), {"detail": self.detail})
        return ApiResponse(200, {"version": "3.3.2", "dag_id": "d", "dag_run_id": "r", "state": "queued"})


def retrying(inner: Any, attempts: int = 4) -> tuple[RetryingTransport, list[float]]:
    sleeps: list[float] = []
    return RetryingTransport(
        inner, RetryPolicy(attempts=attempts), sleep=sleeps.append, rng=lambda: 1.0
    ), sleeps


def test_5xx_retried_with_backoff_then_unavailable() -> None:
    flaky = Flaky(503, 503, 503, 503, 503)
    transport, sleeps = retrying(flaky)
    with pytest.raises(Unavailable) as info:
        AirflowClient(transport).version()
    assert flaky.calls == 4 and info.value.status == 503
    assert sleeps == [0.25, 0.5, 1.0]


def test_transient_error_then_success() -> None:
    flaky = Flaky(502, 504)
    transport, _ = retrying(flaky)
    assert AirflowClient(transport).version().version == "3.3.2"
    assert flaky.calls == 3


def test_post_is_resent_only_when_surely_not_processed() -> None:
    for statuses, calls in [((502,), 1), ((504,), 1), ((503,), 2), ((429,), 2)]:
        flaky = Flaky(*statuses)
        transport, _ = retrying(flaky)
        with contextlib.suppress(Unavailable):
            AirflowClient(transport).trigger("d")
        assert flaky.calls == calls, statuses
    locked = Flaky(500, 500, detail="(sqlite3.OperationalError) database is locked")
    transport, _ = retrying(locked)
    assert AirflowClient(transport).trigger("d").run_id == "r"
    assert locked.calls == 3


def test_airflow3_hidden_database_error_is_retried() -> None:
    hidden = {"reason": "Database error", "statement": "hidden", "orig_error": "hidden", "message": "Serious"}
    calls = []

    def busy_once(request: ApiRequest) -> ApiResponse:
        calls.append(request)
        if len(calls) == 1:
            return ApiResponse(500, {"detail": hidden})
        return ApiResponse(200, {"dag_id": "d", "dag_run_id": "r", "state": "queued"})

    transport, _ = retrying(busy_once)
    assert AirflowClient(transport).trigger("d").state is RunState.QUEUED
    assert len(calls) == 2


def test_plain_500_is_not_retried() -> None:
    flaky = Flaky(500, detail="KeyError: boom")
    transport, _ = retrying(flaky)
    with pytest.raises(Unavailable, match="boom"):
        AirflowClient(transport).version()
    assert flaky.calls == 1


def test_connection_error_is_retried_within_the_budget() -> None:
    calls = []

    def refused(request: ApiRequest) -> ApiResponse:
        calls.append(request)
        raise Unavailable("cannot reach Airflow at http://airflow:8080: connection refused", not_sent=True)

    transport, sleeps = retrying(refused, attempts=3)
    with pytest.raises(Unavailable, match=re.escape("http://airflow:8080")):
        AirflowClient(transport).trigger("d")
    assert len(calls) == 3 and len(sleeps) == 2


def test_4xx_is_never_retried() -> None:
    flaky = Flaky(404, 404)
    transport, sleeps = retrying(flaky)
    with pytest.raises(NotFound):
        AirflowClient(transport).get_dag("d")
    assert flaky.calls == 1 and sleeps == []


def test_retry_budget_bounds_total_time() -> None:
    now = [0.0]
    flaky = Flaky(*([503] * 50))
    policy = RetryPolicy(attempts=50, base_delay_s=1.0, max_delay_s=4.0, budget_s=10.0)

    def sleep(seconds: float) -> None:
        now[0] += seconds

    transport = RetryingTransport(flaky, policy, sleep=sleep, rng=lambda: 1.0, clock=lambda: now[0])
    with pytest.raises(Unavailable):
        AirflowClient(transport).version()
    assert now[0] <= 10.0 and flaky.calls < 50


def test_client_repr_has_no_secrets() -> None:
    assert "AirflowClient" in repr(AirflowClient(answering(200), api_version="v1"))
    with pytest.raises(ValueError):
        AirflowClient(answering(200), api_version="v9")  # type: ignore[arg-type]
