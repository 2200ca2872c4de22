"""The Connections page's ids and frame: the checks card and the settings in use."""

from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import dcc, html

from components.cards import make_card

REFRESH_MS = 30_000


class ConnectionsIds:
    CHECKS = "connections-checks"
    CHECKED_AT = "connections-checked-at"
    REFRESH = "connections-refresh"
    INTERVAL = "connections-interval"
    SETTINGS = "connections-settings"


def make_connections_layout(settings_list) -> html.Div:
    """The page; `settings_list` is the settings in use, rendered (components.connections_view)."""
    return html.Div(
        [
            dcc.Interval(id=ConnectionsIds.INTERVAL, interval=REFRESH_MS),
            html.Div(
                [
                    html.H1("Connections", className="bt-page-title"),
                    html.Div(
                        [
                            html.Span(id=ConnectionsIds.CHECKED_AT, className="bt-help m-0"),
                            dbc.Button(
                                "Test again",
                                id=ConnectionsIds.REFRESH,
                                size="sm",
                                color="primary",
                                outline=True,
                            ),
                        ],
                        className="d-flex align-items-center gap-3",
                    ),
                ],
                className="bt-page-head",
            ),
            dbc.Row(
                [
                    dbc.Col(
                        make_card("Checks", dcc.Loading(html.Div(id=ConnectionsIds.CHECKS), type="dot")), lg=7
                    ),
                    dbc.Col(
                        make_card("Settings in use", html.Div(settings_list, id=ConnectionsIds.SETTINGS)),
                        lg=5,
                    ),
                ],
                class_name="g-3",
            ),
        ],
        className="bt-page",
    )
