"""Component trees of the Results page: the index of run sweeps, metric choices, fixed-value selectors,
the top-N table's rows and columns."""

from __future__ import annotations

import dash_bootstrap_components as dbc
import pandas as pd
from dash import dcc, html

from components.figures_results import metric_label
from components.results_layout import ALL_VALUES, ResultsIds
from components.sweep_nav import results_href
from services.models import SweepRecord

METRIC_ORDER = (
    "sharpe",
    "cagr",
    "total_return",
    "max_drawdown",
    "sortino",
    "win_rate",
    "annual_volatility",
    "trades",
    "turnover",
)
PERCENT_METRICS = ("cagr", "total_return", "max_drawdown", "win_rate", "annual_volatility")


def metric_options(columns) -> list[dict]:
    present = [m for m in METRIC_ORDER if m in columns]
    return [{"label": metric_label(m), "value": m} for m in present]


def make_fixed_selectors(params: dict[str, list]) -> list:
    """One selector per parameter: a fixed value, or every value aggregated (the default)."""
    return [
        dbc.Col(
            [
                dbc.Label(name, class_name="bt-label bt-mono"),
                dcc.Dropdown(
                    id=ResultsIds.fixed(name),
                    options=[{"label": "all (aggregate)", "value": ALL_VALUES}]
                    + [{"label": str(v), "value": v} for v in values],
                    value=ALL_VALUES,
                    clearable=False,
                ),
            ],
            xs=6,
            md=3,
            lg=2,
        )
        for name, values in params.items()
    ]


def top_columns(params, metrics) -> list[dict]:
    """The top-N table's columns: rank, point index, parameters, then every metric."""
    columns = [
        {"field": "rank", "headerName": "#", "maxWidth": 64, "pinned": "left"},
        {"field": "index", "headerName": "Point", "maxWidth": 90, "pinned": "left"},
    ]
    columns += [{"field": name, "headerName": name, "cellClass": "bt-mono"} for name in params]
    for metric in metrics:
        fmt = (
            "d3.format('.1%')(params.value)"
            if metric in PERCENT_METRICS
            else "d3.format('.3~f')(params.value)"
        )
        columns.append(
            {
                "field": metric,
                "headerName": metric_label(metric),
                "type": "rightAligned",
                "valueFormatter": {"function": f"params.value == null ? '' : {fmt}"},
            }
        )
    return columns


def top_rows(top: pd.DataFrame) -> list[dict]:
    rows = top.assign(rank=range(1, len(top) + 1), row_id=[str(int(i)) for i in top["index"]])
    return rows.astype(object).where(rows.notna(), None).to_dict("records")


def make_results_index(records: list[SweepRecord]) -> html.Div:
    """`/results`: the sweeps that were run, each a link to its results."""
    items = [
        dbc.ListGroupItem(
            [
                html.Span(r.name, className="bt-mono"),
                html.Span(f" · {r.config.strategy} · {len(r.run_ids)} run(s)"),
            ],
            href=results_href(r.name),
        )
        for r in records
    ] or [dbc.ListGroupItem("No sweep has been run yet.")]
    return html.Div(
        [html.H1("Results", className="bt-page-title"), dbc.ListGroup(items)], className="bt-page"
    )
