"""A list of CheckResults (preflight, connections): green or red, what was checked, the fix when red."""

from __future__ import annotations

from dash import html

from services.models import CheckResult


def make_check_row(check: CheckResult) -> html.Li:
    status = "ok" if check.ok else "bad"
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
    if not check.ok and check.fix:
        body.append(
            html.Div([html.Span("Fix: ", className="fw-semibold"), check.fix], className="bt-check-fix")
        )
    return html.Li(
        [html.Span("✓" if check.ok else "✕", className=f"bt-check-mark bt-check-{status}"), html.Div(body)],
        className=f"bt-check bt-check-row-{status}",
    )


def make_check_list(checks: list[CheckResult]) -> html.Div:
    """Failing checks first, each with its fix; a one-line verdict on top."""
    if not checks:
        return html.Div("No checks to run.", className="bt-help")
    failing = sum(not c.ok for c in checks)
    verdict = (
        html.Div(f"All {len(checks)} checks pass.", className="bt-check-verdict text-success-emphasis")
        if not failing
        else html.Div(
            f"{failing} of {len(checks)} checks fail.", className="bt-check-verdict text-danger-emphasis"
        )
    )
    ordered = sorted(checks, key=lambda c: c.ok)
    return html.Div([verdict, html.Ul([make_check_row(c) for c in ordered], className="bt-checks")])
