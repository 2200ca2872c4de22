"""Audit trail: every recorded action, filtered, paged, exported as CSV; for admins (checked server-side)."""

from __future__ import annotations

from datetime import UTC, datetime

import dash
from dash import Input, Output, State, ctx, dcc
from dash.exceptions import PreventUpdate
from pydantic import ValidationError

from components.alerts import make_alert, make_error_alert
from components.audit_view import AuditIds as Ids
from components.audit_view import make_audit_layout, make_audit_result
from components.context import get_principal, get_services
from services.audit import AuditQuery

dash.register_page(
    __name__, path="/audit", title="Audit trail · Backtest Frontend", name="Audit", order=10, navbar=False
)

FILTERS = (
    State(Ids.USER, "value"),
    State(Ids.SWEEP, "value"),
    State(Ids.ACTION, "value"),
    State(Ids.OUTCOME, "value"),
    State(Ids.DATES, "start_date"),
    State(Ids.DATES, "end_date"),
)
FIELD_NAMES = {"since": "From date", "until": "To date", "action": "Action", "outcome": "Outcome"}


def layout(**_kwargs):
    return make_audit_layout()


def audit_query(user, sweep, action, outcome, since, until, page: int = 1) -> AuditQuery:
    """The filters as a query; ValueError naming the field and the fix when one is wrong."""
    try:
        query = AuditQuery(
            actor=(user or "").strip() or None,
            sweep=(sweep or "").strip() or None,
            action=action or None,
            outcome=outcome or None,
            since=since or None,
            until=until or None,
            page=page or 1,
        )
    except ValidationError as exc:
        field = str(exc.errors()[0]["loc"][0]) if exc.errors() else "filters"
        raise ValueError(
            f"{FIELD_NAMES.get(field, field)}: pick a value from the list or clear it."
        ) from None
    if query.since and query.until and query.since > query.until:
        raise ValueError("From date: it is after the To date; pick an earlier one, or clear it.")
    return query


@dash.callback(
    Output(Ids.TABLE, "children"),
    Output(Ids.PAGE, "max_value"),
    Output(Ids.PAGE, "active_page"),
    Input(Ids.USER, "value"),
    Input(Ids.SWEEP, "value"),
    Input(Ids.ACTION, "value"),
    Input(Ids.OUTCOME, "value"),
    Input(Ids.DATES, "start_date"),
    Input(Ids.DATES, "end_date"),
    Input(Ids.PAGE, "active_page"),
)
def show_page(user, sweep, action, outcome, since, until, page):
    """One page of the trail; a changed filter goes back to page 1."""
    page = page if ctx.triggered_id == Ids.PAGE else 1
    try:
        query = audit_query(user, sweep, action, outcome, since, until, page)
        result = get_services().audit.search(get_principal(), query)
    except ValueError as exc:
        return make_alert(str(exc), color="warning"), dash.no_update, dash.no_update
    except Exception as exc:
        return make_error_alert(exc, title="Cannot read the audit trail."), 1, 1
    return make_audit_result(result), result.pages, result.page


@dash.callback(
    Output(Ids.DOWNLOAD, "data"),
    Output(Ids.ALERT, "children"),
    Input(Ids.EXPORT, "n_clicks"),
    *FILTERS,
    prevent_initial_call=True,
)
def export(n_clicks, user, sweep, action, outcome, since, until):
    """The filtered trail as CSV (every page), for admins only: refused on the server otherwise."""
    if not n_clicks:
        raise PreventUpdate
    try:
        query = audit_query(user, sweep, action, outcome, since, until)
        text = get_services().audit.export_csv(get_principal(), query)
    except ValueError as exc:
        return dash.no_update, make_alert(str(exc), color="warning")
    except Exception as exc:
        return dash.no_update, make_error_alert(exc, title="No export.")
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    return dcc.send_string(text, f"audit-{stamp}.csv", type="text/csv"), None
