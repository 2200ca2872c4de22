"""Connections: every connection check of the current mode, with the fix when red; the settings in use."""

from __future__ import annotations

from datetime import datetime

import dash
from dash import Input, Output, ctx, html

from components.alerts import make_error_alert
from components.checks import make_check_list
from components.connections_layout import ConnectionsIds as Ids
from components.connections_layout import make_connections_layout
from components.connections_view import make_settings_list
from components.context import get_services, get_settings
from components.formatting import format_clock

dash.register_page(
    __name__, path="/connections", title="Connections · Backtest Frontend", name="Connections", order=6
)

CACHE_S = 10.0


def layout(**_kwargs) -> html.Div:
    return make_connections_layout(make_settings_list(get_settings()))


@dash.callback(
    Output(Ids.CHECKS, "children"),
    Output(Ids.CHECKED_AT, "children"),
    Input(Ids.REFRESH, "n_clicks"),
    Input(Ids.INTERVAL, "n_intervals"),
)
def run_checks(_n_clicks, _n_intervals):
    """services.connections.check_all(), forced by the button, else at most once per CACHE_S."""
    try:
        checked_at, results = get_services().connection_status.checks(
            CACHE_S, force=ctx.triggered_id == Ids.REFRESH
        )
    except Exception as exc:
        return make_error_alert(exc, title="The checks could not run."), ""
    stamp = format_clock(datetime.fromtimestamp(checked_at))
    return make_check_list(results), f"checked at {stamp}"
