"""The Sweeps (history) page: its ids, the grid's rows and columns, the action bar and the confirmation."""

from __future__ import annotations

from urllib.parse import quote, urlencode

import dash_ag_grid as dag
import dash_bootstrap_components as dbc
from dash import dcc, html

from components.monitor_view import format_duration
from services.models import RunSummary, SweepRecord

GRID_HEIGHT = "calc(100vh - 260px)"
UNAVAILABLE = "unavailable"
ACTIONS = {
    "retrigger": ("Re-trigger", "Start a new run of {name} with its deployed spec?"),
    "retry": (
        "Retry failed points",
        "Clear only the failed chunks of run {run_id} of {name} so they run again?",
    ),
    "cancel": ("Cancel run", "Mark run {run_id} of {name} failed and stop its remaining work?"),
}


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


def sweep_row(record: SweepRecord, latest: RunSummary | str | None) -> dict:
    """One grid row; `latest` is the newest run, None when never run, UNAVAILABLE when Airflow is down."""
    config = record.config
    run = latest if isinstance(latest, RunSummary) else None
    duration = None
    if run is not None and run.start_date is not None and run.end_date is not None:
        duration = (run.end_date - run.start_date).total_seconds()
    return {
        "name": record.name,
        "strategy": config.strategy,
        "owner": config.owner,
        "grid_size": config.grid_size,
        "created": record.created_at.astimezone().strftime("%Y-%m-%d %H:%M"),
        "deployed": record.deployed,
        "deployed_at": record.deployed_at.astimezone().strftime("%Y-%m-%d %H:%M")
        if record.deployed_at
        else "",
        "runs": len(record.run_ids),
        "last_run_id": run.run_id if run else (record.run_ids[0] if record.run_ids else ""),
        "last_state": run.state if run else (latest if latest == UNAVAILABLE else "never run"),
        "started": run.start_date.astimezone().strftime("%Y-%m-%d %H:%M") if run and run.start_date else "",
        "duration_s": duration,
        "duration": format_duration(duration) if duration is not None else "",
        "description": config.description,
    }


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
        "valueFormatter": {"function": "d3.format(',')(params.value)"},
        "minWidth": 100,
    },
    {
        "field": "last_state",
        "headerName": "Last run",
        "minWidth": 120,
        "cellClassRules": {
            "bt-cell-ok": "params.value === 'success'",
            "bt-cell-bad": "params.value === 'failed'",
            "bt-cell-run": "params.value === 'running' || params.value === 'queued'",
        },
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
        _action_button(ACTIONS["retrigger"][0], SweepsIds.RETRIGGER, "primary"),
        _action_button(ACTIONS["retry"][0], SweepsIds.RETRY, "warning"),
        _action_button(ACTIONS["cancel"][0], SweepsIds.CANCEL, "danger"),
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
            make_confirm_modal(),
        ],
        className="bt-page",
    )
