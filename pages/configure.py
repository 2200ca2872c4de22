"""Configure: describe a sweep, validated as you type; save it, clone one, preview its DAG file."""

from __future__ import annotations

import logging
import re
import time

import dash
from dash import ALL, ClientsideFunction, Input, Output, State, clientside_callback, ctx, dcc, html
from dash.exceptions import PreventUpdate
from pydantic import ValidationError

from airflow_backtest_framework.catalog import STRATEGIES
from airflow_backtest_framework.data_source_spec import DATA_DATABASE
from components.alerts import make_alert, make_error_alert
from components.configure_layout import INVALID_FIELDS, make_configure_layout
from components.configure_layout import ConfigureIds as Ids
from components.configure_settings import (
    VALUE_FIELDS,
    make_lag_fields,
    make_settings_sections,
    sections_to_open,
)
from components.configure_view import (
    FEEDBACK_FIELDS,
    make_data_hint,
    make_param_fields,
    make_save_toast,
    validation_view,
)
from components.context import get_principal, get_services, get_settings
from components.shell import ShellIds
from components.sweep_form import (
    FormDraft,
    check_draft,
    copy_name,
    draft_from_config,
    hint_config,
    load_draft,
    validated_config,
)
from services.auth import Role
from services.dag_generator import render_dag

log = logging.getLogger(__name__)

dash.register_page(__name__, path="/", title="Configure · Backtest Frontend", name="Configure", order=0)


def layout(clone: str | None = None, **_kwargs) -> html.Div:
    """The form; `/?clone=<name>` loads that saved sweep's spec into it under a new name."""
    return make_configure_layout(clone, make_settings_sections())


# --------------------------------------------------------------------------- draft <-> fields

FIELD_OUTPUTS = {name: Output(Ids.field(name), "value") for name in VALUE_FIELDS}


def draft_fields(draft: FormDraft) -> dict:
    """The values the form's fields show for a draft, and the parameter rows of its strategy."""
    check = check_draft(draft, get_settings().max_grid_points, profile=get_settings().task_profile)
    values = {name: getattr(draft, name) for name in VALUE_FIELDS}
    return {
        "strategy": draft.strategy,
        "fields": values,
        "params": make_param_fields(draft.strategy, draft.params_for(draft.strategy), check),
        "lags": make_lag_fields(draft.factors, draft.factor_lags),
    }


@dash.callback(
    output={
        "strategy": Output(Ids.STRATEGY, "value"),
        "fields": FIELD_OUTPUTS,
        "params": Output(Ids.PARAMS, "children", allow_duplicate=True),
        "lags": Output(Ids.LAGS, "children", allow_duplicate=True),
    },
    inputs={"_apply": Input(Ids.APPLY, "data")},
    state={"draft": State(Ids.DRAFT, "data")},
    prevent_initial_call="initial_duplicate",
)
def apply_draft(_apply, draft):
    """Write the stored draft into the form: on page load (restores it after a reload), clone and reset."""
    return draft_fields(load_draft(draft))


@dash.callback(
    Output(Ids.PARAMS, "children"),
    Output(Ids.STRATEGY_HELP, "children"),
    Input(Ids.STRATEGY, "value"),
    State(Ids.DRAFT, "data"),
    prevent_initial_call=True,  # on load apply_draft renders the rows; this follows the user's choice
)
def switch_strategy(strategy, draft):
    """The parameter rows of the chosen strategy, with what was typed for it before."""
    spec = STRATEGIES.get(strategy or "")
    if spec is None:
        return make_param_fields("", {}, None), ""
    current = load_draft(draft).model_copy(update={"strategy": strategy})
    check = check_draft(current, get_settings().max_grid_points, profile=get_settings().task_profile)
    return make_param_fields(strategy, current.params_for(strategy), check), spec.description


@dash.callback(
    Output(Ids.LAGS, "children"),
    Input(Ids.field("factors"), "value"),
    State(Ids.DRAFT, "data"),
    prevent_initial_call=True,  # on load apply_draft renders the rows; this follows the user's choice
)
def show_lags(factors, draft):
    """One lag field per chosen factor, with what was typed for it before."""
    return make_lag_fields(list(factors or []), load_draft(draft).factor_lags)


# The raw form into the draft store, in the browser (assets/configure.js): no round trip per keystroke.
clientside_callback(
    ClientsideFunction(namespace="configure", function_name="gather"),
    Output(Ids.DRAFT, "data"),
    Input(Ids.STRATEGY, "value"),
    Input(Ids.param(Ids.PARAM, ALL, ALL), "value"),
    Input(Ids.lag(ALL), "value"),
    *[Input(Ids.field(name), "value") for name in VALUE_FIELDS],
    State(Ids.DRAFT, "data"),
    prevent_initial_call=True,
)


# The validation scheme's own fields: the out-of-sample share for holdout, folds and windows for
# walk-forward; a field showing a message stays in view whatever the scheme.
clientside_callback(
    """
    function(scheme, shareMessage, foldsMessage, windowsMessage) {
        const shown = function(on) { return on ? {} : {display: "none"}; };
        const folds = scheme === "walk_forward";
        return [shown(scheme === "holdout" || !!shareMessage), shown(folds || !!foldsMessage),
                shown(folds || !!windowsMessage)];
    }
    """,
    Output(Ids.HOLDOUT_FIELDS, "style"),
    Output(Ids.WALK_FORWARD_FIELDS, "style"),
    Output(Ids.WINDOWS_FIELD, "style"),
    Input(Ids.field("validation_scheme"), "value"),
    *[Input(Ids.feedback(f), "children") for f in ("validation_out_of_sample", "validation_folds")],
    Input(Ids.feedback("validation_windows"), "children"),
)


# The folder field shows only for the folder source.
clientside_callback(
    """function(source) { return source === "folder" ? {} : {display: "none"}; }""",
    Output(Ids.DATA_FOLDER_FIELD, "style"),
    Input(Ids.field("data_source"), "value"),
)


# --------------------------------------------------------------------------- validation


def _existing_names() -> set[str]:
    return get_services().registry.names()


@dash.callback(
    output={
        "param_invalid": Output(Ids.param(Ids.PARAM, ALL, ALL), "invalid"),
        "param_feedback": Output(Ids.param(Ids.PARAM_FEEDBACK, ALL, ALL), "children"),
        "param_values": Output(Ids.param(Ids.PARAM_VALUES, ALL, ALL), "children"),
        "invalid": {name: Output(Ids.field(name), "invalid") for name in INVALID_FIELDS},
        "feedback": {name: Output(Ids.feedback(name), "children") for name in FEEDBACK_FIELDS},
        "name_hint": Output(Ids.NAME_HINT, "children"),
        "grid": Output(Ids.GRID, "children"),
        "save_disabled": Output(Ids.SAVE, "disabled"),
        "save_reason": Output(Ids.SAVE_REASON, "children"),
        "settings_open": Output(Ids.SETTINGS, "active_item"),
    },
    inputs={"draft": Input(Ids.DRAFT, "data")},
    state={"settings_open": State(Ids.SETTINGS, "active_item")},
)
def show_validation(draft, settings_open):
    """Validate as the user types: each field's message, the values per parameter, the grid size."""
    current = load_draft(draft)
    param_ids = [item["id"] for item in ctx.outputs_grouping["param_invalid"]]
    try:
        existing = _existing_names()
    except Exception:  # the overwrite hint is a nicety: never block validation on it
        existing = set()
    max_name_chars = get_services().deployer.max_name_chars  # MWAA's path limit, in AWS mode
    check = check_draft(
        current, get_settings().max_grid_points, existing, max_name_chars, profile=get_settings().task_profile
    )
    view = validation_view(check, param_ids)
    view["settings_open"] = sections_to_open(check.errors, settings_open) or dash.no_update
    # Rows of another strategy (mid-switch) keep what they show until they are replaced.
    for key in ("param_invalid", "param_feedback", "param_values"):
        view[key] = [
            value if pid["strategy"] == current.strategy else dash.no_update
            for value, pid in zip(view[key], param_ids, strict=True)
        ]
    principal = get_principal()  # a courtesy: the server refuses a viewer's save anyway
    if principal is None or not principal.role.allows(Role.RESEARCHER):
        view["save_disabled"], view["save_reason"] = (
            True,
            "Viewers cannot save sweeps: ask an admin for the researcher role.",
        )
    return view


# --------------------------------------------------------------------------- save, clone, reset, preview


def save_draft(draft: FormDraft) -> tuple[object, FormDraft | None]:
    """Validate with the app's grid cap and save from the version the draft was edited from;
    (toast or alert, the draft now based on the saved version, or None when nothing was saved)."""
    services = get_services()
    try:
        config = validated_config(draft, get_settings().max_grid_points)
        record, _existed = services.actions.save(  # the owner: the signed-in user, not the form's field
            get_principal(), config, expected_version=draft.expected_version()
        )
    except Exception as exc:  # a refusal keeps the form as typed: the draft is not touched
        return make_error_alert(exc, title="Not saved."), None
    return make_save_toast(record), draft.based_on(record.name, record.version)


@dash.callback(
    output={
        "toast": Output(Ids.TOASTS, "children"),
        "alert": Output(Ids.ALERT, "children"),
        "current": Output(ShellIds.CURRENT_SWEEP, "data", allow_duplicate=True),
        "touched": Output(ShellIds.SWEEP_TOUCHED, "data", allow_duplicate=True),
        "saved": Output(Ids.SAVED, "data"),
        "draft": Output(Ids.DRAFT, "data", allow_duplicate=True),
    },
    inputs={"n_clicks": Input(Ids.SAVE, "n_clicks")},
    state={"draft": State(Ids.DRAFT, "data")},
    prevent_initial_call=True,
)
def save(n_clicks, draft):
    if not n_clicks:  # a button that mounts or re-renders reports n_clicks without a click
        raise PreventUpdate
    message, saved = save_draft(load_draft(draft))
    if saved is None:
        keep = dash.no_update
        return dict.fromkeys(("toast", "current", "touched", "saved", "draft"), keep) | {"alert": message}
    # The draft store learns the saved version, so the next save from this form checks against it.
    return {
        "toast": message,
        "alert": None,
        "current": saved.name,
        "touched": time.time(),
        "saved": saved.name,
        "draft": saved.model_dump(mode="json"),
    }


@dash.callback(
    Output(Ids.CLONE_SELECT, "options"),
    Input(Ids.SAVED, "data"),
    Input(Ids.CLONE_FROM, "data"),  # a layout value: lists on page load (SAVED, set by save only, would not)
)
def clone_options(_saved, _clone_from):
    try:
        records = get_services().registry.list()
    except Exception:
        log.exception("cannot list saved sweeps")
        return []
    return [
        {"label": f"{r.name} · {r.config.strategy} · {r.config.grid_size:,} pts", "value": r.name}
        for r in records
    ]


def clone_draft(name: str) -> FormDraft:
    """A draft holding a saved sweep's spec under a free `<name>_copy` name."""
    registry = get_services().registry
    record = registry.get(name)
    taken = registry.names()
    return draft_from_config(record.config, copy_name(record.name, taken), record.version)


@dash.callback(
    Output(Ids.DRAFT, "data", allow_duplicate=True),
    Output(Ids.APPLY, "data", allow_duplicate=True),
    Output(Ids.ALERT, "children", allow_duplicate=True),
    Input(Ids.CLONE, "n_clicks"),
    Input(Ids.RESET, "n_clicks"),
    State(Ids.CLONE_SELECT, "value"),
    State(Ids.APPLY, "data"),
    prevent_initial_call=True,
)
def clone_or_reset(clone_clicks, reset_clicks, selected, apply_count):
    """Load a saved sweep (or the defaults) into the draft, then into the form."""
    if not (reset_clicks if ctx.triggered_id == Ids.RESET else clone_clicks):
        raise PreventUpdate
    if ctx.triggered_id == Ids.RESET:
        draft = FormDraft()
    elif not selected:
        return dash.no_update, dash.no_update, make_alert("Pick a saved sweep to clone.", color="warning")
    else:
        try:
            draft = clone_draft(selected)
        except Exception as exc:
            return dash.no_update, dash.no_update, make_error_alert(exc, title="Cannot clone.")
    return draft.model_dump(mode="json"), (apply_count or 0) + 1, None


@dash.callback(
    Output(Ids.DRAFT, "data", allow_duplicate=True),
    Output(Ids.APPLY, "data", allow_duplicate=True),
    Output(Ids.ALERT, "children", allow_duplicate=True),
    Input(Ids.CLONE_FROM, "data"),
    State(Ids.APPLY, "data"),
    prevent_initial_call="initial_duplicate",
)
def clone_from_url(name, apply_count):
    """`/?clone=<name>`: the same clone as the side panel's, asked by another page's link."""
    if not name:
        raise PreventUpdate
    try:
        draft = clone_draft(str(name))
    except Exception as exc:
        return dash.no_update, dash.no_update, make_error_alert(exc, title="Cannot clone.")
    return draft.model_dump(mode="json"), (apply_count or 0) + 1, None


clientside_callback(
    """
    function(n, isOpen) {
        const open = !isOpen;
        return [open, open ? "Generated DAG file ▾" : "Generated DAG file ▸"];
    }
    """,
    Output(Ids.PREVIEW_COLLAPSE, "is_open"),
    Output(Ids.PREVIEW_TOGGLE, "children"),
    Input(Ids.PREVIEW_TOGGLE, "n_clicks"),
    State(Ids.PREVIEW_COLLAPSE, "is_open"),
    prevent_initial_call=True,
)


def preview_markdown(draft: FormDraft) -> str:
    """The DAG file the draft would deploy, as fenced Python for dcc.Markdown's local highlighter."""
    config = validated_config(draft, get_settings().max_grid_points)
    text = render_dag(config)
    # User text (a description) may hold backticks: a longer fence keeps it inside the code block.
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}python\n{text}{fence}"


@dash.callback(
    Output(Ids.PREVIEW, "children"),
    Input(Ids.DRAFT, "data"),
    Input(Ids.PREVIEW_COLLAPSE, "is_open"),
    Input(ShellIds.THEME, "data"),
)
def show_preview(draft, is_open, theme):
    if not is_open:
        return dash.no_update
    current = load_draft(draft)
    try:
        text = preview_markdown(current)
    except Exception as exc:
        if isinstance(exc, ValidationError):
            what = "Name the sweep" if not current.name.strip() else "Fix the highlighted fields"
            return html.Div(f"{what} to preview its DAG file.", className="bt-help")
        return make_error_alert(exc, title="Cannot render the DAG file.")
    return dcc.Markdown(
        text, highlight_config={"theme": "dark" if theme == "dark" else "light"}, className="bt-code"
    )


@dash.callback(Output(Ids.DATA_HINT, "children"), Input(Ids.DRAFT, "data"))
def show_data_hint(draft):
    """What the chosen source covers of the universe and period, as the deploy preflight will say it
    (the sample and local folders: cheap to read; the database is checked by the preflight only)."""
    config = hint_config(load_draft(draft))
    if config is None or config.data_source == DATA_DATABASE:
        return make_data_hint(None)
    try:
        return make_data_hint(get_services().actions.data_check(config))
    except Exception:  # a hint is a nicety: never an error on the form
        log.exception("data hint failed")
        return make_data_hint(None)
