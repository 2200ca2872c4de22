"""A list of CheckResults (preflight, connections): green or red, what was checked, the fix when red."""

from __future__ import annotations

from dash import html

from services.models import CheckResult

MARKS = {"ok": "✓", "warn": "!", "bad": "✕"}


def make_check_row(check: CheckResult) -> html.Li:
    status = "bad" if not check.ok else ("warn" if check.warning else "ok")
    body = [
        html.Div(
            [
                html.Span(check.label, className="bt-check-label"),
                html.Span(check.resource, className="bt-check-resource") if check.resource else None,
            ],
            className="bt-check-head",
        )
    ]
    if check.detail and not (check.ok and check.detail.lower() == "ok"):
        body.append(html.Div(check.detail, className="bt-check-detail"))
    if (check.warning or not check.ok) and check.fix:
        body.append(
            html.Div([html.Span("Fix: ", className="fw-semibold"), check.fix], className="bt-check-fix")
        )
    return html.Li(
        [html.Span(MARKS[status], className=f"bt-check-mark bt-check-{status}"), html.Div(body)],
        className=f"bt-check bt-check-row-{status}",
    )


def make_check_list(checks: list[CheckResult]) -> html.Div:
    """Failing checks first, each with its fix; a one-line verdict on top."""
    if not checks:
        return html.Div("No checks to run.", className="bt-help")
    failing = sum(not c.ok for c in checks)
    warnings = sum(c.ok and c.warning for c in checks)
    passing = f"All {len(checks)} checks pass" + (f", {warnings} with a warning." if warnings else ".")
    verdict = (
        html.Div(passing, className="bt-check-verdict text-success-emphasis")
        if not failing
        else html.Div(
            f"{failing} of {len(checks)} checks fail.", className="bt-check-verdict text-danger-emphasis"
        )
    )
    ordered = sorted(checks, key=lambda c: (c.ok, not c.warning))
    return html.Div([verdict, html.Ul([make_check_row(c) for c in ordered], className="bt-checks")])
