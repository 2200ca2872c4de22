"""The project's exceptions: one base class, user-facing messages that never carry secrets."""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Any

# The scrubber lives in services.redaction; callers that import it from here keep working.
from services.redaction import REDACTED as REDACTED
from services.redaction import redact

DETAIL_MAX_CHARS = 300
MESSAGE_MAX_CHARS = 600
# Only this much of a text is scrubbed for a message: far more than a message keeps, and quick to scan.
SCRUB_MAX_CHARS = 20_000


class Fault(StrEnum):
    """What went wrong, so that the fix offered matches it (a refused connection is not a 500)."""

    REFUSED = "refused"  # nothing listens at the address: the service is down or the URL is wrong
    DNS = "dns"  # the host name does not resolve
    UNREACHABLE = "unreachable"  # no connection at all within the connect timeout (host down, firewall)
    TLS = "tls"  # the TLS handshake failed (http vs https, certificate)
    SLOW = "slow"  # connected, but no answer before the deadline
    AUTH = "auth"  # credentials missing, wrong or not allowed
    SERVER = "server"  # the server answered with its own internal error (500)
    GATEWAY = "gateway"  # a proxy or gateway in between failed (502/504, an answer that is not the API's)
    BUSY = "busy"  # the server says it cannot serve now (503)
    THROTTLED = "throttled"  # too many requests (429)
    NOT_FOUND = "not_found"
    CONFLICT = "conflict"
    INVALID = "invalid"  # a request the caller got wrong
    UNKNOWN = "unknown"


# Faults of the way to a service or of the service itself: their fix is the error's, whatever was asked.
TRANSPORT_FAULTS = frozenset(
    {
        Fault.REFUSED,
        Fault.DNS,
        Fault.UNREACHABLE,
        Fault.TLS,
        Fault.SLOW,
        Fault.SERVER,
        Fault.GATEWAY,
        Fault.BUSY,
        Fault.THROTTLED,
    }
)

# What to do about a fault an HTTP status reveals, whichever API answered.
STATUS_FIXES = {
    Fault.AUTH: "Check the credentials the app uses for Airflow (AIRFLOW_USERNAME and AIRFLOW_PASSWORD "
    "in .env; on MWAA, the Airflow role of your IAM identity)",
    Fault.SERVER: "Airflow had an internal error: see its logs (for the local Airflow, "
    "AIRFLOW_HOME/standalone.log), then retry",
    Fault.GATEWAY: "A proxy or gateway between the app and Airflow failed: retry; if it persists, "
    "check that Airflow is up and the proxy in front of it",
    Fault.BUSY: "Airflow cannot serve requests right now (starting or overloaded): retry in a moment",
    Fault.THROTTLED: "Too many requests: wait a moment, then retry",
}
GATEWAY_STATUSES = frozenset({502, 504})
BUSY_STATUS = 503
THROTTLED_STATUS = 429


def trim(text: str, limit: int = DETAIL_MAX_CHARS) -> str:
    """One line of at most `limit` characters, secrets redacted."""
    line = " ".join(redact(text[:SCRUB_MAX_CHARS]).split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


class BacktestError(Exception):
    """Base of every error the services raise; `message` (what happened) and `fix` (what to do
    about it, "" when only the caller can tell) are safe to show to a user."""

    default_fault = Fault.UNKNOWN

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        detail: str = "",
        fault: Fault | None = None,
        fix: str = "",
    ) -> None:
        self.message = trim(message, limit=MESSAGE_MAX_CHARS)
        self.status = status  # the HTTP status when an HTTP API answered, else None
        self.detail = trim(detail)  # the server's own words, trimmed and redacted
        self.fault = fault or self.default_fault
        self.fix = trim(fix, limit=MESSAGE_MAX_CHARS)
        super().__init__(self.message)


class NotFound(BacktestError):
    """The DAG, run, object or record does not exist."""

    default_fault = Fault.NOT_FOUND


class Conflict(BacktestError):
    """The request clashes with the current state (HTTP 409), e.g. a run id already in use."""

    default_fault = Fault.CONFLICT


class AuthError(BacktestError):
    """Credentials missing, wrong or not allowed (HTTP 401/403)."""

    default_fault = Fault.AUTH


class Unavailable(BacktestError):
    """Transient: connection refused, timeout, throttled or 5xx after the retries ran out.

    `not_sent` is True when the request surely never reached the server (e.g. connection
    refused), so even a non-idempotent call may be sent again.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        detail: str = "",
        not_sent: bool = False,
        fault: Fault | None = None,
        fix: str = "",
    ):
        super().__init__(message, status=status, detail=detail, fault=fault, fix=fix)
        self.not_sent = not_sent


class BadRequest(BacktestError):
    """A request the caller got wrong (HTTP 400/422 and other 4xx)."""

    default_fault = Fault.INVALID


class DeployRefused(BacktestError):
    """A deployment refused before anything was changed (the reason is the message)."""


class StorageError(BacktestError):
    """A DAG folder or bucket that cannot be read or written, or an invalid key."""


def _status_class(status: int) -> type[BacktestError]:
    if status in (401, 403):
        return AuthError
    if status == 404:
        return NotFound
    if status == 409:
        return Conflict
    if status == THROTTLED_STATUS or status >= 500:
        return Unavailable
    return BadRequest


def status_fault(status: int) -> Fault:
    """The fault an HTTP error status reveals."""
    if status in (401, 403):
        return Fault.AUTH
    if status == THROTTLED_STATUS:
        return Fault.THROTTLED
    if status in GATEWAY_STATUSES:
        return Fault.GATEWAY
    if status == BUSY_STATUS:
        return Fault.BUSY
    if status >= 500:
        return Fault.SERVER
    return _status_class(status).default_fault


def detail_of(body: Any) -> str:
    """The human part of an error body: FastAPI `detail` (text, list or object), RFC 7807, or raw text."""
    if isinstance(body, dict):
        for key in ("detail", "reason", "message", "title", "error", "Message"):
            if key in body and body[key] not in (None, ""):
                return detail_of(body[key])
        return json.dumps(body, default=str)
    if isinstance(body, list):
        parts = []
        for item in body:
            if isinstance(item, dict) and "msg" in item:
                location = ".".join(str(p) for p in item.get("loc", ()) if p != "body")
                parts.append(f"{location}: {item['msg']}" if location else str(item["msg"]))
            else:
                parts.append(detail_of(item))
        return "; ".join(parts)
    return "" if body is None else str(body)


def http_error(status: int, body: Any, what: str) -> BacktestError:
    """The project error for an HTTP status; the message names `what` failed, the status and the detail."""
    detail = trim(detail_of(body))
    message = f"{what}: HTTP {status}" + (f": {detail}" if detail else "")
    fault = status_fault(status)
    return _status_class(status)(
        message, status=status, detail=detail, fault=fault, fix=STATUS_FIXES.get(fault, "")
    )


class Forbidden(BacktestError):
    """The role does not allow the action, or the sweep belongs to someone else (HTTP 403)."""
