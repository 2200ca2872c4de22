"""Pure figure builders of results: metric heatmap, parallel coordinates, equity curve."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from components.figures import CENTERED_METRICS, DEFAULT_THEME, METRIC_COLORSCALE, _empty_note, template
from components.states import state_color
from services.models import RETURNS_SOURCE, EquityCurve, PointState
from services.results_analysis import aggregate_label
from services.validation_export import (
    IN_SAMPLE_COLUMN,
    OUT_OF_SAMPLE_COLUMN,
    SMOOTHED_COLUMN,
    VALIDATION_COLUMNS,
)

HEATMAP_TEXT_MAX_CELLS = 150  # above this many cells the per-cell labels become unreadable
PARCOORDS_MAX_POINTS = 5_000  # more lines only slow the browser: keep the best ones
METRIC_LABELS = {
    "sharpe": "Sharpe",
    "sortino": "Sortino",
    "cagr": "CAGR",
    "total_return": "Total return",
    "max_drawdown": "Max drawdown",
    "annual_volatility": "Volatility",
    "win_rate": "Win rate",
    "trades": "Trades",
    "turnover": "Turnover",
    IN_SAMPLE_COLUMN: "In-sample Sharpe",
    OUT_OF_SAMPLE_COLUMN: "Out-of-sample Sharpe",
    SMOOTHED_COLUMN: "Smoothed Sharpe",
}


def metric_label(metric: str) -> str:
    return METRIC_LABELS.get(metric, metric.replace("_", " "))


def centred(metric: str) -> bool:
    """Whether the metric's colour scale centres on 0 (the validation columns are Sharpe ratios)."""
    return metric in CENTERED_METRICS or metric in VALIDATION_COLUMNS


def empty_figure(text: str, theme: str = DEFAULT_THEME) -> go.Figure:
    """A figure whose axes are replaced by a note saying why there is nothing to draw."""
    fig = go.Figure()
    fig.update_layout(template=template(theme))
    _empty_note(fig, text)
    return fig


def results_heatmap(grid: pd.DataFrame, metric: str, aggregate: str, theme: str = DEFAULT_THEME) -> go.Figure:
    """A metric grid (rows = y values, columns = x values, from results_analysis.metric_grid)."""
    if grid.empty or grid.isna().all().all():
        return empty_figure(f"no {metric_label(metric)} results yet", theme)
    x, y = grid.columns.name or "", grid.index.name or ""
    how = aggregate_label(aggregate, metric)  # e.g. "best (min)": which cell value the others gave way to
    z = grid.to_numpy(dtype=float)
    show_text = z.size <= HEATMAP_TEXT_MAX_CELLS
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=[str(v) for v in grid.columns],
            y=[str(v) for v in grid.index],
            colorscale=METRIC_COLORSCALE,
            zmid=0 if centred(metric) else None,
            xgap=2,
            ygap=2,
            text=np.where(np.isnan(z), "", np.vectorize(lambda v: f"{v:.2f}")(z)) if show_text else None,
            texttemplate="%{text}" if show_text else None,
            colorbar={"title": {"text": f"{metric_label(metric)}<br>{how}"}, "thickness": 12, "len": 0.9},
            hovertemplate=(
                f"{x}=%{{x}}<br>{y}=%{{y}}<br>{how} {metric_label(metric)} %{{z:.3f}}<extra></extra>"
            ),
        )
    )
    fig.update_layout(template=template(theme), margin={"l": 8, "r": 8, "t": 8, "b": 8})
    fig.update_xaxes(title_text=x, type="category", showgrid=False)
    fig.update_yaxes(title_text=y, type="category", showgrid=False)
    return fig


def parallel_coordinates(
    table: pd.DataFrame, params: Sequence[str], metric: str, theme: str = DEFAULT_THEME
) -> go.Figure:
    """Every point as a line through its parameters and the metric, coloured by the metric."""
    if table.empty or metric not in table.columns:
        return empty_figure(f"no {metric_label(metric)} results yet", theme)
    rows = table.dropna(subset=[metric])
    if len(rows) > PARCOORDS_MAX_POINTS:
        rows = rows.nlargest(PARCOORDS_MAX_POINTS, metric)
    # numpy arrays: plotly takes them as they are, where pandas columns go through a conversion first
    values = rows[metric].to_numpy(dtype=float)
    dimensions = [
        {"label": name, "values": rows[name].to_numpy(dtype=float)} for name in params if name in rows
    ]
    dimensions.append({"label": metric_label(metric), "values": values})
    fig = go.Figure(
        go.Parcoords(
            line={
                "color": values,
                "colorscale": METRIC_COLORSCALE,
                "showscale": False,  # the metric's own axis is the scale
            },
            dimensions=dimensions,
        )
    )
    fig.update_layout(template=template(theme), margin={"l": 56, "r": 56, "t": 40, "b": 20})
    return fig


def equity_figure(curve: EquityCurve | None, theme: str = DEFAULT_THEME) -> go.Figure:
    """One point's equity curve (growth of 1 from its daily returns), or a note when the engine wrote none."""
    if curve is None or not curve.equity:
        return empty_figure("select a point of the table; no equity curve was written for it", theme)
    fig = go.Figure(
        go.Scatter(
            x=curve.dates,
            y=curve.equity,
            mode="lines",
            line={"color": state_color(PointState.RUNNING), "width": 2},
            hovertemplate="%{x}<br>equity %{y:.3f}<extra></extra>",
        )
    )
    fig.update_layout(template=template(theme), showlegend=False)
    if curve.source == RETURNS_SOURCE:
        title = f"growth of 1 · point {curve.index} · daily returns"
    else:
        title = f"equity · point {curve.index} · sampled (no returns file)"
    fig.update_yaxes(title_text=title)
    return fig
