"""Connection and preflight check results: one way to say a check failed and what to try."""

from __future__ import annotations

from services.models import CheckResult


def failed_check(key: str, label: str, detail: str, fix: str, resource: str = "") -> CheckResult:
    """A failed check: what went wrong (`detail`) with `resource`, and the fix to try."""
    return CheckResult(key=key, label=label, resource=resource, ok=False, detail=detail, fix=fix)


def passed_check(key: str, label: str, detail: str = "", resource: str = "") -> CheckResult:
    """A check that passed, with what it found (`detail`) about `resource`."""
    return CheckResult(key=key, label=label, resource=resource, ok=True, detail=detail)


def warning_check(key: str, label: str, detail: str, fix: str = "", resource: str = "") -> CheckResult:
    """A check that does not block, with something to read first (`detail`) and what to do about it."""
    return CheckResult(key=key, label=label, resource=resource, ok=True, detail=detail, fix=fix, warning=True)
