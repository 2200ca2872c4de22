"""Component trees of the Sweeps (history) page: the grid's rows, the selected sweep's detail and runs."""

from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import html

from components.audit_view import make_sweep_history
from components.cards import TALL_CARD_CLASS, make_card
from components.deploy_view import kv_row, make_sweep_summary
from components.formatting import format_duration, format_minute
from components.states import state_name, state_style
from components.sweep_nav import clone_href, monitor_href, results_href
from services.audit import AuditEvent
from services.models import RunSummary, SweepRecord, SweepSummary

UNAVAILABLE = "unavailable"  # the last run's state when Airflow does not answer
NEVER_RUN = "never run"


def _duration_s(run: RunSummary | None) -> float | None:
    """How long a finished run took; None while it runs, or with no run."""
    if run is None or run.start_date is None or run.end_date is None:
        return None
    return (run.end_date - run.start_date).total_seconds()


def _duration_text(run: RunSummary | None) -> str:
    seconds = _duration_s(run)
    return format_duration(seconds) if seconds is not None else ""


def _last_state(summary: SweepSummary, run: RunSummary | None, unavailable: bool) -> str:
    if run is not None:
        return state_name(run.state)
    if unavailable and summary.runs:
        return UNAVAILABLE
    return NEVER_RUN


def sweep_row(summary: SweepSummary, run: RunSummary | None, unavailable: bool = False) -> dict:
    """One grid row; `run` is the newest run (None when never run, or when Airflow is down: `unavailable`)."""
    return {
        "name": summary.name,
        "strategy": summary.strategy,
        "owner": summary.owner,
        "grid_size": summary.grid_size,
        "created": format_minute(summary.created_at),
        "deployed": summary.deployed,
        "deployed_at": format_minute(summary.deployed_at),
        "runs": summary.runs,
        "last_run_id": run.run_id if run else summary.last_run_id,
        "last_state": _last_state(summary, run, unavailable),
        "started": format_minute(run.start_date) if run else "",
        "duration_s": _duration_s(run),
        "duration": _duration_text(run),
        "description": summary.description,
    }


def selection_links(row: dict) -> dict:
    """The hrefs of the selected row's Clone, Monitor and Results buttons."""
    name = row["name"]
    return {"clone": clone_href(name), "monitor": monitor_href(name), "results": results_href(name)}


def make_runs_table(runs: list[RunSummary] | None, recorded: list[str]) -> html.Table | html.Div:
    """The sweep's runs, newest first, as Airflow lists them; the recorded run ids when it cannot."""
    if runs is None:
        if not recorded:
            return html.Div("No runs yet.", className="bt-help")
        rows = [(run_id, None, "", "") for run_id in recorded]
    else:
        if not runs:
            return html.Div("No runs yet.", className="bt-help")
        rows = [(run.run_id, run.state, format_minute(run.start_date), _duration_text(run)) for run in runs]
    head = html.Thead(html.Tr([html.Th(h) for h in ("Run id", "State", "Started", "Duration")]))
    body = html.Tbody(
        [
            html.Tr(
                [
                    html.Td(run_id, className="bt-mono"),
                    html.Td(state_name(state), className=state_style(state).css)
                    if state is not None
                    else html.Td(UNAVAILABLE),
                    html.Td(started),
                    html.Td(duration, className="text-end"),
                ]
            )
            for run_id, state, started, duration in rows
        ]
    )
    return html.Table([head, body], className="table table-sm bt-sweeps-runs")


def make_sweep_detail(
    record: SweepRecord, runs: list[RunSummary] | None, history: list[AuditEvent] | None
) -> html.Div:
    """The selected sweep whole: its spec and deployment, its grid expressions, its runs (`runs` is None
    when Airflow could not be asked) and its recorded actions (`history`: None when the database did not)."""
    grid = html.Dl(
        [kv_row(name, expression, mono=True) for name, expression in record.config.params.items()],
        className="bt-kv",
    )
    return dbc.Row(
        [
            dbc.Col(
                make_card("Spec and deployment", make_sweep_summary(record), class_name=TALL_CARD_CLASS), lg=5
            ),
            dbc.Col(make_card("Grid expressions", grid, class_name=TALL_CARD_CLASS), lg=3),
            dbc.Col(
                make_card("Runs", make_runs_table(runs, record.run_ids), class_name=TALL_CARD_CLASS), lg=4
            ),
            dbc.Col(make_card("History (audit trail)", make_sweep_history(history)), lg=12),
        ],
        class_name="g-3 mt-1",
    )
