"""Sweeps: the history of every saved sweep; clone, re-trigger, retry failed points, cancel a run."""

from __future__ import annotations

import logging

import dash
from dash import Input, Output, State, clientside_callback, ctx
from dash.exceptions import PreventUpdate

from components.alerts import make_alert, make_error_alert
from components.context import get_principal, get_services
from components.formatting import format_minute
from components.result_labels import make_run_labels
from components.shell import ShellIds
from components.sweep_nav import CONFIGURE_PATH, RUNS_LISTED
from components.sweeps_damaged import SweepsDamagedIds, damaged_row, make_damaged_detail
from components.sweeps_layout import ACTION_COLORS, ACTIONS, make_sweeps_layout
from components.sweeps_layout import SweepsIds as Ids
from components.sweeps_view import make_sweep_detail, selection_links, sweep_row
from services.airflow.models import RunState
from services.auth import Principal, may_act_on
from services.errors import Forbidden
from services.models import RunSummary, SweepSummary

log = logging.getLogger(__name__)

dash.register_page(__name__, path="/sweeps", title="Sweeps · Backtest Frontend", name="Sweeps", order=3)


def layout(**_kwargs):
    return make_sweeps_layout()


def history_rows(summaries: list[SweepSummary]) -> list[dict]:
    """Grid rows; the latest runs of every sweep that ran come from Airflow in one batch lookup."""
    ran = [summary for summary in summaries if summary.may_have_runs]
    latest: dict[str, RunSummary] = {}
    unavailable = False
    if ran:
        try:
            latest = dict(get_services().runs.latest_runs(ran))
        except Exception as exc:  # Airflow down: the rows say so, the page still lists the sweeps
            log.info("latest runs unavailable: %s", exc)
            unavailable = True
    return [sweep_row(summary, latest.get(summary.name), unavailable) for summary in summaries]


@dash.callback(
    Output(Ids.GRID, "rowData"),
    Output(Ids.ALERT, "children", allow_duplicate=True),
    Input(Ids.REFRESH, "n_clicks"),
    Input(Ids.TOUCHED, "data"),
    prevent_initial_call="initial_duplicate",
)
def load_rows(_clicks, _touched):
    try:
        registry = get_services().registry
        damaged = [damaged_row(record) for record in registry.damaged()]  # listed, never skipped
        return history_rows(registry.summaries()) + damaged, dash.no_update
    except Exception as exc:
        return dash.no_update, make_error_alert(exc, title="Cannot list the sweeps.")


clientside_callback(
    """
    function(text, options) {
        return Object.assign({}, options || {}, {quickFilterText: text || ""});
    }
    """,
    Output(Ids.GRID, "dashGridOptions"),
    Input(Ids.SEARCH, "value"),
    State(Ids.GRID, "dashGridOptions"),
    prevent_initial_call=True,
)

NOTHING_SELECTED = {
    "text": "Select a sweep.",
    "clone_href": CONFIGURE_PATH,
    "clone_disabled": True,
    "monitor_href": None,
    "monitor_disabled": True,
    "results_href": None,
    "results_disabled": True,
    "retrigger_disabled": True,
    "retry_disabled": True,
    "cancel_disabled": True,
}


@dash.callback(
    output={
        "text": Output(Ids.SELECTION, "children"),
        "clone_href": Output(Ids.CLONE, "href"),
        "clone_disabled": Output(Ids.CLONE, "disabled"),
        "monitor_href": Output(Ids.MONITOR, "href"),
        "monitor_disabled": Output(Ids.MONITOR, "disabled"),
        "results_href": Output(Ids.RESULTS, "href"),
        "results_disabled": Output(Ids.RESULTS, "disabled"),
        "retrigger_disabled": Output(Ids.RETRIGGER, "disabled"),
        "retry_disabled": Output(Ids.RETRY, "disabled"),
        "cancel_disabled": Output(Ids.CANCEL, "disabled"),
    },
    inputs={"rows": Input(Ids.GRID, "selectedRows")},
)
def select(rows):
    """What the selected row allows: links always, run actions only with a (running) run."""
    if not rows:
        return NOTHING_SELECTED
    row = rows[0]
    if row.get("damaged"):  # only the panel below (restore, delete) applies to an unreadable record
        return NOTHING_SELECTED | {"text": f"{row['name']} · damaged"}
    links = selection_links(row)
    has_run = bool(row.get("last_run_id"))
    # A courtesy: the server refuses these anyway (components.access, SweepActions).
    may_act = may_act_on(get_principal(), str(row.get("owner", "")))
    return {
        "text": f"{row['name']} · last run {row['last_run_id'] or '—'} ({row['last_state']})",
        "clone_href": links["clone"],
        "clone_disabled": False,
        "monitor_href": links["monitor"],
        "monitor_disabled": False,
        "results_href": links["results"],
        "results_disabled": not has_run,
        "retrigger_disabled": not may_act or row.get("deployed") != "yes",
        "retry_disabled": not may_act or not has_run,
        "cancel_disabled": not may_act or not RunState.parse(row.get("last_state")).active,
    }


def sweep_detail(name: str):
    """The selected sweep's spec, deployment and runs; its recorded run ids when Airflow is down."""
    services = get_services()
    record = services.registry.get(name)
    runs = None
    try:
        runs = services.runs.list_runs(record.config, limit=RUNS_LISTED)
    except Exception as exc:  # the table says the states are unavailable; the spec still shows
        log.info("runs of %s unavailable: %s", name, exc)
    history = None
    try:
        history = services.audit.history(name)
    except Exception as exc:  # the database did not answer: the panel says so, the rest still shows
        log.info("audit history of %s unavailable: %s", name, exc)
    latest = runs[0].run_id if runs else (record.run_ids[0] if record.run_ids else None)
    return make_sweep_detail(record, runs, history, make_run_labels(record.config, latest))


@dash.callback(
    Output(Ids.DETAIL, "children"),
    Output(Ids.DETAIL, "hidden"),
    Output(ShellIds.CURRENT_SWEEP, "data", allow_duplicate=True),
    Input(Ids.GRID, "selectedRows"),
    Input(Ids.TOUCHED, "data"),
    prevent_initial_call="initial_duplicate",
)
def show_detail(rows, _touched):
    """The selected sweep's detail; it also becomes the sweep the stepper (and Deploy) follow."""
    if not rows:
        return None, True, dash.no_update
    name = rows[0]["name"]
    if rows[0].get("damaged"):
        return make_damaged_detail(rows[0]), False, dash.no_update
    try:
        return sweep_detail(name), False, name
    except Exception as exc:  # e.g. the sweep was deleted in another session since the rows loaded
        return make_error_alert(exc, title=f"Cannot show {name}."), False, dash.no_update


@dash.callback(
    output={
        "pending": Output(Ids.PENDING, "data"),
        "body": Output(Ids.MODAL_BODY, "children"),
        "open": Output(Ids.MODAL, "is_open"),
        "label": Output(Ids.CONFIRM, "children"),
        "color": Output(Ids.CONFIRM, "color"),
        "disabled": Output(Ids.CONFIRM, "disabled"),
    },
    inputs={
        "_retrigger": Input(Ids.RETRIGGER, "n_clicks"),
        "_retry": Input(Ids.RETRY, "n_clicks"),
        "_cancel": Input(Ids.CANCEL, "n_clicks"),
        "_dismiss": Input(Ids.DISMISS, "n_clicks"),
    },
    state={"rows": State(Ids.GRID, "selectedRows")},
    prevent_initial_call=True,
)
def ask(_retrigger, _retry, _cancel, _dismiss, rows):
    """Every action waits in the confirmation dialog; 'Keep as is' closes it. The pending action is kept
    on the server (services.pending); the dialog holds only its token."""
    if ctx.triggered_id == Ids.DISMISS or not rows:
        keep = dash.no_update
        return {"pending": None, "body": keep, "open": False, "label": keep, "color": keep, "disabled": keep}
    action = {Ids.RETRIGGER: "retrigger", Ids.RETRY: "retry", Ids.CANCEL: "cancel"}.get(ctx.triggered_id)
    if action is None:  # a forged request naming no button of this dialog
        raise PreventUpdate
    row = rows[0]
    name, run_id = str(row.get("name", "")), str(row.get("last_run_id") or "")
    label, question = ACTIONS[action]
    services = get_services()
    principal = get_principal()
    try:
        services.actions.check(principal, name, label.lower())
        token = services.pending.create(principal, action, name, run_id)
    except Exception as exc:  # e.g. Forbidden: another researcher's sweep
        alert = make_error_alert(exc, title=f"{label} is not possible.")
        refused = {"pending": None, "body": alert, "open": True, "label": label}
        return refused | {"color": "secondary", "disabled": True}
    return {
        "pending": {"token": token},
        "body": question.format(name=name, run_id=run_id),
        "open": True,
        "label": label,  # the button names what it will do
        "color": ACTION_COLORS[action],
        "disabled": False,
    }


# One click, one action: the button is disabled in the browser at once (a second click while the
# first is being carried out would start a second run), and says so; `ask` enables it again.
clientside_callback(
    """
    function(n) { return [true, "Working…"]; }
    """,
    Output(Ids.CONFIRM, "disabled", allow_duplicate=True),
    Output(Ids.CONFIRM, "children", allow_duplicate=True),
    Input(Ids.CONFIRM, "n_clicks"),
    prevent_initial_call=True,
)


def run_action(principal: Principal | None, pending) -> str:
    """Do the confirmed action through services.actions; the sentence for the success alert."""
    actions = get_services().actions
    name, action, run_id = pending.name, pending.action, pending.run_id
    if action == "retrigger":
        return f"Started run {actions.trigger(principal, name).run_id} of {name}."
    if action == "retry":
        cleared = actions.retry_failed(principal, name, run_id)
        if not cleared:
            return f"Run {run_id} of {name} has no failed points: nothing to retry."
        return (
            f"Cleared {len(cleared)} failed chunk(s) of run {run_id} (map indices {cleared}); they run again."
        )
    result = actions.cancel(principal, name, run_id)
    if result.already_finished:
        return f"Run {run_id} of {name} had already finished ({result.run.state}): nothing to cancel."
    jobs = f"; {len(result.terminated_jobs)} Batch job(s) terminated" if result.terminated_jobs else ""
    return f"Run {run_id} of {name} is now {result.run.state}{jobs}."


@dash.callback(
    Output(Ids.ALERT, "children", allow_duplicate=True),
    Output(Ids.MODAL, "is_open", allow_duplicate=True),
    Output(Ids.TOUCHED, "data"),
    Input(Ids.CONFIRM, "n_clicks"),
    State(Ids.PENDING, "data"),
    State(Ids.TOUCHED, "data"),
    prevent_initial_call=True,
)
def confirm(n_clicks, pending, touched):
    """Carry out the pending action the token names (once: the token is consumed on the server)."""
    if not n_clicks or not pending:
        raise PreventUpdate
    principal = get_principal()
    token = pending.get("token") if isinstance(pending, dict) else None
    try:
        if principal is None:
            raise Forbidden("Sign in to confirm an action.", status=403)
        action = get_services().pending.take(principal, token)
    except Exception as exc:  # unknown, expired, used or someone else's: nothing is done
        return make_error_alert(exc, title="Nothing was done."), False, dash.no_update
    try:
        message = run_action(principal, action)
    except Exception as exc:
        return make_error_alert(exc, title=f"{ACTIONS[action.action][0]} failed."), False, dash.no_update
    return make_alert(message, color="success", dismissable=True), False, (touched or 0) + 1


@dash.callback(
    Output(Ids.ALERT, "children", allow_duplicate=True),
    Output(Ids.TOUCHED, "data", allow_duplicate=True),
    Input(SweepsDamagedIds.RESTORE, "n_clicks"),
    Input(SweepsDamagedIds.DELETE, "submit_n_clicks"),
    State(Ids.GRID, "selectedRows"),
    State(Ids.TOUCHED, "data"),
    prevent_initial_call=True,
)
def repair_damaged_record(restore_clicks, delete_clicks, rows, touched):
    """A damaged record: put its previous version back, or delete it (after the browser's confirm)."""
    restoring = ctx.triggered_id == SweepsDamagedIds.RESTORE
    if not (restore_clicks if restoring else delete_clicks) or not rows or not rows[0].get("damaged"):
        raise PreventUpdate
    name = rows[0]["name"]
    registry = get_services().registry
    try:
        if restoring:
            record = registry.restore_previous(name)
            message = (
                f"Restored {name} as saved {format_minute(record.updated_at)} (version {record.version})."
            )
        else:
            registry.delete(name)
            message = f"Deleted the damaged record of {name}: its name can be saved again."
    except Exception as exc:
        return make_error_alert(exc, title=f"{name} not repaired."), dash.no_update
    return make_alert(message, color="success", dismissable=True), (touched or 0) + 1
