"""Pure figure builders (models in, go.Figure out): one template; state colours from components.states."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from enum import StrEnum
from functools import lru_cache

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from airflow_backtest_framework.config import SweepConfig
from components.states import STATE_STYLES, TONE_COLORS, state_color, state_style, states_in_order
from services.models import PointState

FONT_FAMILY = 'system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif'
FONT_SIZE = 12
MARGIN = {"l": 8, "r": 8, "t": 8, "b": 8}
HEATMAP_TEXT_MAX_CELLS = 400  # above this many cells the per-cell labels become unreadable
STRIP_TEXT_MIN_SHARE = 0.06  # a narrower segment of the progress strip has no room for its count

# Runs of one sweep drawn side by side, newest first: apart from the state colours, readable on both themes.
RUN_COLORS: tuple[str, ...] = ("#4c78a8", "#f58518", "#b279a2", "#72b7b2", "#9d755d")

DEFAULT_THEME = "light"  # the app's theme until the user switches (the wall has its own default)
_THEMES = {
    "light": {"text": "#343a40", "muted": "#6c757d", "grid": "rgba(0,0,0,0.08)", "hover": "#ffffff"},
    "dark": {"text": "#dee2e6", "muted": "#adb5bd", "grid": "rgba(255,255,255,0.10)", "hover": "#2b3035"},
}


@lru_cache(maxsize=len(_THEMES) + 1)
def template(theme: str = DEFAULT_THEME) -> go.layout.Template:
    """The shared template: transparent background, quiet grid, the app's font.

    Built once per theme (validating a template costs milliseconds per figure, and Monitor redraws
    its figures every few seconds per viewer); a figure copies it when it is assigned.
    """
    colors = _THEMES.get(theme, _THEMES[DEFAULT_THEME])
    axis = {
        "gridcolor": colors["grid"],
        "zerolinecolor": colors["grid"],
        "linecolor": colors["grid"],
        "tickfont": {"color": colors["muted"]},
        "title": {"font": {"color": colors["muted"]}},
        "automargin": True,
    }
    return go.layout.Template(
        layout={
            "font": {"family": FONT_FAMILY, "size": FONT_SIZE, "color": colors["text"]},
            "paper_bgcolor": "rgba(0,0,0,0)",
            "plot_bgcolor": "rgba(0,0,0,0)",
            "margin": MARGIN,
            "xaxis": axis,
            "yaxis": axis,
            "hoverlabel": {"bgcolor": colors["hover"], "font": {"color": colors["text"]}},
            "legend": {"orientation": "h", "y": -0.15, "font": {"color": colors["muted"]}},
            "colorway": list(TONE_COLORS.values()),
        }
    )


def state_bar(counts: Mapping[StrEnum, int], theme: str = DEFAULT_THEME, unit: str = "tasks") -> go.Figure:
    """Horizontal bars of counts by state (task states, or any state of the style table), legend order."""
    ordered = sorted((state for state, count in counts.items() if count), key=_legend_position)
    keys = list(reversed(ordered))  # first state on top
    styles = [state_style(state) for state in keys]
    bar = go.Bar(
        x=[counts[k] for k in keys],
        y=[style.label for style in styles],
        orientation="h",
        marker={"color": [style.color for style in styles]},
        text=[f"{counts[k]:,}" for k in keys],
        textposition="auto",
        cliponaxis=False,
        hovertemplate="%{y}: %{x:,} " + unit + "<extra></extra>",
    )
    layout = {
        "template": template(theme),
        "showlegend": False,
        "bargap": 0.35,
        "xaxis": {"title": {"text": unit}, "rangemode": "tozero"},
    }
    if not ordered:
        layout |= _empty_note_layout(f"no {unit} yet")
    return go.Figure(data=[bar], layout=layout)


def _legend_position(state: StrEnum) -> int:
    order = STATE_STYLES.get(type(state), {})
    return list(order).index(state) if state in order else len(order)


def progress_strip(point_states: Sequence[PointState], total: int, theme: str = DEFAULT_THEME) -> go.Figure:
    """One 100 % stacked bar of the grid's points by state: the manager's one-glance progress."""
    # Counter runs in C: a 10,000-point sweep is counted on every refresh of every viewer.
    counts = Counter(point_states)
    counts[PointState.NOT_STARTED] += max(total - sum(counts.values()), 0)
    denominator = max(total, sum(counts.values()), 1)
    bars = []
    for state in states_in_order(PointState):
        count = counts.get(state, 0)
        if not count:
            continue
        share = count / denominator
        style = state_style(state)
        bars.append(
            go.Bar(
                x=[share],
                y=["points"],
                orientation="h",
                name=style.label,
                marker={"color": style.color},
                text=[f"{count:,}" if share >= STRIP_TEXT_MIN_SHARE else ""],
                textposition="inside",
                insidetextanchor="middle",
                hovertemplate=f"{style.label}: {count:,} points (%{{x:.1%}})<extra></extra>",
            )
        )
    layout = {
        "template": template(theme),
        "barmode": "stack",
        "showlegend": True,
        "bargap": 0,
        "margin": {"l": 0, "r": 0, "t": 26, "b": 0},
        "legend": {"y": 1.0, "yanchor": "bottom", "x": 0, "traceorder": "normal", "orientation": "h"},
        "xaxis": {"range": [0, 1], "tickformat": ".0%", "showgrid": False, "visible": False},
        "yaxis": {"visible": False},
    }
    return go.Figure(data=bars, layout=layout)


def coverage_matrix(
    config: SweepConfig, point_states: Sequence[PointState], x_param: str, y_param: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(done, failed, total) point counts per (y value, x value), the other parameters summed over.

    Point i's value indices are `config.point_indices(i)`: mixed radix, last parameter fastest,
    which is numpy's C-order unravel over the per-parameter value counts.
    """
    names = list(config.strategy_spec.param_names)
    radix = tuple(len(config.values(name)) for name in names)
    size = config.grid_size
    states = np.full(size, PointState.NOT_STARTED, dtype=object)
    known = min(len(point_states), size)
    states[:known] = point_states[:known]
    digits = np.unravel_index(np.arange(size), radix)
    xi, yi = digits[names.index(x_param)], digits[names.index(y_param)]
    shape = (radix[names.index(y_param)], radix[names.index(x_param)])
    total, done, failed = np.zeros(shape), np.zeros(shape), np.zeros(shape)
    np.add.at(total, (yi, xi), 1)
    np.add.at(done, (yi, xi), states == PointState.DONE)
    np.add.at(failed, (yi, xi), states == PointState.FAILED)
    return done, failed, total


def coverage_heatmap(
    config: SweepConfig,
    point_states: Sequence[PointState],
    x_param: str,
    y_param: str,
    theme: str = DEFAULT_THEME,
) -> go.Figure:
    """Fraction of points done per (x, y) cell of the grid, the other parameters aggregated."""
    done, failed, total = coverage_matrix(config, point_states, x_param, y_param)
    fraction = np.divide(done, total, out=np.zeros_like(done), where=total > 0)
    x_values = [str(v) for v in config.values(x_param)]
    y_values = [str(v) for v in config.values(y_param)]
    customdata = np.stack([done, failed, total], axis=-1)
    show_text = fraction.size <= HEATMAP_TEXT_MAX_CELLS
    heatmap = go.Heatmap(
        z=fraction,
        x=x_values,
        y=y_values,
        zmin=0,
        zmax=1,
        colorscale=[[0.0, state_color(PointState.NOT_STARTED)], [1.0, state_color(PointState.DONE)]],
        customdata=customdata,
        text=np.vectorize(lambda f: f"{f:.0%}")(fraction) if show_text else None,
        texttemplate="%{text}" if show_text else None,
        xgap=2,
        ygap=2,
        colorbar={"title": {"text": "done"}, "tickformat": ".0%", "thickness": 10, "len": 0.9},
        hovertemplate=(
            f"{x_param}=%{{x}}<br>{y_param}=%{{y}}<br>%{{z:.0%}} done"
            " (%{customdata[0]:.0f} of %{customdata[2]:.0f}; %{customdata[1]:.0f} failed)<extra></extra>"
        ),
    )
    return go.Figure(data=[heatmap], layout=_grid_layout(theme, x_param, y_param))


def _grid_layout(theme: str, x_param: str, y_param: str) -> dict:
    """The layout of a heatmap over two parameters: categorical axes named after them."""
    return {
        "template": template(theme),
        "xaxis": {"title": {"text": x_param}, "type": "category", "showgrid": False},
        "yaxis": {"title": {"text": y_param}, "type": "category", "showgrid": False},
    }


def blank(theme: str = DEFAULT_THEME) -> go.Figure:
    """A figure with nothing drawn yet: no axes, no grid (the placeholder before the first poll)."""
    return go.Figure(
        layout={"template": template(theme), "xaxis": {"visible": False}, "yaxis": {"visible": False}}
    )


def _empty_note(fig: go.Figure, text: str) -> None:
    """Replace a built figure's axes with a centred note."""
    fig.update_layout(_empty_note_layout(text))


def _empty_note_layout(text: str) -> dict:
    """Layout keys that replace a figure's axes with a centred note."""
    note = {"text": text, "showarrow": False, "x": 0.5, "y": 0.5, "xref": "paper", "yref": "paper"}
    return {"annotations": [note], "xaxis": {"visible": False}, "yaxis": {"visible": False}}


METRIC_COLORSCALE = "RdYlGn"
CENTERED_METRICS = {"sharpe", "total_return"}


def metric_heatmap(
    config: SweepConfig,
    table: pd.DataFrame,
    x_param: str,
    y_param: str,
    metric: str,
    theme: str = DEFAULT_THEME,
) -> go.Figure:
    """Mean of a result metric per (x, y) cell, over the other parameters; empty cells stay blank."""
    x_values, y_values = config.values(x_param), config.values(y_param)
    if table.empty or metric not in table.columns:
        return go.Figure(
            layout={"template": template(theme), **_empty_note_layout(f"no {metric} results yet")}
        )
    grouped = table.groupby([y_param, x_param])[metric].agg(["mean", "count"])
    z = np.full((len(y_values), len(x_values)), np.nan)
    n = np.zeros_like(z)
    y_pos = {v: i for i, v in enumerate(y_values)}
    x_pos = {v: i for i, v in enumerate(x_values)}
    for (y, x), row in grouped.iterrows():
        if y in y_pos and x in x_pos:
            z[y_pos[y], x_pos[x]] = row["mean"]
            n[y_pos[y], x_pos[x]] = row["count"]
    centered = metric in CENTERED_METRICS
    heatmap = go.Heatmap(
        z=z,
        x=[str(v) for v in x_values],
        y=[str(v) for v in y_values],
        colorscale=METRIC_COLORSCALE,
        zmid=0 if centered else None,
        customdata=n,
        xgap=2,
        ygap=2,
        colorbar={"title": {"text": metric}, "thickness": 10, "len": 0.9},
        hovertemplate=(
            f"{x_param}=%{{x}}<br>{y_param}=%{{y}}<br>mean {metric} %{{z:.3f}}"
            " over %{customdata:.0f} points<extra></extra>"
        ),
    )
    return go.Figure(data=[heatmap], layout=_grid_layout(theme, x_param, y_param))
