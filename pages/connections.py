"""Connections: every connection check of the current mode, with the fix when red; the settings in use."""

from __future__ import annotations

from datetime import datetime

import dash
import dash_bootstrap_components as dbc
from dash import Input, Output, ctx, dcc, html

from components.alerts import make_error_alert
from components.checks import make_check_list
from components.context import cached_checks, get_settings
from components.formatting import format_clock
from services.settings import Settings

dash.register_page(
    __name__, path="/connections", title="Connections · Backtest Frontend", name="Connections", order=3
)

REFRESH_MS = 30_000
CACHE_S = 10.0


class Ids:
    CHECKS = "connections-checks"
    CHECKED_AT = "connections-checked-at"
    REFRESH = "connections-refresh"
    INTERVAL = "connections-interval"
    SETTINGS = "connections-settings"


def settings_rows(settings: Settings) -> list[tuple[str, str]]:
    """The settings worth seeing when a check fails (never a secret)."""
    rows = [("Mode", settings.mode)]
    if settings.mode == "aws":
        rows += [
            ("AWS region", settings.aws_region),
            ("AWS profile", settings.aws_profile or "default chain"),
            ("MWAA environment", settings.mwaa_environment_name or "—"),
            ("DAGs", f"s3://{settings.s3_dags_bucket}/{settings.s3_dags_prefix}"),
            ("Results", settings.results_uri or "—"),
            ("Airflow UI", settings.airflow_webserver_url or "—"),
        ]
    else:
        rows += [
            ("Airflow API", settings.airflow_url),
            ("Airflow user", settings.airflow_username),
            ("DAGs folder", str(settings.local_dags_folder)),
            ("Results", str(settings.results_root)),
        ]
    rows += [
        ("Max grid points", f"{settings.max_grid_points:,}"),
        ("Status refresh", f"{settings.refresh_interval_s:g} s"),
    ]
    return rows


def _settings_list(settings: Settings) -> html.Dl:
    return html.Dl(
        [
            html.Div(
                [html.Dt(key, className="bt-kv-key"), html.Dd(value, className="bt-kv-value bt-mono")],
                className="bt-kv-row",
            )
            for key, value in settings_rows(settings)
        ],
        className="bt-kv",
    )


def layout(**_kwargs) -> html.Div:
    return html.Div(
        [
            dcc.Interval(id=Ids.INTERVAL, interval=REFRESH_MS),
            html.Div(
                [
                    html.H1("Connections", className="bt-page-title"),
                    html.Div(
                        [
                            html.Span(id=Ids.CHECKED_AT, className="bt-help m-0"),
                            dbc.Button(
                                "Test again", id=Ids.REFRESH, size="sm", color="primary", outline=True
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
                        dbc.Card(
                            [
                                dbc.CardHeader("Checks", class_name="bt-card-title"),
                                dbc.CardBody(dcc.Loading(html.Div(id=Ids.CHECKS), type="dot")),
                            ],
                            class_name="bt-card mb-3",
                        ),
                        lg=7,
                    ),
                    dbc.Col(
                        dbc.Card(
                            [
                                dbc.CardHeader("Settings in use", class_name="bt-card-title"),
                                dbc.CardBody(_settings_list(get_settings()), id=Ids.SETTINGS),
                            ],
                            class_name="bt-card mb-3",
                        ),
                        lg=5,
                    ),
                ],
                class_name="g-3",
            ),
        ],
        className="bt-page",
    )


@dash.callback(
    Output(Ids.CHECKS, "children"),
    Output(Ids.CHECKED_AT, "children"),
    Input(Ids.REFRESH, "n_clicks"),
    Input(Ids.INTERVAL, "n_intervals"),
)
def run_checks(_n_clicks, _n_intervals):
    """services.connections.check_all(), forced by the button, else at most once per CACHE_S."""
    try:
        checked_at, results = cached_checks(CACHE_S, force=ctx.triggered_id == Ids.REFRESH)
    except Exception as exc:
        return make_error_alert(exc, title="The checks could not run."), ""
    stamp = format_clock(datetime.fromtimestamp(checked_at))
    return make_check_list(results), f"checked at {stamp}"
