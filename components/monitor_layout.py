"""The Monitor page's frames: its ids, the sweeps overview and one sweep's live dashboard."""

from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import dcc, html

from components.cards import make_card
from components.figures import blank
from components.sweep_nav import make_sweep_head

REFRESH_CHOICES_S = (2, 5, 15, 60)
OVERVIEW_REFRESH_MS = 30_000
GRAPH_CONFIG = {"displaylogo": False, "modeBarButtonsToRemove": ["lasso2d", "select2d"], "responsive": True}
STATIC_GRAPH_CONFIG = {"displayModeBar": False, "responsive": True}
LATEST_RUN = "latest"  # the run selector's value that follows the newest run
HEATMAP_VIEWS = (
    ("coverage", "Coverage (fraction done)"),
    ("sharpe", "Sharpe (mean)"),
    ("total_return", "Total return (mean)"),
    ("max_drawdown", "Max drawdown (mean)"),
)


class MonitorIds:
    # overview (/monitor)
    OVERVIEW = "monitor-overview"
    OVERVIEW_INTERVAL = "monitor-overview-interval"
    # one sweep (/monitor/<sweep>)
    NAME = "monitor-name"
    STATUS = "monitor-status"  # the SweepStatus of the last poll, without its per-point list
    RUN = "monitor-run"
    REFRESH = "monitor-refresh"
    LIVE = "monitor-live"
    INTERVAL = "monitor-interval"
    ERROR = "monitor-error"
    STALE = "monitor-stale"
    RUN_HEADER = "monitor-run-header"
    LABELS = "monitor-labels"  # synthetic data, optimistic fills, stops at closes (components/result_labels)
    LABELS_OF = "monitor-labels-of"  # the run whose result file the labels were read from
    KPIS = "monitor-kpis"
    TASKS = "monitor-tasks"
    STRIP = "monitor-strip"
    HEATMAP = "monitor-heatmap"
    VIEW = "monitor-view"
    X = "monitor-x"
    Y = "monitor-y"
    SUMMARY = "monitor-summary"
    SUMMARY_CARD = "monitor-summary-card"
    DOWNLOAD = "monitor-download"
    DOWNLOAD_BUTTON = "monitor-download-button"
    BATCH = "monitor-batch"  # AWS mode: the run's Batch jobs
    COVERAGE_TIME = "monitor-coverage-time"  # points done over time, with the ETA
    THROUGHPUT = "monitor-throughput"
    RUNS = "monitor-runs"  # the newest runs compared
    RUNS_CARD = "monitor-runs-card"  # shown when the sweep has two runs or more


def make_overview_layout() -> html.Div:
    return html.Div(
        [
            dcc.Interval(id=MonitorIds.OVERVIEW_INTERVAL, interval=OVERVIEW_REFRESH_MS),
            html.Div(html.H1("Monitor", className="bt-page-title"), className="bt-page-head"),
            make_card("Saved sweeps", dcc.Loading(html.Div(id=MonitorIds.OVERVIEW), type="dot")),
        ],
        className="bt-page",
    )


def _graph(graph_id: str, height: int, static: bool = False) -> dcc.Graph:
    config = STATIC_GRAPH_CONFIG if static else GRAPH_CONFIG
    return dcc.Graph(
        id=graph_id, figure=blank(), config=config, style={"height": f"{height}px"}, className="bt-graph"
    )


def _controls(refresh_ms: int) -> html.Div:
    refresh_options = [{"label": f"every {s} s", "value": s * 1000} for s in REFRESH_CHOICES_S]
    return html.Div(
        [
            dbc.InputGroup(
                [dbc.InputGroupText("Run"), dbc.Select(id=MonitorIds.RUN, options=[], value=LATEST_RUN)],
                size="sm",
                class_name="bt-run-pick",
            ),
            dbc.InputGroup(
                [
                    dbc.InputGroupText("Refresh"),
                    dbc.Select(id=MonitorIds.REFRESH, options=refresh_options, value=refresh_ms),
                ],
                size="sm",
                class_name="bt-refresh-pick",
            ),
            dbc.Switch(id=MonitorIds.LIVE, label="Live", value=True, class_name="bt-live mb-0"),
        ],
        className="bt-controls",
    )


def make_sweep_layout(name: str, refresh_ms: int, batch: bool = False) -> html.Div:
    """One sweep's dashboard; `batch` adds the Batch jobs card (AWS mode)."""
    axis = {"size": "sm"}
    heatmap_controls = html.Div(
        [
            dbc.Select(
                id=MonitorIds.VIEW,
                options=[{"label": t, "value": v} for v, t in HEATMAP_VIEWS],
                value="coverage",
                **axis,
            ),
            dbc.InputGroup([dbc.InputGroupText("x"), dbc.Select(id=MonitorIds.X, options=[])], **axis),
            dbc.InputGroup([dbc.InputGroupText("y"), dbc.Select(id=MonitorIds.Y, options=[])], **axis),
        ],
        className="bt-heatmap-controls",
    )
    download = dbc.Button(
        "Download results (CSV)", id=MonitorIds.DOWNLOAD_BUTTON, size="sm", color="link", class_name="p-0"
    )
    return html.Div(
        [
            dcc.Store(id=MonitorIds.NAME, data=name),
            dcc.Store(id=MonitorIds.STATUS),
            dcc.Store(id=MonitorIds.LABELS_OF),
            dcc.Download(id=MonitorIds.DOWNLOAD),
            dcc.Interval(id=MonitorIds.INTERVAL, interval=refresh_ms),
            html.Div(
                [
                    make_sweep_head("Monitor", name, "progress"),
                    _controls(refresh_ms),
                ],
                className="bt-page-head",
            ),
            html.Div(id=MonitorIds.ERROR),
            html.Div(id=MonitorIds.STALE),
            html.Div(id=MonitorIds.LABELS),
            html.Div(id=MonitorIds.RUN_HEADER, className="mb-3"),
            html.Div(id=MonitorIds.KPIS),
            dbc.Row(
                [
                    dbc.Col(make_card("Task states", _graph(MonitorIds.TASKS, 404, static=True)), lg=4),
                    dbc.Col(
                        make_card(
                            "Grid coverage",
                            [_graph(MonitorIds.STRIP, 84, static=True), _graph(MonitorIds.HEATMAP, 320)],
                            heatmap_controls,
                        ),
                        lg=8,
                    ),
                ],
                class_name="g-3",
            ),
            dbc.Row(
                [
                    dbc.Col(make_card("Coverage over time", _graph(MonitorIds.COVERAGE_TIME, 300)), lg=7),
                    dbc.Col(
                        make_card("Throughput · points per minute", _graph(MonitorIds.THROUGHPUT, 300)), lg=5
                    ),
                ],
                class_name="g-3",
            ),
            html.Div(
                make_card("Runs compared · share of the grid done", _graph(MonitorIds.RUNS, 320)),
                id=MonitorIds.RUNS_CARD,
                hidden=True,
            ),
            html.Div(
                make_card(
                    "Completion summary · best points by Sharpe", html.Div(id=MonitorIds.SUMMARY), download
                ),
                id=MonitorIds.SUMMARY_CARD,
                hidden=True,
            ),
            make_card("Batch jobs", html.Div(id=MonitorIds.BATCH)) if batch else None,
        ],
        className="bt-page",
    )
