"""The audit trail's page (ids, filters, table, pager) and the sweep history table the Sweeps page shows."""

from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import dcc, html

from services.audit import AuditAction, AuditEvent, AuditPage, Outcome

OUTCOME_COLORS = {Outcome.OK: "success", Outcome.REFUSED: "warning", Outcome.FAILED: "danger"}
FILTER_MAX_CHARS = 200


class AuditIds:
    USER = "audit-user"
    SWEEP = "audit-sweep"
    ACTION = "audit-action"
    OUTCOME = "audit-outcome"
    DATES = "audit-dates"
    PAGE = "audit-page"
    TABLE = "audit-table"
    ALERT = "audit-alert"
    EXPORT = "audit-export"
    DOWNLOAD = "audit-download"


def _when(event: AuditEvent) -> str:
    return f"{event.at:%Y-%m-%d %H:%M:%S} UTC"


def _outcome(event: AuditEvent) -> html.Span:
    return dbc.Badge(event.outcome.value, color=OUTCOME_COLORS[event.outcome], class_name="bt-audit-outcome")


def make_audit_rows(events: list[AuditEvent], with_sweep: bool = True) -> dbc.Table:
    """One row per event, newest first: when (UTC), who and from where, what, on which sweep and run,
    how it went and why."""
    heads = [
        "When",
        "User",
        "Client",
        "Action",
        *(["Sweep"] if with_sweep else []),
        "Run",
        "Outcome",
        "Reason",
    ]
    rows = [
        html.Tr(
            [
                html.Td(_when(event), className="bt-nowrap"),
                html.Td(event.actor),
                html.Td(event.client or "—"),
                html.Td(event.action.value),
                *([html.Td(event.sweep or "—")] if with_sweep else []),
                html.Td(html.Code(event.run_id) if event.run_id else "—"),
                html.Td(_outcome(event)),
                html.Td(event.reason, className="bt-audit-reason"),
            ]
        )
        for event in events
    ]
    head = html.Thead(html.Tr([html.Th(text) for text in heads]))
    return dbc.Table([head, html.Tbody(rows)], size="sm", hover=True, class_name="bt-audit-table")


def make_sweep_history(events: list[AuditEvent] | None) -> html.Div:
    """The sweep's actions from the audit trail (None: the database did not answer)."""
    if events is None:
        return html.Div("The audit trail is unavailable right now.", className="bt-empty")
    if not events:
        return html.Div("No recorded actions yet.", className="bt-empty")
    return make_audit_rows(events, with_sweep=False)


def make_audit_result(page: AuditPage) -> html.Div:
    if not page.events:
        return html.Div("No actions match these filters.", className="bt-empty")
    first = (page.page - 1) * page.page_size + 1
    shown = f"{first}–{first + len(page.events) - 1} of {page.total}"
    return html.Div([html.Div(shown, className="bt-help"), make_audit_rows(page.events)])


def _text(id_: str, placeholder: str) -> dbc.Input:
    return dbc.Input(
        id=id_, placeholder=placeholder, maxLength=FILTER_MAX_CHARS, type="text", size="sm", debounce=True
    )


def _choice(id_: str, placeholder: str, values: list[str]) -> dcc.Dropdown:
    return dcc.Dropdown(
        id=id_, options=values, placeholder=placeholder, clearable=True, className="bt-audit-choice"
    )


def make_audit_layout() -> html.Div:
    return html.Div(
        [
            html.H2("Audit trail", className="bt-page-title"),
            html.P(
                "Every save, deploy, trigger, retry, cancel and kiosk-link change, allowed or not: who, from "
                "which address, when (UTC) and how it went. Nothing here can be edited or deleted.",
                className="bt-help",
            ),
            dbc.Row(
                [
                    dbc.Col(_text(AuditIds.USER, "User (exact)"), md=2),
                    dbc.Col(_text(AuditIds.SWEEP, "Sweep (exact)"), md=2),
                    dbc.Col(_choice(AuditIds.ACTION, "Any action", [a.value for a in AuditAction]), md=2),
                    dbc.Col(_choice(AuditIds.OUTCOME, "Any outcome", [o.value for o in Outcome]), md=2),
                    dbc.Col(
                        dcc.DatePickerRange(id=AuditIds.DATES, clearable=True, display_format="YYYY-MM-DD"),
                        md=3,
                    ),
                    dbc.Col(dbc.Button("Export CSV", id=AuditIds.EXPORT, size="sm", outline=True), md=1),
                ],
                class_name="g-2 mb-2 align-items-center",
            ),
            html.Div(id=AuditIds.ALERT),
            html.Div(id=AuditIds.TABLE),
            dbc.Pagination(id=AuditIds.PAGE, max_value=1, active_page=1, fully_expanded=False, size="sm"),
            dcc.Download(id=AuditIds.DOWNLOAD),
        ],
        className="bt-page",
    )
