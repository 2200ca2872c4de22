"""Results: one run's points as a metric heatmap, parallel coordinates, the best points, equity, exports."""

from __future__ import annotations

import logging

import dash
from dash import ALL, Input, Output, State, ctx, dcc, html
from dash.exceptions import PreventUpdate

from airflow_backtest_framework.config import SweepConfig
from components.alerts import make_alert, make_error_alert
from components.context import get_services, saved_config
from components.figures import DEFAULT_THEME
from components.figures_results import equity_figure, parallel_coordinates, results_heatmap
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
from services.results import METRIC_COLUMNS
from services.results_analysis import AGGREGATES, metric_grid, to_csv_bytes, to_parquet_bytes, top_n

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
        records = [r for r in get_services().registry.list() if r.run_ids]
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


@dash.callback(
    Output(Ids.HEATMAP, "figure"),
    Input(Ids.DATA, "data"),
    Input(Ids.METRIC, "value"),
    Input(Ids.X, "value"),
    Input(Ids.Y, "value"),
    Input(Ids.AGGREGATE, "value"),
    Input(Ids.fixed(ALL), "value"),
    State(Ids.fixed(ALL), "id"),
    State(ShellIds.THEME, "data"),
    State(Ids.NAME, "data"),
)
def show_heatmap(data, metric, x, y, aggregate, fixed, fixed_ids, theme, name):
    """The metric over (x, y); other parameters fixed by their selectors or aggregated."""
    if not (data and metric and x and y):
        raise PreventUpdate
    table = get_services().results_tables.table(saved_config(name), data["run_id"], rows=data.get("rows"))
    how = aggregate if aggregate in AGGREGATES else DEFAULT_AGGREGATE  # a page from before "best" sends "max"
    grid = metric_grid(table, x, y, metric, how, fixed_values(fixed_ids, fixed))
    return results_heatmap(grid, metric, how, theme=theme or DEFAULT_THEME)


@dash.callback(
    Output(Ids.PARCOORDS, "figure"),
    Output(Ids.TOP, "rowData"),
    Output(Ids.TOP, "columnDefs"),
    Input(Ids.DATA, "data"),
    Input(Ids.METRIC, "value"),
    Input(ShellIds.THEME, "data"),
    State(Ids.NAME, "data"),
)
def show_points(data, metric, theme, name):
    """Parallel coordinates of all points and the best TOP_N, both by the chosen metric."""
    if not (data and metric):
        raise PreventUpdate
    config = saved_config(name)
    table = get_services().results_tables.table(config, data["run_id"], rows=data.get("rows"))
    params = list(config.strategy_spec.param_names)
    metrics = [m for m in METRIC_COLUMNS if m in table.columns]
    figure = parallel_coordinates(table, params, metric, theme=theme or DEFAULT_THEME)
    return figure, top_rows(top_n(table, metric, TOP_N)), top_columns(params, metrics)


@dash.callback(
    Output(Ids.EQUITY, "figure"),
    Input(Ids.TOP, "selectedRows"),
    Input(Ids.TOP, "rowData"),
    Input(ShellIds.THEME, "data"),
    State(Ids.RUN, "value"),
    State(Ids.NAME, "data"),
)
def show_equity(selected, top, theme, run_id, name):
    """The equity curve of the selected point (the best one until a row is chosen), if written."""
    curve = None
    rows = selected or top
    if rows and run_id:
        curve = get_services().results.equity(saved_config(name).dag_id, run_id, int(rows[0]["index"]))
    return equity_figure(curve, theme=theme or DEFAULT_THEME)


def export_file(name: str, run_id: str, fmt: str) -> dict:
    """The run's results table (what exists so far) as a CSV or Parquet download."""
    table = get_services().results_tables.table(saved_config(name), run_id)
    stem = f"{name}_{run_id}".replace(":", "-").replace("+", "_")
    if fmt == "parquet":
        return dcc.send_bytes(to_parquet_bytes(table), f"{stem}.parquet")
    return dcc.send_bytes(to_csv_bytes(table), f"{stem}.csv")


@dash.callback(
    Output(Ids.DOWNLOAD, "data"),
    Output(Ids.ERROR, "children", allow_duplicate=True),
    Input(Ids.CSV, "n_clicks"),
    Input(Ids.PARQUET, "n_clicks"),
    State(Ids.DATA, "data"),
    State(Ids.NAME, "data"),
    prevent_initial_call=True,
)
def export(_csv, _parquet, data, name):
    if not data:
        raise PreventUpdate
    fmt = "parquet" if ctx.triggered_id == Ids.PARQUET else "csv"
    try:
        return export_file(name, data["run_id"], fmt), None
    except Exception as exc:
        return dash.no_update, make_error_alert(exc, title="Cannot read the results.")
