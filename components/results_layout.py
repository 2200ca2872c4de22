"""The Results page's ids and frame: controls, the heatmap, parallel coordinates, top-N and equity cards."""

from __future__ import annotations

import dash_ag_grid as dag
import dash_bootstrap_components as dbc
from dash import dcc, html
from pydantic import BaseModel

from components.cards import TALL_CARD_CLASS, make_card
from components.figures import blank
from components.figures_results import METRIC_LABELS
from components.monitor_layout import GRAPH_CONFIG
from components.sweep_nav import make_sweep_head
from components.validation_panel import ValidationIds, make_heatmap_mode, make_rank_by, make_validation_card
from services.results_analysis import AGGREGATES

ALL_VALUES = "__all__"  # a fixed-parameter selector's "aggregate over every value"
TOP_N = 20
RESULTS_REFRESH_MS = 10_000
TOP_GRID_HEIGHT = "360px"
GRAPH_HEIGHT = "440px"
DEFAULT_METRIC = "sharpe"
# How the parameters off the heatmap's axes are summed up: the best (max, or min for lower-is-better
# metrics; the heatmap says which) or the mean.
DEFAULT_AGGREGATE = AGGREGATES[0]


class ShownTable(BaseModel):
    """What the DATA store holds: the run whose results table the page shows, and its rows when read."""

    run_id: str
    rows: int


class ResultsIds:
    NAME = "results-name"
    DATA = "results-data"  # a ShownTable: the table the page shows was (re)loaded
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
    LABELS = "results-labels"  # synthetic data, optimistic fills, stops at closes (components/result_labels)
    CSV = "results-csv"
    PARQUET = "results-parquet"
    DOWNLOAD = "results-download"

    @staticmethod
    def fixed(param: str) -> dict:
        return {"type": ResultsIds.FIXED, "param": param}


def _labelled(label: str, control, width: int | None = None) -> dbc.Col:
    return dbc.Col([dbc.Label(label, class_name="bt-label"), control], md=width, xs=12, sm=6)


def _card(title, body, extra=None) -> dbc.Card:
    return make_card(title, body, extra, class_name=TALL_CARD_CLASS)


def _graph(graph_id: str, height: str) -> dcc.Graph:
    return dcc.Graph(id=graph_id, figure=blank(), config=GRAPH_CONFIG, style={"height": height})


def make_results_layout(name: str, refresh_ms: int = RESULTS_REFRESH_MS) -> html.Div:
    controls = dbc.Row(
        [
            _labelled("Run", dcc.Dropdown(id=ResultsIds.RUN, clearable=False), 3),
            _labelled(
                "Metric",
                dcc.Dropdown(
                    id=ResultsIds.METRIC,
                    value=DEFAULT_METRIC,
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
                    options=[{"label": how, "value": how} for how in AGGREGATES],
                    value=DEFAULT_AGGREGATE,
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
            dbc.Button("Export JSON", id=ValidationIds.JSON, color="secondary", outline=True, size="sm"),
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
            html.Div(id=ResultsIds.LABELS),
            make_card(None, [controls, dbc.Row(id=ResultsIds.FIXED_ROW, class_name="g-2")]),
            html.Div(make_validation_card(), className="mb-3"),
            dbc.Row(
                [
                    dbc.Col(
                        _card(
                            "Metric over two parameters",
                            _graph(ResultsIds.HEATMAP, GRAPH_HEIGHT),
                            make_heatmap_mode(),
                        ),
                        lg=7,
                    ),
                    dbc.Col(_card("All points", _graph(ResultsIds.PARCOORDS, GRAPH_HEIGHT)), lg=5),
                ],
                class_name="g-3 mb-3",
            ),
            dbc.Row(
                [
                    dbc.Col(
                        _card(f"Top {TOP_N} points", [make_rank_by(), make_top_grid()]),
                        lg=7,
                    ),
                    dbc.Col(_card("Equity curve", _graph(ResultsIds.EQUITY, TOP_GRID_HEIGHT)), lg=5),
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
        style={"height": TOP_GRID_HEIGHT, "width": "100%"},
        className="bt-grid",
    )
