"""Pure figure builders of the sweep validation panel: in-sample vs out-of-sample, the PBO logits, parameter
importance. One colour map (VALIDATION_COLORS) for them all; the heatmaps keep METRIC_COLORSCALE."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from airflow_backtest_framework.validation_report import Overfitting, ParameterImportance
from components.figures import DEFAULT_THEME, template
from components.figures_results import empty_figure, metric_label
from components.states import TONE_COLORS, Tone
from services.validation_export import IN_SAMPLE_COLUMN, OUT_OF_SAMPLE_COLUMN

# What each mark means, one colour each, in every validation figure (and the panel's legend text).
VALIDATION_COLORS = {
    "point": TONE_COLORS[Tone.RUN],  # a grid point
    "in_sample_best": TONE_COLORS[Tone.RETRY],  # the point the in-sample metric picks
    "robust_best": TONE_COLORS[Tone.OK],  # the point the smoothed metric picks
    "overfit": TONE_COLORS[Tone.BAD],  # a CSCV split whose IS best fell to or below the OOS median
    "holds": TONE_COLORS[Tone.OK],  # a split whose IS best stayed above the OOS median
    "reference": TONE_COLORS[Tone.SKIP],  # the diagonal, the 0 line
}
POINT_OPACITY = 0.55
POINT_SIZE = 6
MARK_SIZE = 15
LOGIT_BINS = 30
MARGIN = {"l": 8, "r": 8, "t": 28, "b": 8}
HOVER_XY = "in-sample %{x:.3f}<br>out-of-sample %{y:.3f}<extra></extra>"


def _mark(table: pd.DataFrame, x: str, y: str, point: int | None, key: str, label: str) -> go.Scatter | None:
    row = table[table["index"] == point] if point is not None else table.head(0)
    if row.empty or row[[x, y]].isna().any(axis=None):
        return None
    return go.Scatter(
        x=row[x].to_numpy(dtype=float),
        y=row[y].to_numpy(dtype=float),
        mode="markers",
        name=f"{label} (point {point})",
        marker={"symbol": "star", "size": MARK_SIZE, "color": VALIDATION_COLORS[key], "line": {"width": 1}},
        hovertemplate=f"{label}: point {point}<br>{HOVER_XY}",
    )


def is_oos_scatter(
    table: pd.DataFrame,
    metric: str,
    best_in_sample: int | None,
    robust_best: int | None = None,
    theme: str = DEFAULT_THEME,
    reason: str = "",
) -> go.Figure:
    """Each point's in-sample metric against its out-of-sample one (the table's validation columns);
    the in-sample best and the robust best starred, the diagonal (no decay) dashed."""
    x, y = IN_SAMPLE_COLUMN, OUT_OF_SAMPLE_COLUMN
    rows = table.dropna(subset=[x, y]) if {x, y} <= set(table.columns) else table.head(0)
    if rows.empty:
        return empty_figure(reason or "no out-of-sample results yet", theme)
    xs, ys = rows[x].to_numpy(dtype=float), rows[y].to_numpy(dtype=float)
    low, high = float(min(xs.min(), ys.min())), float(max(xs.max(), ys.max()))
    traces = [
        go.Scatter(
            x=[low, high],
            y=[low, high],
            mode="lines",
            name="out-of-sample = in-sample",
            line={"color": VALIDATION_COLORS["reference"], "dash": "dash", "width": 1},
            hoverinfo="skip",
        ),
        go.Scatter(
            x=xs,
            y=ys,
            mode="markers",
            name="points",
            customdata=rows["index"].to_numpy(dtype=int),
            marker={"color": VALIDATION_COLORS["point"], "size": POINT_SIZE, "opacity": POINT_OPACITY},
            hovertemplate=f"point %{{customdata}}<br>{HOVER_XY}",
        ),
    ]
    marks = (
        _mark(rows, x, y, best_in_sample, "in_sample_best", "in-sample best"),
        _mark(rows, x, y, robust_best, "robust_best", "robust best"),
    )
    traces += [mark for mark in marks if mark is not None]
    fig = go.Figure(traces)
    label = metric_label(metric)
    fig.update_layout(template=template(theme), margin=MARGIN, showlegend=False)  # the panel's legend
    fig.update_xaxes(title_text=f"in-sample {label}")
    fig.update_yaxes(title_text=f"out-of-sample {label}")
    return fig


def pbo_histogram(overfitting: Overfitting | None, theme: str = DEFAULT_THEME, reason: str = "") -> go.Figure:
    """CSCV's logits, one per combination: at or left of 0 the in-sample best ranked at or below the
    out-of-sample median (overfit), right of it above; the PBO is the share at or left of 0."""
    if overfitting is None or not overfitting.logits:
        return empty_figure(reason or "no overfitting probability yet", theme)
    logits = np.asarray(overfitting.logits, dtype=float)
    finite = logits[np.isfinite(logits)]
    edges = np.histogram_bin_edges(finite if finite.size else [0.0], bins=LOGIT_BINS)
    size = float(edges[1] - edges[0]) if len(edges) > 1 and edges[1] > edges[0] else 1.0
    bins = {"start": float(edges[0]), "end": float(edges[-1]) + size, "size": size}
    sides = (
        (finite[finite <= 0], "overfit", "IS best at or below the OOS median"),
        (finite[finite > 0], "holds", "IS best above the OOS median"),
    )
    traces = [
        go.Histogram(
            x=values,
            xbins=bins,
            name=name,
            marker={"color": VALIDATION_COLORS[key]},
            hovertemplate="logit %{x}<br>%{y} combinations<extra></extra>",
        )
        for values, key, name in sides
    ]
    fig = go.Figure(traces)
    o = overfitting
    fig.add_vline(x=0, line={"color": VALIDATION_COLORS["reference"], "width": 2, "dash": "dash"})
    fig.update_layout(
        template=template(theme),
        barmode="overlay",
        margin=MARGIN,
        showlegend=False,  # the panel's legend says what red and green are
        title={
            "text": f"PBO {o.pbo:.2f} · {o.combinations:,} splits, S={o.blocks}",
            "font": {"size": 12},
            "x": 0.01,
        },
    )
    fig.update_xaxes(title_text="logit of the IS best's OOS rank")
    fig.update_yaxes(title_text="combinations")
    return fig


def importance_bars(
    importance: ParameterImportance | None, theme: str = DEFAULT_THEME, reason: str = ""
) -> go.Figure:
    """The share of the metric's variance each parameter's main effect explains, largest on top."""
    if importance is None or not importance.shares:
        return empty_figure(reason or "no parameter importance yet", theme)
    ordered = sorted(importance.shares.items(), key=lambda item: item[1])
    names, shares = [n for n, _ in ordered], [float(v) for _, v in ordered]
    fig = go.Figure(
        go.Bar(
            x=shares,
            y=names,
            orientation="h",
            marker={"color": VALIDATION_COLORS["point"]},
            text=[f"{v:.0%}" for v in shares],
            textposition="auto",
            hovertemplate="%{y}: %{x:.1%} of the variance<extra></extra>",
        )
    )
    fig.update_layout(template=template(theme), margin=MARGIN, showlegend=False)
    fig.update_xaxes(
        title_text=f"share of {metric_label(importance.metric)} variance",
        tickformat=".0%",
        rangemode="tozero",
    )
    fig.update_yaxes(type="category")
    return fig
