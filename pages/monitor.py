"""Monitor: every saved sweep's latest run, or one sweep live: KPIs, task states, grid coverage, results."""

from __future__ import annotations

import logging

import dash
import plotly.graph_objects as go
from dash import Input, Output, State, ctx, dcc, html
from dash.exceptions import PreventUpdate

from airflow_backtest_framework.config import SweepConfig
from components.alerts import make_error_alert, make_stale_banner
from components.batch_jobs_view import make_batch_jobs_table
from components.context import get_services, get_settings, saved_config
from components.figures import DEFAULT_THEME, coverage_heatmap, metric_heatmap, progress_strip, state_bar
from components.figures_progress import coverage_over_time, run_comparison, throughput
from components.grid_axes import axis_choices
from components.monitor_layout import LATEST_RUN, REFRESH_CHOICES_S, make_overview_layout, make_sweep_layout
from components.monitor_layout import MonitorIds as Ids
from components.monitor_view import SweepRow, make_best_table, make_kpis, make_run_header, make_sweeps_table
from components.result_labels import make_run_labels
from components.shell import ShellIds
from components.sweep_nav import MONITOR_PATH, RUNS_LISTED, SWEEP_SEGMENT, run_option
from services.models import PointState, RunSummary, SweepRecord, SweepStatus
from services.monitoring import COMPARED_RUNS

log = logging.getLogger(__name__)

dash.register_page(
    __name__,
    path=MONITOR_PATH,
    path_template=MONITOR_PATH + SWEEP_SEGMENT,
    title="Monitor · Backtest Frontend",
    name="Monitor",
    order=2,
)

COMPARE_EVERY_TICKS = 4  # the runs comparison changes slowly: redraw it at every 4th poll


def selected_run(value: str | None) -> str | None:
    """The run id to ask the monitor for; None follows the newest run."""
    return None if not value or value == LATEST_RUN else value


def default_refresh_ms() -> int:
    """The refresh choice nearest the configured interval."""
    wanted = get_settings().refresh_interval_s
    return min(REFRESH_CHOICES_S, key=lambda s: abs(s - wanted)) * 1000


def layout(sweep: str | None = None, **_kwargs) -> html.Div:
    if not sweep:
        return make_overview_layout()
    return make_sweep_layout(sweep, default_refresh_ms(), batch=get_services().monitor.batch_enabled)


# --------------------------------------------------------------------------- overview


def overview_rows(records: list[SweepRecord]) -> list[SweepRow]:
    """One line per sweep; the latest runs of those that ran come from Airflow in one batch lookup."""
    ran = [record.config for record in records if record.may_have_runs]
    latest: dict[str, RunSummary] = {}
    problem = ""
    if ran:
        try:
            latest = get_services().runs.latest_runs(ran)
        except Exception as exc:  # Airflow down: the lines say so, the sweeps are still listed
            log.info("latest runs unavailable: %s", exc)
            problem = "Airflow unavailable"
    rows = []
    for record in records:
        config = record.config
        rows.append(
            SweepRow(
                record.name,
                config.strategy,
                config.grid_size,
                record.deployed,
                len(record.run_ids),
                latest.get(record.name),
                problem if record.may_have_runs else "",
            )
        )
    return rows


@dash.callback(Output(Ids.OVERVIEW, "children"), Input(Ids.OVERVIEW_INTERVAL, "n_intervals"))
def show_overview(_n_intervals):
    try:
        return make_sweeps_table(overview_rows(get_services().registry.list()))
    except Exception as exc:
        return make_error_alert(exc, title="Cannot list the sweeps.")


# --------------------------------------------------------------------------- one sweep


def sweep_view(name: str, run_options: list[dict], axes: tuple[list[dict], str, str] | None) -> dict:
    """The run selector's options and the heatmap's axes; no axes (the sweep did not open): empty ones."""
    options, x, y = axes or ([], None, None)
    return {"runs": run_options, "x_options": options, "x": x, "y_options": options, "y": y, "current": name}


@dash.callback(
    output={
        "runs": Output(Ids.RUN, "options"),
        "x_options": Output(Ids.X, "options"),
        "x": Output(Ids.X, "value"),
        "y_options": Output(Ids.Y, "options"),
        "y": Output(Ids.Y, "value"),
        "current": Output(ShellIds.CURRENT_SWEEP, "data", allow_duplicate=True),
        "error": Output(Ids.ERROR, "children"),
    },
    inputs={"name": Input(Ids.NAME, "data")},
    prevent_initial_call="initial_duplicate",
)
def open_sweep(name):
    """The sweep's runs and axis choices; it becomes the current sweep."""
    try:
        config = saved_config(name)
    except Exception as exc:
        alert = make_error_alert(exc, title=f"Cannot open {name}.")
        return sweep_view(name, [], None) | {"current": dash.no_update, "error": alert}
    run_options = [{"label": "Latest run (follows new runs)", "value": LATEST_RUN}]
    try:
        runs = get_services().runs.list_runs(config, limit=RUNS_LISTED)
    except Exception as exc:  # Airflow down: the status poll shows it as stale data
        log.info("runs of %s unavailable: %s", name, exc)
        runs = []
    run_options += [run_option(r) for r in runs]
    return sweep_view(name, run_options, axis_choices(config)) | {"error": None}


@dash.callback(
    Output(Ids.INTERVAL, "interval"),
    Output(Ids.INTERVAL, "disabled"),
    Input(Ids.REFRESH, "value"),
    Input(Ids.LIVE, "value"),
)
def set_refresh(refresh_ms, live):
    return int(refresh_ms or default_refresh_ms()), not live


def status_view(config: SweepConfig, status: SweepStatus, theme: str) -> dict:
    """Everything drawn from one status: banner, run line, KPIs, charts, completion summary."""
    run_id = status.run.run_id if status.run else None
    url = get_services().airflow_ui_url(config.dag_id, run_id)
    return {
        "stale": make_stale_banner(status.fetched_at, status.stale_reason) if status.stale else None,
        "run": make_run_header(status, url),
        "kpis": make_kpis(status),
        "tasks": state_bar(status.task_counts, theme=theme, unit="tasks"),
        "strip": progress_strip(status.point_states, status.points_total, theme=theme),
        "summary": make_best_table(status.summary, config.strategy_spec.param_names)
        if status.summary
        else None,
        "summary_hidden": status.summary is None,
        "status": status.model_dump(mode="json"),  # point states run-length encoded: a few runs
    }


@dash.callback(
    output={
        "stale": Output(Ids.STALE, "children"),
        "run": Output(Ids.RUN_HEADER, "children"),
        "kpis": Output(Ids.KPIS, "children"),
        "tasks": Output(Ids.TASKS, "figure"),
        "strip": Output(Ids.STRIP, "figure"),
        "summary": Output(Ids.SUMMARY, "children"),
        "summary_hidden": Output(Ids.SUMMARY_CARD, "hidden"),
        "status": Output(Ids.STATUS, "data"),
    },
    inputs={
        "_tick": Input(Ids.INTERVAL, "n_intervals"),
        "run_id": Input(Ids.RUN, "value"),
        "theme": Input(ShellIds.THEME, "data"),
    },
    state={"name": State(Ids.NAME, "data")},
)
def poll(_tick, run_id, theme, name):
    """One cached status per sweep and interval (the monitor service shares it between viewers)."""
    if not name:
        raise PreventUpdate
    try:
        config = saved_config(name)
        status = get_services().monitor.status(config, selected_run(run_id))
    except Exception as exc:
        blank = dash.no_update
        return {
            "stale": make_error_alert(exc, title="Status unavailable."),
            "run": blank,
            "kpis": blank,
            "tasks": blank,
            "strip": blank,
            "summary": blank,
            "summary_hidden": blank,
            "status": blank,
        }
    return status_view(config, status, theme or DEFAULT_THEME)


def shown_run_id(status_data: dict | None) -> str | None:
    """The run of the status the page shows (the STATUS store holds a SweepStatus dump)."""
    if not status_data:
        return None
    run = SweepStatus.model_validate(status_data).run
    return run.run_id if run else None


@dash.callback(
    Output(Ids.LABELS, "children"),
    Output(Ids.LABELS_OF, "data"),
    Input(Ids.STATUS, "data"),
    State(Ids.LABELS_OF, "data"),
    State(Ids.NAME, "data"),
)
def show_labels(status_data, labels_of, name):
    """The run's result labels, read from one of its result files once it has one (not every poll)."""
    status = SweepStatus.model_validate(status_data) if status_data else None
    run_id = status.run.run_id if status and status.run else None
    if not name or (run_id and labels_of == run_id):
        raise PreventUpdate
    done = run_id if status and status.point_counts()[PointState.DONE] else None
    return make_run_labels(saved_config(name), done), done


def progress_figures(status: SweepStatus, theme: str) -> tuple[go.Figure, go.Figure]:
    """Coverage over time (with the ETA while the run goes on) and throughput, held to the status time."""
    run = status.run
    now = (run.end_date if run else None) or status.fetched_at
    eta = status.eta_s if run is not None and run.end_date is None else None
    return (
        coverage_over_time(status.progress, status.points_total, eta, now=now, theme=theme),
        throughput(status.progress, now=now, theme=theme),
    )


@dash.callback(
    Output(Ids.COVERAGE_TIME, "figure"),
    Output(Ids.THROUGHPUT, "figure"),
    Input(Ids.STATUS, "data"),
    Input(ShellIds.THEME, "data"),
)
def show_progress(status_data, theme):
    """The progress charts of the polled status (its progress samples came with it: no service call)."""
    if not status_data:
        raise PreventUpdate
    return progress_figures(SweepStatus.model_validate(status_data), theme or DEFAULT_THEME)


def runs_due(triggered_id: str | None, tick: int | None) -> bool:
    """Whether to redraw the runs comparison: on open, theme or run change, and every few polls."""
    return triggered_id != Ids.INTERVAL or not (tick or 0) % COMPARE_EVERY_TICKS


@dash.callback(
    Output(Ids.RUNS, "figure"),
    Output(Ids.RUNS_CARD, "hidden"),
    Input(Ids.INTERVAL, "n_intervals"),
    Input(Ids.RUN, "value"),
    Input(ShellIds.THEME, "data"),
    State(Ids.NAME, "data"),
)
def show_runs(tick, run_id, theme, name):
    """The newest runs side by side, when the sweep has two or more; redrawn every few polls."""
    if not name or not runs_due(ctx.triggered_id, tick):
        raise PreventUpdate
    try:
        runs = get_services().monitor.run_progress(saved_config(name), limit=COMPARED_RUNS)
    except Exception as exc:  # Airflow down: keep the last chart, the status banner says why
        log.info("runs of %s unavailable: %s", name, exc)
        raise PreventUpdate from None
    if len(runs) < 2:
        return dash.no_update, True
    return run_comparison(runs, highlight=selected_run(run_id), theme=theme or DEFAULT_THEME), False


def heatmap_figure(
    config: SweepConfig, status: SweepStatus, view: str, x: str, y: str, theme: str
) -> go.Figure:
    if view == "coverage" or status.run is None:
        return coverage_heatmap(config, status.point_states, x, y, theme=theme)
    table = get_services().results.table(config, status.run.run_id)
    return metric_heatmap(config, table, x, y, view, theme=theme)


@dash.callback(
    Output(Ids.HEATMAP, "figure"),
    Input(Ids.STATUS, "data"),
    Input(Ids.VIEW, "value"),
    Input(Ids.X, "value"),
    Input(Ids.Y, "value"),
    State(ShellIds.THEME, "data"),
    State(Ids.NAME, "data"),
)
def show_heatmap(status_data, view, x, y, theme, name):
    """The grid heatmap of the polled status (its point states came with it: no status call)."""
    if not (status_data and x and y and name):
        raise PreventUpdate
    try:
        config = saved_config(name)
        status = SweepStatus.model_validate(status_data)
        return heatmap_figure(config, status, view or "coverage", x, y, theme or DEFAULT_THEME)
    except Exception as exc:
        log.exception("heatmap of %s failed: %s", name, exc)
        raise PreventUpdate from None


@dash.callback(
    Output(Ids.DOWNLOAD, "data"),
    Output(Ids.ERROR, "children", allow_duplicate=True),
    Input(Ids.DOWNLOAD_BUTTON, "n_clicks"),
    State(Ids.STATUS, "data"),
    State(Ids.NAME, "data"),
    prevent_initial_call=True,
)
def download(n_clicks, status_data, name):
    """The finished points of the shown run as CSV (services.results.table)."""
    run_id = shown_run_id(status_data)
    if not n_clicks or not run_id:
        raise PreventUpdate
    try:
        table = get_services().results.table(saved_config(name), run_id)
    except Exception as exc:
        return dash.no_update, make_error_alert(exc, title="Cannot read the results.")
    filename = f"{name}_{run_id}.csv".replace(":", "-").replace("+", "_")
    return dcc.send_data_frame(table.to_csv, filename, index=False), None


# --------------------------------------------------------------------------- Batch jobs (AWS mode)


@dash.callback(
    Output(Ids.BATCH, "children"),
    Input(Ids.STATUS, "data"),
    State(Ids.NAME, "data"),
)
def show_batch_jobs(status_data, name):
    """The shown run's Batch jobs, refreshed with every status poll."""
    if not (status_data and name) or not get_services().monitor.batch_enabled:
        raise PreventUpdate
    run_id = shown_run_id(status_data)
    try:
        jobs = get_services().monitor.batch_jobs(saved_config(name), run_id) if run_id else []
    except Exception as exc:
        return make_error_alert(exc, title="Batch jobs unavailable.")
    return make_batch_jobs_table(jobs, run_id)
