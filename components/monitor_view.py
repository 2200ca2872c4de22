"""Component trees of the Monitor page: KPI cards, run header, best-points table, the sweeps table."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import dash_bootstrap_components as dbc
from dash import dcc, html

from components.formatting import format_duration, format_time
from components.states import state_name, state_style
from components.sweep_nav import monitor_href
from services.models import CompletionSummary, PointState, RunSummary, SweepStatus

METRIC_LABELS = {
    "sharpe": "Sharpe",
    "total_return": "Total return",
    "max_drawdown": "Max drawdown",
    "trades": "Trades",
}
PERCENT_METRICS = {"total_return", "max_drawdown"}


def make_state_badge(state: StrEnum, shown: StrEnum | None = None) -> html.Span:
    """`state`'s name on its colour from components.states; `shown` is the state whose colour it takes
    when that differs (a Batch status takes the colour of the point state it means)."""
    return html.Span(
        state_name(state),
        className="bt-state-badge",
        style={"backgroundColor": state_style(shown or state).color},
    )


def _kpi(label: str, value: str, sub: str = "", state: PointState | None = None) -> dbc.Col:
    marker = (
        html.Span(className="bt-kpi-marker", style={"backgroundColor": state_style(state).color})
        if state
        else None
    )
    return dbc.Col(
        html.Div(
            [
                html.Div([marker, label], className="bt-kpi-label"),
                html.Div(value, className="bt-kpi-value"),
                html.Div(sub, className="bt-kpi-sub"),
            ],
            className="bt-kpi",
        ),
        xs=6,
        md=4,
        xl=2,
    )


def make_kpis(status: SweepStatus) -> dbc.Row:
    """Points total / done / running / failed, elapsed, ETA."""
    counts = status.point_counts()
    total = status.points_total or len(status.point_states)
    # From the counts at hand: `status.coverage` would count the 10,000 point states once more.
    share = f"{counts[PointState.DONE] / total:.1%} of the grid" if total else ""
    queued = counts[PointState.QUEUED]
    return dbc.Row(
        [
            _kpi("Points", f"{total:,}", "in the grid"),
            _kpi("Done", f"{counts[PointState.DONE]:,}", share, PointState.DONE),
            _kpi("Running", f"{counts[PointState.RUNNING]:,}", f"{queued:,} queued", PointState.RUNNING),
            _kpi("Failed", f"{counts[PointState.FAILED]:,}", "points", PointState.FAILED),
            _kpi(
                "Elapsed",
                format_duration(status.elapsed_s),
                "since the run started" if status.elapsed_s else "",
            ),
            _kpi("ETA", format_duration(status.eta_s), _eta_note(status)),
        ],
        class_name="g-2 mb-3",
    )


def _eta_note(status: SweepStatus) -> str:
    if status.summary is not None or (status.run and status.run.end_date):
        return "run finished"
    return "at the current pace" if status.eta_s else ""


def make_run_header(status: SweepStatus, airflow_url: str) -> html.Div:
    run = status.run
    if run is None and status.stale:
        return html.Div("No run data: Airflow did not answer.", className="bt-help")
    if run is None:
        paused = " The DAG is paused." if status.is_paused else ""
        return html.Div(f"No run yet: trigger one on the Deploy page.{paused}", className="bt-help")
    return html.Div(
        [
            make_state_badge(run.state),
            html.Span(run.run_id, className="bt-mono bt-run-id"),
            html.Span(f"started {format_time(run.start_date)}", className="bt-help m-0"),
            html.Span(f"ended {format_time(run.end_date)}", className="bt-help m-0")
            if run.end_date
            else None,
            html.A(
                "Airflow UI ↗",
                href=airflow_url,
                target="_blank",
                rel="noopener noreferrer",
                className="ms-auto",
            ),
        ],
        className="bt-run-header",
    )


def _metric_text(name: str, value: float) -> str:
    if name in PERCENT_METRICS:
        return f"{value:.2%}"
    if name == "trades":
        return f"{value:,.0f}"
    return f"{value:,.3f}"


def make_best_table(summary: CompletionSummary, param_names: tuple[str, ...]) -> html.Div:
    """The completion summary: counts, and the best points by Sharpe with their parameters."""
    head = html.Div(
        f"{summary.points_done:,} points done, {summary.points_failed:,} failed.", className="bt-help mb-2"
    )
    if not summary.best:
        return html.Div([head, html.Div("No results to rank yet.", className="bt-help")])
    metrics = [m for m in METRIC_LABELS if any(m in row.metrics for row in summary.best)]
    columns = [html.Th("#"), html.Th("point"), *[html.Th(p) for p in param_names]]
    columns += [html.Th(METRIC_LABELS[m], className="bt-num") for m in metrics]
    rows = [
        html.Tr(
            [
                html.Td(rank),
                html.Td(row.index),
                *[html.Td(row.params.get(p, "—"), className="bt-mono") for p in param_names],
                *[
                    html.Td(_metric_text(m, row.metrics[m]) if m in row.metrics else "—", className="bt-num")
                    for m in metrics
                ],
            ]
        )
        for rank, row in enumerate(summary.best, start=1)
    ]
    table = dbc.Table(
        [html.Thead(html.Tr(columns)), html.Tbody(rows)],
        size="sm",
        hover=True,
        responsive=True,
        class_name="bt-table mb-0",
    )
    return html.Div([head, table])


@dataclass(frozen=True)
class SweepRow:
    """One line of the Monitor overview."""

    name: str
    strategy: str
    grid_size: int
    deployed: str
    runs: int
    latest: RunSummary | None
    problem: str = ""


def make_sweeps_table(rows: list[SweepRow]) -> html.Div:
    if not rows:
        return html.Div(
            ["No saved sweeps yet. ", dcc.Link("Configure one", href="/"), "."], className="bt-empty"
        )
    # "App runs": started from this app; the latest run is Airflow's newest, whoever started it
    numeric = {"Grid", "App runs"}
    header = ["Sweep", "Strategy", "Grid", "Deployed", "App runs", "Latest run", "Started"]
    body = []
    for row in rows:
        if row.latest is not None:
            state = make_state_badge(row.latest.state)
            started = format_time(row.latest.start_date)
        else:
            state = html.Span(row.problem or "never run", className="bt-help m-0")
            started = "—"
        body.append(
            html.Tr(
                [
                    html.Td(dcc.Link(row.name, href=monitor_href(row.name), className="bt-mono fw-semibold")),
                    html.Td(row.strategy),
                    html.Td(f"{row.grid_size:,}", className="bt-num"),
                    html.Td(row.deployed),
                    html.Td(row.runs, className="bt-num"),
                    html.Td(state),
                    html.Td(started),
                ]
            )
        )
    return dbc.Table(
        [
            html.Thead(html.Tr([html.Th(h, className="bt-num" if h in numeric else None) for h in header])),
            html.Tbody(body),
        ],
        hover=True,
        responsive=True,
        size="sm",
        class_name="bt-table mb-0",
    )
