"""Results figures, asserted on their data; the wall's sparkline and progress bar."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd

from components.figures_results import equity_figure, parallel_coordinates, results_heatmap
from components.states import state_color
from components.wall_view import SPARK_HEIGHT, SPARK_WIDTH, make_progress_bar, sparkline_points, sparkline_svg
from services.models import EquityCurve, PointState
from services.results_analysis import metric_grid
from services.wall import HistoryPoint, WallTile

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def history(*done: int, step_s: int = 60) -> list[HistoryPoint]:
    return [HistoryPoint(at=T0 + timedelta(seconds=i * step_s), done=d) for i, d in enumerate(done)]


def test_results_heatmap_draws_the_grid_values() -> None:
    table = pd.DataFrame({"a": [1, 1, 2, 2], "b": [5, 6, 5, 6], "sharpe": [0.1, 0.2, 0.3, np.nan]})
    fig = results_heatmap(metric_grid(table, "a", "b", "sharpe"), "sharpe", "best")
    trace = fig.data[0]
    assert list(trace.x) == ["1", "2"] and list(trace.y) == ["5", "6"]
    assert np.asarray(trace.z)[0].tolist() == [0.1, 0.3]
    assert np.isnan(np.asarray(trace.z)[1][1])
    assert trace.zmid == 0  # sharpe is centred on zero
    assert "best (max) Sharpe" in trace.hovertemplate


def test_results_heatmap_says_best_is_the_min_of_volatility() -> None:
    table = pd.DataFrame({"a": [1, 1], "b": [5, 5], "c": [0, 1], "annual_volatility": [0.2, 0.1]})
    fig = results_heatmap(metric_grid(table, "a", "b", "annual_volatility"), "annual_volatility", "best")
    assert np.asarray(fig.data[0].z).tolist() == [[0.1]]
    assert "best (min)" in fig.data[0].hovertemplate and "best (min)" in fig.data[0].colorbar.title.text


def test_results_heatmap_of_nothing_says_so() -> None:
    fig = results_heatmap(pd.DataFrame(), "cagr", "best")
    assert not fig.data and "no CAGR results yet" in fig.layout.annotations[0].text


def test_parallel_coordinates_has_a_dimension_per_parameter_and_the_metric() -> None:
    table = pd.DataFrame({"a": [1, 2], "b": [0.5, 0.7], "sharpe": [1.0, -1.0]})
    trace = parallel_coordinates(table, ["a", "b"], "sharpe").data[0]
    assert [d.label for d in trace.dimensions] == ["a", "b", "Sharpe"]
    assert list(trace.line.color) == [1.0, -1.0]


def test_equity_figure_plots_the_curve_or_a_note() -> None:
    curve = EquityCurve(index=7, dates=["2024-01-05", "2024-01-12"], equity=[1.0, 1.1])
    fig = equity_figure(curve)
    assert list(fig.data[0].y) == [1.0, 1.1] and "point 7" in fig.layout.yaxis.title.text
    assert not equity_figure(None).data


def test_sparkline_scales_time_and_progress_into_its_box() -> None:
    points = sparkline_points(history(0, 50, 100), total=100)
    assert points[0] == (0.0, SPARK_HEIGHT - 3) and points[-1] == (SPARK_WIDTH, 3)
    svg = base64.b64decode(sparkline_svg(history(0, 50), 100).split(",", 1)[1]).decode()
    assert "<polyline" in svg and state_color(PointState.DONE) in svg


def test_progress_bar_segments_follow_the_counts_and_palette() -> None:
    tile = WallTile(
        name="s",
        dag_id="backtest_s",
        owner="o",
        strategy="x",
        points_total=10,
        counts={PointState.DONE: 5, PointState.FAILED: 1},
        fetched_at=T0,
    )
    segments = make_progress_bar(tile).children
    assert [s.style["width"] for s in segments] == ["50.000%", "10.000%"]
    assert [s.style["background"] for s in segments] == [
        state_color(PointState.DONE),
        state_color(PointState.FAILED),
    ]


def test_make_tiles_reuses_an_unchanged_tile_and_redraws_a_changed_one() -> None:
    from components.wall_view import make_tiles

    tile = WallTile(
        name="s", dag_id="backtest_s", owner="o", strategy="x", points_total=10, fetched_at=T0, coverage=0.2
    )
    first = make_tiles([tile])[0]
    assert make_tiles([tile.model_copy()])[0] is first
    moved = make_tiles([tile.model_copy(update={"coverage": 0.3})])[0]
    assert moved is not first and "30%" in str(moved.to_plotly_json())


def test_a_tile_names_its_run_state_in_the_tone_of_the_state_table() -> None:
    from components.states import state_style
    from components.wall_view import make_tile
    from services.airflow.models import RunState

    stored = WallTile(
        name="s", dag_id="backtest_s", owner="o", strategy="x", run_state="success", fetched_at=T0
    )
    tile = WallTile.model_validate_json(stored.model_dump_json())  # as the shared board holds it
    pill = next(
        node for node in make_tile(tile)._traverse() if "bt-wall-state" in str(getattr(node, "className", ""))
    )

    assert tile.run_state is RunState.SUCCESS and not tile.active
    assert pill.children == "success" and state_style(RunState.SUCCESS).css in pill.className
    assert "bt-wall-run-success" in make_tile(tile).className
    odd = tile.model_copy(update={"run_state": RunState.parse("paused_by_ops")})
    assert odd.run_state is RunState.UNKNOWN and "bt-wall-run-unknown" in make_tile(odd).className
