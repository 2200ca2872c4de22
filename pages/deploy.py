"""Deploy: the current sweep's summary and preflight, a cancellable deployment with progress, then Trigger."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import dash
from dash import Input, Output, State, ctx, dcc, html
from dash.exceptions import PreventUpdate

from airflow_backtest_framework.config import DAG_ID_PREFIX
from components.alerts import make_alert, make_error_alert, user_message
from components.checks import make_check_list
from components.context import get_principal, get_services
from components.deploy_layout import DeployIds as Ids
from components.deploy_layout import make_deploy_layout
from components.deploy_view import (
    make_deploy_progress,
    make_last_deploy,
    make_run_result,
    make_sweep_summary,
)
from components.shell import ShellIds
from services.auth import may_act_on
from services.models import DeployProgress, SweepRecord

log = logging.getLogger(__name__)

dash.register_page(__name__, path="/deploy", title="Deploy · Backtest Frontend", name="Deploy", order=1)

PROGRESS_POLL_MS = 500


def layout(**_kwargs) -> html.Div:
    return make_deploy_layout()


def _record(name: str | None) -> SweepRecord | None:
    return get_services().registry.find(name) if name else None


@dash.callback(
    Output(Ids.PICK, "options"),
    Output(Ids.PICK, "value"),
    Input(Ids.SESSION, "data"),
    State(ShellIds.CURRENT_SWEEP, "data"),
)
def fill_picker(_session, current):
    try:
        names = [record.name for record in get_services().registry.list()]
    except Exception:
        log.exception("cannot list saved sweeps")
        names = []
    return [{"label": n, "value": n} for n in names], current if current in names else None


@dash.callback(
    Output(ShellIds.CURRENT_SWEEP, "data", allow_duplicate=True),
    Input(Ids.PICK, "value"),
    State(ShellIds.CURRENT_SWEEP, "data"),
    prevent_initial_call=True,
)
def pick_sweep(name, current):
    if not name or name == current:
        raise PreventUpdate
    return name


def summary_view(record: SweepRecord | None) -> dict:
    """The summary card and which buttons are usable, for the current sweep's record."""
    if record is None:
        empty = html.Div(
            ["No sweep selected. ", dcc.Link("Configure one", href="/"), " or choose a saved sweep above."],
            className="bt-empty",
        )
        return {
            "summary": empty,
            "deploy_disabled": True,
            "trigger_disabled": True,
            "hint": "Deploy a sweep first.",
        }
    deployed = record.deployed_hash == record.config.spec_hash
    hint = "" if deployed else "Deploy the current spec first."
    principal = get_principal()  # a courtesy: the server refuses anyway (components.access, SweepActions)
    may_act = may_act_on(principal, record.config.owner)
    last = get_services().actions.last_deploy(record.name)
    deploying = last is not None and not last.progress.finished  # from any page or host
    if not may_act:
        hint = f"Only {record.config.owner} or an admin can deploy and run this sweep."
    elif deploying:
        hint = "A deployment of this sweep is running: its steps show under Deploy."
    return {
        "summary": make_sweep_summary(record),
        "deploy_disabled": not may_act or deploying,
        "trigger_disabled": not may_act or not deployed or deploying,
        "hint": hint,
    }


@dash.callback(
    output={
        "summary": Output(Ids.SUMMARY, "children"),
        "deploy_disabled": Output(Ids.DEPLOY, "disabled"),
        "trigger_disabled": Output(Ids.TRIGGER, "disabled"),
        "hint": Output(Ids.TRIGGER_HINT, "children"),
    },
    inputs={
        "current": Input(ShellIds.CURRENT_SWEEP, "data"),
        "_result": Input(Ids.RESULT, "data"),
        "_touched": Input(ShellIds.SWEEP_TOUCHED, "data"),  # a trigger adds a run to the record
        "_following": Input(Ids.WATCH, "disabled"),  # a deployment started elsewhere began or ended
    },
)
def show_summary(current, _result, _touched, _following):
    try:
        return summary_view(_record(current))
    except Exception as exc:
        return {
            "summary": make_error_alert(exc),
            "deploy_disabled": True,
            "trigger_disabled": True,
            "hint": "",
        }


@dash.callback(
    Output(Ids.PREFLIGHT, "children"),
    Input(ShellIds.CURRENT_SWEEP, "data"),
    Input(Ids.PREFLIGHT_REFRESH, "n_clicks"),
)
def show_preflight(current, _n_clicks):
    try:
        record = _record(current)
        if record is None:
            return html.Div("Choose a sweep to check it.", className="bt-help")
        return make_check_list(get_services().actions.preflight(record.name))
    except Exception as exc:
        return make_error_alert(exc, title="Preflight could not run.")


def cancel_key(session: str, attempt: int) -> str:
    return f"deploy-cancel:{session}:{attempt}"


def run_deploy(
    name: str, session: str, attempt: int, report: Callable[[DeployProgress], None]
) -> DeployProgress:
    """Deploy the saved sweep `name` (recorded in the registry when it succeeded), reporting each step."""
    services = get_services()
    last = DeployProgress(dag_id=DAG_ID_PREFIX + name)
    report(last)

    def on_progress(progress: DeployProgress) -> None:
        nonlocal last
        last = progress.model_copy(deep=True)
        report(last)

    try:
        return services.actions.deploy(
            get_principal(),
            name,
            on_progress=on_progress,
            cancelled=lambda: services.flags.has(cancel_key(session, attempt)),
        )
    except Exception as exc:
        return last.model_copy(update={"finished": True, "ok": False, "error": user_message(exc)})


@dash.callback(
    Output(Ids.RESULT, "data"),
    Input(Ids.DEPLOY, "n_clicks"),
    State(ShellIds.CURRENT_SWEEP, "data"),
    State(Ids.SESSION, "data"),
    background=True,
    interval=PROGRESS_POLL_MS,
    progress=Output(Ids.LIVE, "children"),
    running=[
        (Output(Ids.DEPLOY, "disabled"), True, False),
        (Output(Ids.CANCEL, "disabled"), False, True),
        (Output(Ids.PANEL, "hidden"), True, False),
        (Output(Ids.LIVE, "hidden"), False, True),
    ],
    cancel=[Input(Ids.CANCEL, "n_clicks")],
    prevent_initial_call=True,
)
def deploy(set_progress, n_clicks, current, session):
    """Runs in a background process; (clicks, session) make every click of every page load its own job."""
    if not n_clicks or not current:
        raise PreventUpdate

    def report(progress: DeployProgress) -> None:
        set_progress(make_deploy_progress(progress, live=True))

    return run_deploy(current, session, n_clicks, report).model_dump(mode="json")


@dash.callback(
    Output(Ids.ALERT, "children"),
    Input(Ids.CANCEL, "n_clicks"),
    State(Ids.SESSION, "data"),
    State(Ids.DEPLOY, "n_clicks"),
    State(ShellIds.CURRENT_SWEEP, "data"),
    prevent_initial_call=True,
)
def cancel(n_clicks, session, attempt, current):
    if not n_clicks:
        raise PreventUpdate
    services = get_services()
    services.flags.set(cancel_key(session, attempt or 0))
    try:  # Dash stops the job at once: the sweep's record says so for every page and host
        if current:
            services.actions.cancel_deploy(get_principal(), current)
    except Exception as exc:
        return make_error_alert(exc, title="Deployment cancelled, but not recorded as such.")
    return make_alert(
        "Deployment cancelled. Steps already ticked stay done; deploying again is safe.", color="warning"
    )


def panel_view(result: dict | None, current: str | None) -> tuple[object, bool]:
    """The last deployment of this sweep from this page, else the sweep's last deployment from any page
    and host (followed while it runs), else the steps to come; and whether to keep following it."""
    if not current:
        return None, False
    dag_id = DAG_ID_PREFIX + current
    if result and result.get("dag_id") == dag_id:
        return make_deploy_progress(DeployProgress.model_validate(result), live=False), False
    last = get_services().actions.last_deploy(current)
    if last is None:
        return make_deploy_progress(DeployProgress(dag_id=dag_id), live=False), False
    running = not last.progress.finished
    return make_last_deploy(last, make_deploy_progress(last.progress, live=running)), running


@dash.callback(
    Output(Ids.PANEL, "children"),
    Output(Ids.WATCH, "disabled"),
    Input(Ids.RESULT, "data"),
    Input(ShellIds.CURRENT_SWEEP, "data"),
    Input(Ids.WATCH, "n_intervals"),
)
def show_panel(result, current, _tick):
    try:
        panel, follow = panel_view(result, current)
        return panel, not follow
    except Exception as exc:
        return make_error_alert(exc), True


@dash.callback(
    Output(ShellIds.SWEEP_TOUCHED, "data", allow_duplicate=True),
    Output(Ids.ALERT, "children", allow_duplicate=True),
    Input(Ids.RESULT, "data"),
    Input(Ids.TRIGGERED, "data"),
    prevent_initial_call=True,
)
def record_changed(result, triggered_at):
    """A deployment finished or a run was triggered: the stepper and the summary re-read the record
    (it lists the deploy and the run); a finished deployment also clears an old cancel note."""
    if ctx.triggered_id == Ids.TRIGGERED:
        if not triggered_at:  # a memory store reports its empty value when it mounts
            raise PreventUpdate
        return triggered_at, dash.no_update
    if not result:
        raise PreventUpdate
    return time.time(), None


def trigger_run(name: str):
    """Trigger a run of the saved sweep, record it, and show where to watch it."""
    services = get_services()
    run = services.actions.trigger(get_principal(), name)
    return make_run_result(name, run, services.airflow_ui_url(DAG_ID_PREFIX + name, run.run_id))


# Every output is on this page, so the button's mount does not call it: a call at mount would end its
# `running` by enabling Trigger for a sweep that is not deployed (show_summary owns `disabled`).
@dash.callback(
    Output(Ids.TRIGGER_RESULT, "children"),
    Output(Ids.TRIGGERED, "data"),
    Input(Ids.TRIGGER, "n_clicks"),
    State(ShellIds.CURRENT_SWEEP, "data"),
    running=[(Output(Ids.TRIGGER, "disabled"), True, False)],  # one click, one run
    prevent_initial_call=True,
)
def trigger(n_clicks, current):
    if not n_clicks or not current:
        raise PreventUpdate
    try:
        return trigger_run(current), time.time()
    except Exception as exc:
        return make_error_alert(exc, title="Run not started."), dash.no_update
