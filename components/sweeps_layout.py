"""The Sweeps (history) page's ids and frame: the search, the grid and its columns, the action bar and
the confirmation dialog."""

from __future__ import annotations

import dash_ag_grid as dag
import dash_bootstrap_components as dbc
from dash import dcc, html

from components.states import state_name, state_style, states_in_order
from services.airflow.models import RunState

GRID_HEIGHT = "max(320px, calc(100vh - 480px))"  # room below for the selected sweep's detail
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
    PENDING = "sweeps-pending"  # {"token": ...}: the action itself waits on the server (services.pending)
    MODAL = "sweeps-modal"
    MODAL_BODY = "sweeps-modal-body"
    CONFIRM = "sweeps-confirm"
    DISMISS = "sweeps-dismiss"
    ALERT = "sweeps-alert"
    DETAIL = "sweeps-detail"


DAMAGED = "damaged"  # the grid's "Last run" value for a record that cannot be read


def _state_class_rules() -> dict[str, str]:
    """The run states' CSS classes (components.states) as AG Grid cellClassRules: class -> a JS test."""
    groups: dict[str, list[str]] = {}
    for state in states_in_order(RunState):
        groups.setdefault(state_style(state).css, []).append(f"params.value === '{state_name(state)}'")
    # An unreadable record (components.sweeps_damaged) reads like a failed run.
    groups.setdefault(state_style(RunState.FAILED).css, []).append(f"params.value === '{DAMAGED}'")
    return {css: " || ".join(tests) for css, tests in groups.items()}


def _number_column(field: str, header: str, shown_as: str, min_width: int) -> dict:
    """A right-aligned column filtered as numbers; `shown_as` is the JS expression its cells show."""
    return {
        "field": field,
        "headerName": header,
        "type": "rightAligned",
        "filter": "agNumberColumnFilter",
        "valueFormatter": {"function": shown_as},
        "minWidth": min_width,
    }


# What a reader scans first comes first (the run's state next to the sweep); every column keeps a
# minimum width that shows its header and values whole, and the grid scrolls sideways past that.
COLUMNS = [
    {"field": "name", "headerName": "Sweep", "pinned": "left", "minWidth": 200, "cellClass": "bt-mono"},
    {"field": "strategy", "headerName": "Strategy", "minWidth": 210},
    {"field": "owner", "headerName": "Owner", "minWidth": 100},
    # A damaged record has no grid: an empty cell, not "0".
    _number_column("grid_size", "Points", "params.value == null ? '' : d3.format(',')(params.value)", 100),
    {
        "field": "last_state",
        "headerName": "Last run",
        "minWidth": 120,
        "cellClassRules": _state_class_rules(),
    },
    {"field": "started", "headerName": "Started", "minWidth": 150},
    _number_column("duration_s", "Duration", "params.data.duration", 110),
    {
        "field": "runs",
        "headerName": "App runs",
        "headerTooltip": "Runs started from this app. The last-run columns, and a selected sweep's Runs "
        "list, show every run, whoever started it (Airflow's UI, its API, a schedule).",
        "type": "rightAligned",
        "minWidth": 125,  # the header and its filter icon, unclipped
    },
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
