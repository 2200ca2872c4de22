"""Results: one run's points with their validation (verdict and figures), a metric heatmap, parallel
coordinates, the top points by a chosen ranking, equity, exports."""

from __future__ import annotations

import logging

import dash
import pandas as pd
from dash import ALL, Input, Output, State, ctx, dcc, html
from dash.exceptions import PreventUpdate

from airflow_backtest_framework.config import SweepConfig
from airflow_backtest_framework.validation import verdict
from components.alerts import make_alert, make_error_alert
from components.context import get_services, saved_config
from components.figures import DEFAULT_THEME
from components.figures_results import (
    empty_figure,
    equity_figure,
    metric_label,
    parallel_coordinates,
    results_heatmap,
)
from components.figures_validation import importance_bars, is_oos_scatter, pbo_histogram
from components.grid_axes import axis_choices
from components.result_labels import make_run_labels
from components.results_layout import ALL_VALUES, DEFAULT_AGGREGATE, TOP_N, ShownTable, make_results_layout
from components.results_layout import ResultsIds as Ids
from components.results_view import (
    make_fixed_selectors,
    make_results_index,
    metric_options,
    top_columns,
    top_rows,
)
from components.shell import ShellIds
from components.sweep_nav import RESULTS_PATH, RUNS_LISTED, SWEEP_SEGMENT, run_option
from components.validation_panel import FULL_PERIOD, SMOOTH, make_verdict, ranking_label
from components.validation_panel import ValidationIds as VIds
from services.errors import NotFound
from services.models import ValidationRead
from services.results import METRIC_COLUMNS
from services.results_analysis import AGGREGATES, metric_grid, to_csv_bytes, to_parquet_bytes, top_n
from services.validation_export import (
    SMOOTHED_COLUMN,
    VALIDATION_COLUMNS,
    validation_json_bytes,
    with_validation,
)

log = logging.getLogger(__name__)

dash.register_page(
    __name__,
    path=RESULTS_PATH,
    path_template=RESULTS_PATH + SWEEP_SEGMENT,
    title="Results · Backtest Frontend",
    name="Results",
    order=4,
)


def layout(sweep: str | None = None, **_kwargs) -> html.Div:
    if not sweep:
        return make_index()
    return make_results_layout(sweep)


def make_index() -> html.Div:
    """`/results`: the sweeps that were run, each a link to its results."""
    try:
        records = [r for r in get_services().registry.list() if r.may_have_runs]
    except Exception as exc:
        return make_error_alert(exc, title="Cannot list the sweeps.")
    return make_results_index(records)


def sweep_view(config: SweepConfig | None, run_options: list[dict]) -> dict:
    """The run selector (newest run chosen), the heatmap's axes and the other parameters' selectors."""
    options, x, y = axis_choices(config) if config else ([], None, None)
    params = config.strategy_spec.param_names if config else ()
    return {
        "runs": run_options,
        "run": run_options[0]["value"] if run_options else None,
        "x_options": options,
        "x": x,
        "y_options": options,
        "y": y,
        "fixed": make_fixed_selectors({n: config.values(n) for n in params}) if config else [],
    }


@dash.callback(
    output={
        "runs": Output(Ids.RUN, "options"),
        "run": Output(Ids.RUN, "value"),
        "x_options": Output(Ids.X, "options"),
        "x": Output(Ids.X, "value"),
        "y_options": Output(Ids.Y, "options"),
        "y": Output(Ids.Y, "value"),
        "fixed": Output(Ids.FIXED_ROW, "children"),
        "error": Output(Ids.ERROR, "children"),
        "current": Output(ShellIds.CURRENT_SWEEP, "data", allow_duplicate=True),
    },
    inputs={"name": Input(Ids.NAME, "data")},
    prevent_initial_call="initial_duplicate",
)
def open_sweep(name):
    """The sweep's runs (newest selected), axes and the other parameters' selectors; it becomes the
    current sweep. With Airflow down, the runs this app recorded are listed: their files still read."""
    try:
        config = saved_config(name)
    except Exception as exc:
        alert = make_error_alert(exc, title=f"Cannot open {name}.")
        return sweep_view(None, []) | {"error": alert, "current": dash.no_update}
    notice = None
    try:
        runs = get_services().runs.list_runs(config, limit=RUNS_LISTED)
        run_options = [run_option(r) for r in runs]
    except Exception as exc:
        log.info("runs of %s unavailable: %s", name, exc)
        recorded = get_services().registry.get(name).run_ids[:RUNS_LISTED]
        run_options = [{"label": f"{run_id} · state unknown", "value": run_id} for run_id in recorded]
        notice = make_alert(
            "Airflow is not answering: these are the runs this app triggered, with their result files.",
            color="warning",
        )
    return sweep_view(config, run_options) | {"error": notice, "current": name}


@dash.callback(
    Output(Ids.DATA, "data"),
    Output(Ids.COUNT, "children"),
    Output(Ids.METRIC, "options"),
    Output(Ids.LABELS, "children"),
    Input(Ids.RUN, "value"),
    Input(Ids.INTERVAL, "n_intervals"),
    State(Ids.NAME, "data"),
    State(Ids.DATA, "data"),
)
def load(run_id, _tick, name, previous):
    """(Re)load the run's table when new points appeared: the page follows a running sweep."""
    if not (run_id and name):
        raise PreventUpdate
    config = saved_config(name)
    table = get_services().results_tables.table(config, run_id)
    data = ShownTable(run_id=run_id, rows=len(table)).model_dump(mode="json")
    if data == previous:
        raise PreventUpdate
    count = f"{len(table):,} of {config.grid_size:,} points have results"
    labels = make_run_labels(config, run_id)
    return data, count, metric_options(table.columns) or metric_options(METRIC_COLUMNS), labels


def fixed_values(ids: list[dict], values: list) -> dict:
    return {i["param"]: v for i, v in zip(ids, values, strict=False) if v is not None and v != ALL_VALUES}


def validated(name: str, data: dict) -> tuple[pd.DataFrame, ValidationRead]:
    """The shown table with the validation report's per-point columns, and the report as read."""
    config = saved_config(name)
    tables = get_services().results_tables
    table = tables.table(config, data["run_id"], rows=data.get("rows"))
    read = tables.validation(config, data["run_id"], rows=data.get("rows"))
    return with_validation(table, read.report), read


@dash.callback(
    Output(Ids.HEATMAP, "figure"),
    Input(Ids.DATA, "data"),
    Input(Ids.METRIC, "value"),
    Input(Ids.X, "value"),
    Input(Ids.Y, "value"),
    Input(Ids.AGGREGATE, "value"),
    Input(Ids.fixed(ALL), "value"),
    Input(VIds.HEATMAP_MODE, "value"),
    State(Ids.fixed(ALL), "id"),
    State(ShellIds.THEME, "data"),
    State(Ids.NAME, "data"),
)
def show_heatmap(data, metric, x, y, aggregate, fixed, mode, fixed_ids, theme, name):
    """The metric over (x, y), raw or smoothed over grid neighbours (the validation report's robustness
    metric); other parameters fixed by their selectors or aggregated."""
    if not (data and metric and x and y):
        raise PreventUpdate
    theme = theme or DEFAULT_THEME
    aggregate = (
        aggregate if aggregate in AGGREGATES else DEFAULT_AGGREGATE
    )  # a page from before "best" sends "max"
    if mode == SMOOTH:
        table, read = validated(name, data)
        robustness = read.report.robustness if read.report else None
        if robustness is None:
            return empty_figure(smoothed_missing(read), theme)
        metric = SMOOTHED_COLUMN
    else:
        table = get_services().results_tables.table(saved_config(name), data["run_id"], rows=data.get("rows"))
    grid = metric_grid(table, x, y, metric, aggregate, fixed_values(fixed_ids, fixed))
    return results_heatmap(grid, metric, aggregate, theme=theme)


def smoothed_missing(read: ValidationRead) -> str:
    if read.report is None:
        return f"no smoothed metric: {read.reason}"
    return "no smoothed metric yet: " + ("; ".join(read.report.notes) or "the report has no robustness block")


@dash.callback(
    Output(Ids.PARCOORDS, "figure"),
    Output(Ids.TOP, "rowData"),
    Output(Ids.TOP, "columnDefs"),
    Output(VIds.RANK_NOTE, "children"),
    Input(Ids.DATA, "data"),
    Input(Ids.METRIC, "value"),
    Input(VIds.RANK_BY, "value"),
    Input(ShellIds.THEME, "data"),
    State(Ids.NAME, "data"),
)
def show_points(data, metric, ranking, theme, name):
    """Parallel coordinates of all points by the chosen metric; the TOP_N table ranked by the full-period
    metric, or by the report's in-sample, out-of-sample or smoothed Sharpe when it has them."""
    if not (data and metric):
        raise PreventUpdate
    config = saved_config(name)
    table, _read = validated(name, data)
    params = list(config.strategy_spec.param_names)
    validated_columns = [c for c in VALIDATION_COLUMNS if c in table.columns and table[c].notna().any()]
    shown = validated_columns + [m for m in METRIC_COLUMNS if m in table.columns]
    ranking = ranking or FULL_PERIOD
    column = metric if ranking == FULL_PERIOD else ranking
    note = f"ranked by {ranking_label(ranking, metric)} · select a row for its equity curve"
    if column != metric and column not in validated_columns:
        column = metric
        note = (
            f"this run has no {ranking_label(ranking, metric)}: ranked by {metric_label(metric)}, full period"
        )
    figure = parallel_coordinates(table, params, metric, theme=theme or DEFAULT_THEME)
    return figure, top_rows(top_n(table, column, TOP_N)), top_columns(params, shown), note


@dash.callback(
    Output(VIds.VERDICT, "children"),
    Output(VIds.SCATTER, "figure"),
    Output(VIds.LOGITS, "figure"),
    Output(VIds.IMPORTANCE, "figure"),
    Input(Ids.DATA, "data"),
    Input(ShellIds.THEME, "data"),
    State(Ids.NAME, "data"),
)
def show_validation(data, theme, name):
    """The validation panel: the verdict's sentences, in-sample vs out-of-sample, the PBO logits and
    parameter importance; without a report, why not."""
    if not data:
        raise PreventUpdate
    table, read = validated(name, data)
    theme = theme or DEFAULT_THEME
    report = read.report
    if report is None:
        missing = empty_figure(read.reason, theme)
        return make_verdict([], None, read.reason), missing, missing, missing
    why = "; ".join(report.notes)
    segments, robustness = report.segments, report.robustness
    scatter = is_oos_scatter(
        table,
        segments.metric if segments else "sharpe",
        segments.best_in_sample_point if segments else None,
        robustness.best_point if robustness else None,
        theme=theme,
        reason=why,
    )
    return (
        make_verdict(verdict(report), report),
        scatter,
        pbo_histogram(report.overfitting, theme=theme, reason=why),
        importance_bars(report.importance, theme=theme, reason=why),
    )


@dash.callback(
    Output(Ids.EQUITY, "figure"),
    Input(Ids.TOP, "selectedRows"),
    Input(Ids.TOP, "rowData"),
    Input(ShellIds.THEME, "data"),
    State(Ids.RUN, "value"),
    State(Ids.NAME, "data"),
)
def show_equity(selected, top, theme, run_id, name):
    """The equity curve of the selected point (the top row until a row is chosen), if written."""
    curve = None
    rows = selected or top
    if rows and run_id:
        curve = get_services().results.equity(saved_config(name).dag_id, run_id, int(rows[0]["index"]))
    return equity_figure(curve, theme=theme or DEFAULT_THEME)


def export_file(name: str, data: dict, fmt: str) -> dict:
    """The run's results table (what exists so far) with the validation report's per-point columns, as a
    CSV or Parquet download; or the validation report itself, with its verdict, as JSON (the logits,
    the importance shares, the statistics' inputs): together they redraw every validation figure."""
    table, read = validated(name, data)
    stem = f"{name}_{data['run_id']}".replace(":", "-").replace("+", "_")
    if fmt == "parquet":
        return dcc.send_bytes(to_parquet_bytes(table), f"{stem}.parquet")
    if fmt == "json":  # the report (every figure's data but the per-point columns) and its verdict
        if read.report is None:
            raise NotFound(read.reason)
        return dcc.send_bytes(validation_json_bytes(read.report), f"{stem}_validation.json")
    return dcc.send_bytes(to_csv_bytes(table), f"{stem}.csv")


EXPORT_FORMATS = {Ids.CSV: "csv", Ids.PARQUET: "parquet", VIds.JSON: "json"}


@dash.callback(
    Output(Ids.DOWNLOAD, "data"),
    Output(Ids.ERROR, "children", allow_duplicate=True),
    Input(Ids.CSV, "n_clicks"),
    Input(Ids.PARQUET, "n_clicks"),
    Input(VIds.JSON, "n_clicks"),
    State(Ids.DATA, "data"),
    State(Ids.NAME, "data"),
    prevent_initial_call=True,
)
def export(_csv, _parquet, _json, data, name):
    if not data:
        raise PreventUpdate
    try:
        return export_file(name, data, EXPORT_FORMATS.get(ctx.triggered_id, "csv")), None
    except Exception as exc:
        return dash.no_update, make_error_alert(
            exc, title=f"Cannot export the {EXPORT_FORMATS.get(ctx.triggered_id, 'csv').upper()} file."
        )
