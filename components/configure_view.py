"""Component trees of the Configure page: parameter rows, the grid-size panel, why Save is disabled."""

from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import dcc, html

from airflow_backtest_framework.catalog import STRATEGIES
from components.alerts import make_alert, make_toast
from components.configure_layout import DEBOUNCE_MS, INVALID_FIELDS, LABELS, ConfigureIds
from components.deploy_view import size_text
from components.sweep_form import FORM_FIELDS, LAGS_FIELD, FormCheck
from services.models import FIRST_VERSION, CheckResult, SweepRecord


def make_param_fields(
    strategy: str, expressions: dict[str, str], check: FormCheck | None
) -> dbc.Row | html.Div:
    """One labelled input per parameter of the strategy: unit, help, live values and message."""
    spec = STRATEGIES.get(strategy)
    if spec is None:
        return html.Div("Choose a strategy to see its parameters.", className="text-body-secondary small")
    cols = []
    for param in spec.params:
        result = check.params.get(param.name) if check else None
        error = result.error if result else None
        preview = result.preview if result else ""
        cols.append(
            dbc.Col(
                html.Div(
                    [
                        html.Div(
                            [
                                html.Span(param.name, className="bt-param-name"),
                                html.Span(param.unit, className="bt-unit"),
                            ],
                            className="bt-param-head",
                        ),
                        dbc.Input(
                            id=ConfigureIds.param(ConfigureIds.PARAM, strategy, param.name),
                            value=expressions.get(param.name, param.default),
                            debounce=DEBOUNCE_MS,
                            invalid=bool(error),
                            size="sm",
                            class_name="bt-mono",
                            placeholder=param.default,
                            autocomplete="off",
                        ),
                        dbc.FormFeedback(
                            error or "",
                            id=ConfigureIds.param(ConfigureIds.PARAM_FEEDBACK, strategy, param.name),
                            type="invalid",
                        ),
                        html.Div(
                            preview,
                            id=ConfigureIds.param(ConfigureIds.PARAM_VALUES, strategy, param.name),
                            className="bt-param-values",
                        ),
                        html.Div(param.help, className="bt-help"),
                    ],
                    className="bt-param",
                ),
                md=6,
            )
        )
    return dbc.Row(cols, class_name="g-3")


def make_grid_panel(check: FormCheck) -> html.Div:
    """Grid size and tasks, the per-parameter value counts, and how close the grid is to the cap."""
    counts = [p.count for p in check.params.values()]
    dims = " × ".join(str(c) for c in counts) if counts and all(counts) else "—"
    share = min((check.grid_size or 0) / check.max_grid_points, 1.0)
    color = {"ok": "success", "warn": "warning", "blocked": "danger"}.get(check.level, "secondary")
    message_class = {"warn": "text-warning-emphasis", "blocked": "text-danger"}.get(
        check.level, "text-body-secondary"
    )
    return html.Div(
        [
            html.Div(check.summary, id=ConfigureIds.GRID_SUMMARY, className="bt-grid-summary"),
            html.Div(
                [html.Span("values per parameter: "), html.Span(dims, className="bt-mono")],
                className="bt-help",
            ),
            dbc.Progress(value=share * 100, color=color, class_name="bt-cap-bar my-2"),
            html.Div(check.grid_message, id=ConfigureIds.GRID_MESSAGE, className=f"small {message_class}"),
        ]
    )


FEEDBACK_FIELDS = (*FORM_FIELDS, "strategy", LAGS_FIELD)  # every field with a message line


def validation_view(check: FormCheck, param_ids: list[dict]) -> dict:
    """Every message, value preview and state the form shows for one FormCheck."""
    rows = [check.params.get(pid["name"]) for pid in param_ids]
    return {
        "param_invalid": [bool(row and row.error) for row in rows],
        "param_feedback": [(row.error or "") if row else "" for row in rows],
        "param_values": [row.preview if row else "" for row in rows],
        "invalid": {name: name in check.errors for name in INVALID_FIELDS},
        "feedback": {name: check.errors.get(name, "") for name in FEEDBACK_FIELDS},
        "name_hint": check.hints.get("name", ""),
        "grid": [
            make_grid_panel(check),
            *[
                make_alert(check.errors[key], title=LABELS[key] + ":")
                for key in ("params", "spec")
                if key in check.errors
            ],
        ],
        "save_disabled": not check.can_save,
        "save_reason": save_blockers(check, LABELS),
    }


def save_blockers(check: FormCheck, labels: dict[str, str]) -> str:
    """Why Save is disabled, in a few words (empty when it is enabled)."""
    if check.can_save:
        return ""
    if check.level == "blocked":
        return "The grid is above the limit."
    bad = [labels.get(key, key) for key in check.errors]
    bad += [name for name, p in check.params.items() if p.error]
    if bad:
        return "Fix: " + ", ".join(bad) + "."
    if "name" in check.hints:
        return "Name the sweep to save it."
    return "Complete the form to save."


def make_save_toast(record: SweepRecord) -> dbc.Toast:
    """The toast after a save: saved or updated, the grid's size, and whether it needs a new deploy."""
    config = record.config
    changed = record.deployed_hash is not None and record.deployed_hash != config.spec_hash
    verb = "Updated" if record.version > FIRST_VERSION else "Saved"
    body = [
        html.Div(f"{verb} {config.name}: {size_text(config)}."),
        html.Div("The spec changed since its last deploy: deploy again.") if changed else None,
        dcc.Link("Go to Deploy →", href="/deploy", className="bt-toast-link"),
    ]
    return make_toast(body, header="Sweep saved")


def make_data_hint(check: CheckResult | None) -> html.Div | str:
    """Under the data source: what it covers of the universe and period (the preflight's data check)."""
    if check is None:
        return ""
    tone = "text-danger-emphasis" if not check.ok else ("text-warning-emphasis" if check.warning else "")
    return html.Div(check.detail, className=f"bt-help {tone}".strip())
