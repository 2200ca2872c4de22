"""The Sweeps (history) page: its ids, the grid's rows and columns, the action bar and the confirmation."""

from __future__ import annotations

from urllib.parse import quote, urlencode

import dash_ag_grid as dag
import dash_bootstrap_components as dbc
from dash import dcc, html

from components.cards import CARD_CLASS, make_card
from components.deploy_view import kv_row, make_sweep_summary
from components.monitor_view import format_duration, format_minute
from services.models import RunSummary, SweepRecord

GRID_HEIGHT = "max(320px, calc(100vh - 480px))"  # room below for the selected sweep's detail
UNAVAILABLE = "unavailable"
ACTIONS = {
    "retrigger": ("Re-trigger", "Start a new run of {name} with its deployed spec?"),
    "retry": (
        "Retry failed points",
        "Clear only the failed chunks of run {run_id} of {name} so they run again?",
    ),
    "cancel": ("Cancel run", "Mark run {run_id} of {name} failed and stop its remaining work?"),
}
ACTION_COLORS = {"retrigger": "primary", "retry": "warning", "cancel": "danger"}


class SweepsIds:
    GRID = "sweeps-grid"
    SEARCH = "sweeps-search"
    REFRESH = "sweeps-refresh"
    TOUCHED = "sweeps-touched"  # bumped after an action: reload the rows
    SELECTION = "sweeps-selection"
    CLONE = "sweeps-clone"
    MONITOR = "sweeps-monitor"
    RESULTS = "sweeps-results"
    RETRIGGER = "sweeps-retrigger"
    RETRY = "sweeps-retry"
    CANCEL = "sweeps-cancel"
    PENDING = "sweeps-pending"  # the action waiting for confirmation: {action, name, run_id}
    MODAL = "sweeps-modal"
    MODAL_BODY = "sweeps-modal-body"
    CONFIRM = "sweeps-confirm"
    DISMISS = "sweeps-dismiss"
    ALERT = "sweeps-alert"
    GRID_THEME = "sweeps-grid-theme"
    DETAIL = "sweeps-detail"


def _duration_s(run: RunSummary | None) -> float | None:
    """How long a finished run took; None while it runs, or with no run."""
    if run is None or run.start_date is None or run.end_date is None:
        return None
    return (run.end_date - run.start_date).total_seconds()


def _duration_text(run: RunSummary | None) -> str:
    seconds = _duration_s(run)
    return format_duration(seconds) if seconds is not None else ""


def sweep_row(record: SweepRecord, latest: RunSummary | str | None) -> dict:
    """One grid row; `latest` is the newest run, None when never run, UNAVAILABLE when Airflow is down."""
    config = record.config
    run = latest if isinstance(latest, RunSummary) else None
    return {
        "name": record.name,
        "strategy": config.strategy,
        "owner": config.owner,
        "grid_size": config.grid_size,
        "created": format_minute(record.created_at),
        "deployed": record.deployed,
        "deployed_at": format_minute(record.deployed_at),
        "runs": len(record.run_ids),
        "last_run_id": run.run_id if run else (record.run_ids[0] if record.run_ids else ""),
        "last_state": run.state if run else (latest if latest == UNAVAILABLE else "never run"),
        "started": format_minute(run.start_date) if run else "",
        "duration_s": _duration_s(run),
        "duration": _duration_text(run),
        "description": config.description,
    }


STATE_CLASSES = {
    "success": "bt-cell-ok",
    "failed": "bt-cell-bad",
    "running": "bt-cell-run",
    "queued": "bt-cell-run",
    "damaged": "bt-cell-bad",  # an unreadable record (components.sweeps_damaged)
}


def _state_class_rules() -> dict[str, str]:
    """STATE_CLASSES as AG Grid cellClassRules: class -> a JS condition on the cell's value."""
    groups: dict[str, list[str]] = {}
    for state, css in STATE_CLASSES.items():
        groups.setdefault(css, []).append(f"params.value === '{state}'")
    return {css: " || ".join(tests) for css, tests in groups.items()}


# What a reader scans first comes first (the run's state next to the sweep); every column keeps a
# minimum width that shows its header and values whole, and the grid scrolls sideways past that.
COLUMNS = [
    {"field": "name", "headerName": "Sweep", "pinned": "left", "minWidth": 200, "cellClass": "bt-mono"},
    {"field": "strategy", "headerName": "Strategy", "minWidth": 210},
    {"field": "owner", "headerName": "Owner", "minWidth": 100},
    {
        "field": "grid_size",
        "headerName": "Points",
        "type": "rightAligned",
        "filter": "agNumberColumnFilter",
        # A damaged record has no grid: an empty cell, not "0".
        "valueFormatter": {"function": "params.value == null ? '' : d3.format(',')(params.value)"},
        "minWidth": 100,
    },
    {
        "field": "last_state",
        "headerName": "Last run",
        "minWidth": 120,
        "cellClassRules": _state_class_rules(),
    },
    {"field": "started", "headerName": "Started", "minWidth": 150},
    {
        "field": "duration_s",
        "headerName": "Duration",
        "type": "rightAligned",
        "filter": "agNumberColumnFilter",
        "valueFormatter": {"function": "params.data.duration"},
        "minWidth": 110,
    },
    {"field": "runs", "headerName": "Runs", "type": "rightAligned", "minWidth": 90},
    {"field": "created", "headerName": "Created", "sort": "desc", "minWidth": 150},
    {"field": "deployed", "headerName": "Deployed", "minWidth": 115},
    {"field": "deployed_at", "headerName": "Deployed at", "minWidth": 150},
    {"field": "last_run_id", "headerName": "Last run id", "cellClass": "bt-mono", "minWidth": 320},
]


def make_grid() -> dag.AgGrid:
    return dag.AgGrid(
        id=SweepsIds.GRID,
        columnDefs=COLUMNS,
        rowData=[],
        defaultColDef={"sortable": True, "filter": True, "resizable": True, "flex": 1},
        dashGridOptions={
            "rowSelection": {"mode": "singleRow", "checkboxes": False, "enableClickSelection": True},
            "animateRows": False,
            "quickFilterText": "",
            "localeText": {"noRowsToShow": "No saved sweeps yet: configure one first."},
        },
        getRowId="params.data.name",
        style={"height": GRID_HEIGHT, "width": "100%"},
        className="bt-grid",
    )


def _action_button(label: str, button_id: str, color: str) -> dbc.Button:
    return dbc.Button(label, id=button_id, color=color, outline=True, size="sm", disabled=True)


def make_action_bar() -> html.Div:
    links = [
        dbc.Button(
            "Clone into Configure", id=SweepsIds.CLONE, color="primary", size="sm", href="/", disabled=True
        ),
        dbc.Button(
            "Monitor", id=SweepsIds.MONITOR, color="secondary", outline=True, size="sm", disabled=True
        ),
        dbc.Button(
            "Results", id=SweepsIds.RESULTS, color="secondary", outline=True, size="sm", disabled=True
        ),
    ]
    actions = [
        _action_button(ACTIONS["retrigger"][0], SweepsIds.RETRIGGER, ACTION_COLORS["retrigger"]),
        _action_button(ACTIONS["retry"][0], SweepsIds.RETRY, ACTION_COLORS["retry"]),
        _action_button(ACTIONS["cancel"][0], SweepsIds.CANCEL, ACTION_COLORS["cancel"]),
    ]
    return html.Div(
        [
            html.Div(id=SweepsIds.SELECTION, className="bt-sweeps-selection", children="Select a sweep."),
            html.Div(links, className="bt-sweeps-buttons"),
            html.Div(actions, className="bt-sweeps-buttons"),
        ],
        className="bt-sweeps-actions",
    )


def selection_links(row: dict) -> dict:
    """The hrefs of the selected row's Clone, Monitor and Results buttons."""
    name = quote(row["name"])
    return {
        "clone": "/?" + urlencode({"clone": row["name"]}),
        "monitor": f"/monitor/{name}",
        "results": f"/results/{name}",
    }


def make_runs_table(runs: list[RunSummary] | None, recorded: list[str]) -> html.Table | html.Div:
    """The sweep's runs, newest first, as Airflow lists them; the recorded run ids when it cannot."""
    if runs is None:
        if not recorded:
            return html.Div("No runs yet.", className="bt-help")
        rows = [(run_id, UNAVAILABLE, "", "") for run_id in recorded]
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
                    html.Td(state, className=STATE_CLASSES.get(state, "")),
                    html.Td(started),
                    html.Td(duration, className="text-end"),
                ]
            )
            for run_id, state, started, duration in rows
        ]
    )
    return html.Table([head, body], className="table table-sm bt-sweeps-runs")


def make_sweep_detail(record: SweepRecord, runs: list[RunSummary] | None) -> html.Div:
    """The selected sweep whole: its spec and deployment, its grid expressions, and its runs
    (`runs` is None when Airflow could not be asked)."""
    grid = html.Dl(
        [kv_row(name, expression, mono=True) for name, expression in record.config.params.items()],
        className="bt-kv",
    )
    tall = f"{CARD_CLASS} h-100"
    return dbc.Row(
        [
            dbc.Col(make_card("Spec and deployment", make_sweep_summary(record), class_name=tall), lg=5),
            dbc.Col(make_card("Grid expressions", grid, class_name=tall), lg=3),
            dbc.Col(make_card("Runs", make_runs_table(runs, record.run_ids), class_name=tall), lg=4),
        ],
        class_name="g-3 mt-1",
    )


def make_confirm_modal() -> dbc.Modal:
    return dbc.Modal(
        [
            dbc.ModalHeader(dbc.ModalTitle("Please confirm")),
            dbc.ModalBody(id=SweepsIds.MODAL_BODY),
            dbc.ModalFooter(
                [
                    dbc.Button("Keep as is", id=SweepsIds.DISMISS, color="secondary", outline=True),
                    dbc.Button("Confirm", id=SweepsIds.CONFIRM, color="danger"),
                ]
            ),
        ],
        id=SweepsIds.MODAL,
        is_open=False,
        centered=True,
    )


def make_sweeps_layout() -> html.Div:
    return html.Div(
        [
            dcc.Store(id=SweepsIds.PENDING),
            dcc.Store(id=SweepsIds.TOUCHED, data=0),
            dcc.Store(id=SweepsIds.GRID_THEME),
            html.Div(
                [
                    html.H1("Sweep history", className="bt-page-title"),
                    html.Div(
                        [
                            dbc.Input(
                                id=SweepsIds.SEARCH,
                                type="search",
                                placeholder="Search name, strategy, owner, state…",
                                debounce=False,
                                class_name="bt-sweeps-search",
                            ),
                            dbc.Button("Refresh", id=SweepsIds.REFRESH, color="secondary", outline=True),
                        ],
                        className="bt-sweeps-tools",
                    ),
                ],
                className="bt-page-head",
            ),
            html.Div(id=SweepsIds.ALERT),
            make_action_bar(),
            make_grid(),
            html.Div(id=SweepsIds.DETAIL, className="bt-sweeps-detail", hidden=True),
            make_confirm_modal(),
        ],
        className="bt-page",
    )
