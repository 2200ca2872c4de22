"""The project's exceptions: one base class, user-facing messages that never carry secrets."""

from __future__ import annotations

import json
import re
from typing import Any

DETAIL_MAX_CHARS = 300
MESSAGE_MAX_CHARS = 600
REDACTED = "[redacted]"

# Anything that looks like a credential is scrubbed from text that reaches a message.
_SECRET_PATTERNS = (
    re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]+"),
    re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*"),  # a JWT
    re.compile(
        r"(?i)(\"?(?:password|passwd|secret|token|access_token|authorization)\"?\s*[:=]\s*)(\"[^\"]*\"|[^\s,;&}]+)"
    ),
)


def redact(text: str) -> str:
    """Text with bearer tokens, JWTs and `password=...`-style values replaced by a marker."""
    for pattern in _SECRET_PATTERNS:
        if pattern.groups >= 2:
            text = pattern.sub(lambda m: f"{m.group(1)}{REDACTED}", text)
        else:
            text = pattern.sub(REDACTED, text)
    return text


def trim(text: str, limit: int = DETAIL_MAX_CHARS) -> str:
    """One line of at most `limit` characters, secrets redacted."""
    line = " ".join(redact(text).split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


class BacktestError(Exception):
    """Base of every error the services raise; `message` is safe to show to a user."""

    def __init__(self, message: str, *, status: int | None = None, detail: str = "") -> None:
        self.message = trim(message, limit=MESSAGE_MAX_CHARS)
        self.status = status  # the HTTP status when an HTTP API answered, else None
        self.detail = trim(detail)  # the server's own words, trimmed and redacted
        super().__init__(self.message)


class NotFound(BacktestError):
    """The DAG, run, object or record does not exist."""


class Conflict(BacktestError):
    """The request clashes with the current state (HTTP 409), e.g. a run id already in use."""


class AuthError(BacktestError):
    """Credentials missing, wrong or not allowed (HTTP 401/403)."""


class Unavailable(BacktestError):
    """Transient: connection refused, timeout, throttled or 5xx after the retries ran out.

    `not_sent` is True when the request surely never reached the server (e.g. connection
    refused), so even a non-idempotent call may be sent again.
    """

    def __init__(self, message: str, *, status: int | None = None, detail: str = "", not_sent: bool = False):
        super().__init__(message, status=status, detail=detail)
        self.not_sent = not_sent


class BadRequest(BacktestError):
    """A request the caller got wrong (HTTP 400/422 and other 4xx)."""


class DeployRefused(BacktestError):
    """A deployment refused before anything was changed (the reason is the message)."""


class StorageError(BacktestError):
    """A DAG folder or bucket that cannot be read or written, or an invalid key."""


class DagImportError(BacktestError):
    """Airflow could not import a deployed file; `filename` and the trimmed `detail` say why."""

    def __init__(self, filename: str, detail: str) -> None:
        self.filename = filename
        super().__init__(f"Airflow cannot import {filename}: {trim(detail)}", detail=detail)


def _status_class(status: int) -> type[BacktestError]:
    if status in (401, 403):
        return AuthError
    if status == 404:
        return NotFound
    if status == 409:
        return Conflict
    if status == 429 or status >= 500:
        return Unavailable
    return BadRequest


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
    return _status_class(status)(message, status=status, detail=detail)


class Forbidden(BacktestError):
    """The role does not allow the action, or the sweep belongs to someone else (HTTP 403)."""
