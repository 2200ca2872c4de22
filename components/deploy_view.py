"""Component trees of the Deploy page: sweep summary, deployment progress, the triggered run."""

from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import dcc, html

from airflow_backtest_framework.chunking import describe_plan
from airflow_backtest_framework.config import SweepConfig
from airflow_backtest_framework.data_source_spec import DATA_FOLDER
from components.context import get_settings
from components.formatting import format_minute
from components.spec_text import benchmark_text, costs_text, fill_text, lags_text, validation_text
from components.sweep_nav import monitor_href
from services.deploy_records import DeployRecord
from services.models import DeployProgress, RunSummary, StepState, SweepRecord

SHOWN_SYMBOLS = 8
HASH_CHARS = 12


def size_text(config: SweepConfig) -> str:
    """`10,000 points in 32 tasks of ~313`, for the app's executor (chunking.py's rule)."""
    return describe_plan(config.grid_size, config.chunk_size(get_settings().task_profile))


def deploy_status(record: SweepRecord) -> tuple[str, str]:
    """(badge colour, text) of the record's deployment against its current spec."""
    if record.deployed_hash is None:
        return "secondary", "Not deployed"
    when = format_minute(record.deployed_at) or "earlier"
    if record.deployed_hash == record.config.spec_hash:
        return "success", f"Deployed {when}"
    return "warning", f"Spec changed since the deploy of {when}"


def kv_row(label: str, value, mono: bool = False) -> html.Div:
    return html.Div(
        [
            html.Dt(label, className="bt-kv-key"),
            html.Dd(value, className="bt-kv-value" + (" bt-mono" if mono else "")),
        ],
        className="bt-kv-row",
    )


def data_source_text(source: str | None, folder: str) -> str:
    """The spec's data source as the summary shows it (a spec without one: the deployment's default)."""
    if source is None:
        return "deployment default (BACKTEST_DATA_SOURCE; synthetic unless set)"
    return f"folder {folder}" if source == DATA_FOLDER else source


def make_sweep_summary(record: SweepRecord) -> html.Div:
    """What is about to be deployed: strategy, grid, universe, period, ids and deploy state."""
    config = record.config
    symbols = config.universe
    universe = ", ".join(symbols[:SHOWN_SYMBOLS]) + (
        f" … (+{len(symbols) - SHOWN_SYMBOLS})" if len(symbols) > SHOWN_SYMBOLS else ""
    )
    color, status = deploy_status(record)
    runs = f"{len(record.run_ids)} (latest {record.run_ids[0]})" if record.run_ids else "none yet"
    return html.Div(
        [
            html.Div(
                [
                    html.Span(config.name, className="bt-summary-name"),
                    dbc.Badge(status, color=color, class_name="bt-badge"),
                ],
                className="bt-summary-head",
            ),
            html.Div(config.description, className="bt-help mb-2") if config.description else None,
            html.Dl(
                [
                    kv_row("Strategy", config.strategy),
                    kv_row("Grid", size_text(config)),
                    kv_row("Universe", f"{len(symbols)} symbols: {universe}"),
                    kv_row("Factors", ", ".join(config.factors) or "none"),
                    kv_row("Data", data_source_text(config.data_source, config.data_folder)),
                    kv_row("Fill", fill_text(config)),
                    kv_row("Costs", costs_text(config)),
                    kv_row("Benchmark", benchmark_text(config)),
                    kv_row("Factor lags", lags_text(config)),
                    kv_row("Validation", validation_text(config)),
                    kv_row("Period", f"{config.start_date.isoformat()} → {config.end_date.isoformat()}"),
                    kv_row("Capital", f"{config.initial_capital:,.0f}"),
                    kv_row("Owner", config.owner),
                    kv_row("DAG id", config.dag_id, mono=True),
                    kv_row("Spec hash", config.spec_hash[:HASH_CHARS], mono=True),
                    kv_row("Runs from this app", runs),
                ],
                className="bt-kv",
            ),
        ]
    )


_STEP_MARKS = {
    StepState.PENDING: ("○", "pending"),
    StepState.DONE: ("✓", "done"),
    StepState.SKIPPED: ("✓", "skipped"),
    StepState.FAILED: ("✕", "failed"),
}


def _step_mark(state: StepState):
    if state == StepState.RUNNING:
        return dbc.Spinner(size="sm", color="primary", spinner_class_name="bt-step-spinner")
    mark, kind = _STEP_MARKS.get(state, ("○", "pending"))
    return html.Span(mark, className=f"bt-deploy-mark bt-deploy-{kind}")


def make_last_deploy(record: DeployRecord, steps: html.Div) -> html.Div:
    """The sweep's last deployment (from any page or host): who started it, when, and its steps."""
    verb = "Deployment in progress" if not record.progress.finished else "Last deployment"
    who = f", started by {record.by}" if record.by else ", started"
    note = f"{verb}{who} at {record.started_at:%Y-%m-%d %H:%M:%S} UTC."
    return html.Div([html.Div(note, className="bt-help mb-2 bt-deploy-last"), steps])


def make_deploy_progress(progress: DeployProgress, live: bool) -> html.Div:
    """The progress bar and the steps, each ticking as it completes; the error with its detail."""
    steps = [
        html.Li(
            [
                _step_mark(step.state),
                html.Span(step.label, className="bt-deploy-label"),
                html.Span(
                    step.detail or ("unchanged" if step.state == StepState.SKIPPED else ""),
                    className="bt-deploy-detail",
                ),
            ],
            className=f"bt-deploy-step bt-deploy-step-{step.state.value}",
        )
        for step in progress.steps
    ]
    finished = sum(step.state in (StepState.DONE, StepState.SKIPPED) for step in progress.steps)
    color = "danger" if progress.error else ("success" if progress.ok else "primary")
    bar = dbc.Progress(
        value=progress.fraction * 100,
        label=f"{finished} of {len(progress.steps)}",
        color=color,
        striped=live,
        animated=live,
        class_name="bt-deploy-bar",
    )
    parts = [bar, html.Ol(steps, className="bt-deploy-steps")]
    if progress.error:
        detail = progress.error_detail
        parts.append(
            dbc.Alert(
                [
                    html.Strong("Deployment failed. "),
                    progress.error,
                    html.Details([html.Summary("Details"), html.Pre(detail, className="bt-pre")])
                    if detail
                    else None,
                ],
                color="danger",
                class_name="bt-alert mt-3 mb-0",
            )
        )
    elif progress.ok:
        uploaded = ", ".join(progress.uploaded) if progress.uploaded else "nothing changed"
        parts.append(
            dbc.Alert(
                [html.Strong("Deployed and unpaused. "), f"Uploaded: {uploaded}. Trigger a run below."],
                color="success",
                class_name="bt-alert mt-3 mb-0",
            )
        )
    return html.Div(parts)


def make_run_result(name: str, run: RunSummary, airflow_url: str) -> dbc.Alert:
    """The run just triggered, with where to watch it."""
    return dbc.Alert(
        [
            html.Div(
                [html.Strong("Run started. "), html.Span(run.run_id, className="bt-mono"), f" ({run.state})"]
            ),
            html.Div(
                [
                    dcc.Link("Open in Monitor →", href=monitor_href(name), className="fw-semibold me-3"),
                    html.A("Airflow UI ↗", href=airflow_url, target="_blank", rel="noopener noreferrer"),
                ],
                className="mt-1",
            ),
        ],
        color="success",
        class_name="bt-alert mb-0",
    )
