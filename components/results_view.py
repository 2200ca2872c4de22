"""The Results page: its ids, controls, cards and the top-N table."""

from __future__ import annotations

import dash_ag_grid as dag
import dash_bootstrap_components as dbc
import pandas as pd
from dash import dcc, html

from components.cards import CARD_CLASS, make_card
from components.figures import blank
from components.figures_results import METRIC_LABELS, metric_label
from components.monitor_layout import GRAPH_CONFIG
from components.sweep_nav import make_sweep_head

ALL_VALUES = "__all__"  # a fixed-parameter selector's "aggregate over every value"
TOP_N = 20
RESULTS_REFRESH_MS = 10_000
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


class ResultsIds:
    NAME = "results-name"
    DATA = "results-data"  # {run_id, rows}: the table the page shows was (re)loaded
    INTERVAL = "results-interval"
    RUN = "results-run"
    METRIC = "results-metric"
    X = "results-x"
    Y = "results-y"
    AGGREGATE = "results-aggregate"
    FIXED = "results-fixed"  # pattern-matching type: one selector per other parameter
    FIXED_ROW = "results-fixed-row"
    HEATMAP = "results-heatmap"
    PARCOORDS = "results-parcoords"
    TOP = "results-top"
    EQUITY = "results-equity"
    COUNT = "results-count"
    ERROR = "results-error"
    CSV = "results-csv"
    PARQUET = "results-parquet"
    DOWNLOAD = "results-download"

    @staticmethod
    def fixed(param: str) -> dict:
        return {"type": ResultsIds.FIXED, "param": param}


def metric_options(columns) -> list[dict]:
    present = [m for m in METRIC_ORDER if m in columns]
    return [{"label": metric_label(m), "value": m} for m in present]


def _labelled(label: str, control, width: int | None = None) -> dbc.Col:
    return dbc.Col([dbc.Label(label, class_name="bt-label"), control], md=width, xs=12, sm=6)


def _card(title, body, extra=None) -> dbc.Card:
    return make_card(title, body, extra, class_name=f"{CARD_CLASS} h-100")


def _graph(graph_id: str, height: str) -> dcc.Graph:
    return dcc.Graph(id=graph_id, figure=blank(), config=GRAPH_CONFIG, style={"height": height})


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


def make_results_layout(name: str, refresh_ms: int = RESULTS_REFRESH_MS) -> html.Div:
    controls = dbc.Row(
        [
            _labelled("Run", dcc.Dropdown(id=ResultsIds.RUN, clearable=False), 3),
            _labelled(
                "Metric",
                dcc.Dropdown(
                    id=ResultsIds.METRIC,
                    value="sharpe",
                    clearable=False,
                    options=[{"label": v, "value": k} for k, v in METRIC_LABELS.items()],
                ),
                2,
            ),
            _labelled("Heatmap x", dcc.Dropdown(id=ResultsIds.X, clearable=False), 2),
            _labelled("Heatmap y", dcc.Dropdown(id=ResultsIds.Y, clearable=False), 2),
            _labelled(
                "Other parameters",
                dbc.RadioItems(
                    id=ResultsIds.AGGREGATE,
                    options=[{"label": "max", "value": "max"}, {"label": "mean", "value": "mean"}],
                    value="max",
                    inline=True,
                    class_name="bt-results-agg",
                ),
                3,
            ),
        ],
        class_name="g-3 mb-2",
    )
    exports = html.Div(
        [
            dbc.Button("Export CSV", id=ResultsIds.CSV, color="secondary", outline=True, size="sm"),
            dbc.Button("Export Parquet", id=ResultsIds.PARQUET, color="secondary", outline=True, size="sm"),
            dcc.Download(id=ResultsIds.DOWNLOAD),
        ],
        className="bt-results-exports",
    )
    return html.Div(
        [
            dcc.Store(id=ResultsIds.NAME, data=name),
            dcc.Store(id=ResultsIds.DATA),
            dcc.Interval(id=ResultsIds.INTERVAL, interval=refresh_ms),
            html.Div(
                [
                    make_sweep_head("Results", name, "results"),
                    html.Div(id=ResultsIds.COUNT, className="bt-results-count"),
                    html.Div(exports, className="bt-results-head-tools"),
                ],
                className="bt-page-head",
            ),
            html.Div(id=ResultsIds.ERROR),
            dbc.Card(
                dbc.CardBody([controls, dbc.Row(id=ResultsIds.FIXED_ROW, class_name="g-2")]),
                class_name="bt-card mb-3",
            ),
            dbc.Row(
                [
                    dbc.Col(_card("Metric over two parameters", _graph(ResultsIds.HEATMAP, "440px")), lg=7),
                    dbc.Col(_card("All points", _graph(ResultsIds.PARCOORDS, "440px")), lg=5),
                ],
                class_name="g-3 mb-3",
            ),
            dbc.Row(
                [
                    dbc.Col(
                        _card(
                            f"Best {TOP_N} points",
                            make_top_grid(),
                            html.Span("select a row for its equity curve", className="bt-help ms-2"),
                        ),
                        lg=7,
                    ),
                    dbc.Col(_card("Equity curve", _graph(ResultsIds.EQUITY, "360px")), lg=5),
                ],
                class_name="g-3",
            ),
        ],
        className="bt-page",
    )


def make_top_grid() -> dag.AgGrid:
    return dag.AgGrid(
        id=ResultsIds.TOP,
        rowData=[],
        columnDefs=[],
        defaultColDef={"sortable": True, "resizable": True, "flex": 1, "minWidth": 90},
        dashGridOptions={
            "rowSelection": {"mode": "singleRow", "checkboxes": False, "enableClickSelection": True},
            "animateRows": False,
            "localeText": {"noRowsToShow": "No finished points yet."},
        },
        getRowId="params.data.row_id",
        style={"height": "360px", "width": "100%"},
        className="bt-grid",
    )


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
