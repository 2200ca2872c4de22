"""Pure figure builders of a sweep's progress: coverage over time with its ETA, throughput, runs compared."""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

import plotly.graph_objects as go

from components.figures import DEFAULT_THEME, RUN_COLORS, _empty_note_layout, template
from components.states import state_color
from services.airflow.models import RunState
from services.models import PointState, RunProgress

SECONDS_PER_MINUTE = 60.0
THROUGHPUT_BINS = 24  # about this many bars across a run, whatever its length
BIN_WIDTHS_S = (10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400, 21600, 43200, 86400)
MIN_RATE_SPAN_S = 30  # a per-minute rate from a few seconds of progress says little: wait this long
PARTIAL_BIN_MIN_SHARE = 0.5  # a last bin shorter than this share of a bin joins the one before it
TITLE_ROOM_PX = 26  # top margin for a note above the plot
HEADROOM = 1.12  # the y axis goes this far above the grid size: room for the ETA and grid labels
AREA_OPACITY = 0.15
HIGHLIGHT_WIDTH = 3.0
LINE_WIDTH = 1.75
END_MARKER_SIZE = 9
# The end of a run's line says how it ended; the line's colour says which run it is.
END_SYMBOLS = {RunState.SUCCESS: "circle", RunState.FAILED: "x"}
RUNNING_SYMBOL = "triangle-right"
# Elapsed-time units of the run comparison: the first whose range covers the longest run.
ELAPSED_UNITS = ((120.0, 1.0, "seconds"), (180 * 60.0, 60.0, "minutes"), (math.inf, 3600.0, "hours"))


class Sample(Protocol):
    """Points done at a moment: services.models.ProgressSample, or the wall's HistoryPoint."""

    @property
    def at(self) -> datetime: ...

    @property
    def done(self) -> int: ...


@dataclass(frozen=True)
class ThroughputBin:
    start: datetime
    end: datetime
    points: int

    @property
    def per_minute(self) -> float:
        return self.points / ((self.end - self.start).total_seconds() / SECONDS_PER_MINUTE)


def _empty(theme: str, text: str) -> go.Figure:
    return go.Figure(layout={"template": template(theme), **_empty_note_layout(text)})


def _local(moment: datetime) -> datetime:
    """Local wall-clock time without an offset (plotly.js would drop it): the run header's times."""
    return moment.astimezone().replace(tzinfo=None) if moment.tzinfo else moment


def _rgba(hex_color: str, alpha: float) -> str:
    red, green, blue = (int(hex_color[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgba({red},{green},{blue},{alpha})"


def _end(samples: Sequence[Sample], now: datetime | None) -> datetime:
    """Where the series stops: `now` (the status time) when later than the last sample."""
    last = samples[-1].at
    return max(last, now) if now is not None else last


def done_at(samples: Sequence[Sample], moment: datetime) -> int:
    """Points done by `moment`: the running total of the last sample at or before it."""
    position = bisect_right([s.at for s in samples], moment)
    return samples[position - 1].done if position else 0


def coverage_over_time(
    samples: Sequence[Sample],
    total: int,
    eta_s: float | None,
    now: datetime | None = None,
    theme: str = DEFAULT_THEME,
) -> go.Figure:
    """Points done against time (a step per finished chunk), held to `now`, the ETA dashed to the total."""
    if len(samples) < 2:
        return _empty(theme, "no points done yet" if samples else "no progress yet")
    end = _end(samples, now)
    times = [s.at for s in samples]
    done = [s.done for s in samples]
    if end > times[-1]:
        times, done = [*times, end], [*done, done[-1]]
    color = state_color(PointState.DONE)
    fig = go.Figure(
        go.Scatter(
            x=[_local(t) for t in times],
            y=done,
            mode="lines",
            name="done",
            line={"color": color, "width": 2, "shape": "hv"},
            fill="tozeroy",
            fillcolor=_rgba(color, AREA_OPACITY),
            hovertemplate="%{x|%H:%M:%S}: %{y:,} points done<extra></extra>",
        )
    )
    if eta_s and done[-1] < total:
        finish = end + timedelta(seconds=eta_s)
        fig.add_scatter(
            x=[_local(end), _local(finish)],
            y=[done[-1], total],
            mode="lines",
            name="ETA",
            line={"color": color, "dash": "dash", "width": 1.5},
            hovertemplate="ETA %{x|%H:%M:%S}<extra></extra>",
        )
        fig.add_annotation(  # at the right edge, where the ETA line ends (an x at the very edge is hidden)
            text=f"ETA {_local(finish):%H:%M:%S}",
            xref="x domain",
            x=1,
            y=total,
            xanchor="right",
            yanchor="bottom",
            showarrow=False,
            font={"color": color},
        )
    fig.add_hline(
        y=total,
        line={"color": state_color(PointState.NOT_STARTED), "dash": "dot", "width": 1},
        annotation={"text": f"grid {total:,}", "xanchor": "left", "yanchor": "bottom"},
        annotation_position="top left",
    )
    fig.update_layout(template=template(theme), showlegend=False)
    fig.update_yaxes(title_text="points done", range=[0, max(total, 1) * HEADROOM])
    return fig


def bin_width_s(span_s: float, bins: int = THROUGHPUT_BINS) -> int:
    """The smallest round bin width that cuts `span_s` into at most `bins` bins."""
    return next((w for w in BIN_WIDTHS_S if span_s / w <= bins), BIN_WIDTHS_S[-1])


def throughput_bins(samples: Sequence[Sample], now: datetime | None = None) -> list[ThroughputBin]:
    """Points finished per round time bin from the first sample to the end (a short last bin merged)."""
    if len(samples) < 2:
        return []
    first, end = samples[0].at, _end(samples, now)
    span_s = (end - first).total_seconds()
    if span_s <= 0:
        return []
    width = timedelta(seconds=bin_width_s(span_s))
    edges = [first]
    while edges[-1] < end:
        edges.append(min(edges[-1] + width, end))
    if len(edges) > 2 and (edges[-1] - edges[-2]) < width * PARTIAL_BIN_MIN_SHARE:
        del edges[-2]
    totals = [done_at(samples, edge) for edge in edges]
    return [
        ThroughputBin(start, stop, max(after - before, 0))
        for start, stop, before, after in zip(edges, edges[1:], totals, totals[1:], strict=False)
    ]


def throughput(
    samples: Sequence[Sample], now: datetime | None = None, theme: str = DEFAULT_THEME
) -> go.Figure:
    """Points finished per minute in round time bins, with the run's average rate as a dotted line."""
    bins = throughput_bins(samples, now)
    if not bins or not any(b.points for b in bins):
        return _empty(theme, "no points done yet" if samples else "no progress yet")
    if (bins[-1].end - bins[0].start).total_seconds() < MIN_RATE_SPAN_S:
        return _empty(theme, f"the rate shows after {MIN_RATE_SPAN_S} s of progress")
    fig = go.Figure(
        go.Bar(
            x=[_local(b.start + (b.end - b.start) / 2) for b in bins],
            y=[b.per_minute for b in bins],
            width=[(b.end - b.start).total_seconds() * 1000 for b in bins],  # ms on a date axis
            customdata=[[_local(b.start), _local(b.end), b.points] for b in bins],
            marker={"color": state_color(PointState.RUNNING), "line": {"width": 0}},
            hovertemplate=(
                "%{customdata[0]|%H:%M:%S}–%{customdata[1]|%H:%M:%S}: %{y:.1f} points/min"
                " (%{customdata[2]:,} points)<extra></extra>"
            ),
        )
    )
    minutes = (bins[-1].end - bins[0].start).total_seconds() / SECONDS_PER_MINUTE
    average = sum(b.points for b in bins) / minutes
    average_color = state_color(PointState.DONE)
    fig.add_hline(y=average, line={"color": average_color, "dash": "dot", "width": 1.5})
    fig.add_annotation(  # above the plot, where no bar can hide it
        text=f"┈ average {average:,.1f}/min",
        font={"color": average_color},
        xref="paper",
        yref="paper",
        x=1,
        y=1,
        xanchor="right",
        yanchor="bottom",
        showarrow=False,
    )
    fig.update_layout(template=template(theme), showlegend=False, bargap=0.1, margin={"t": TITLE_ROOM_PX})
    fig.update_yaxes(title_text="points / min", rangemode="tozero")
    return fig


def _end_symbol(state: RunState) -> str:
    return END_SYMBOLS.get(state, RUNNING_SYMBOL)


def run_label(item: RunProgress) -> str:
    """`started 01-05 14:02 · success`, or the run id when Airflow gave no start."""
    start = item.run.start_date
    head = f"started {_local(start):%m-%d %H:%M}" if start else item.run.run_id
    return f"{head} · {item.run.state}"


def run_comparison(
    runs: Sequence[RunProgress], highlight: str | None = None, theme: str = DEFAULT_THEME
) -> go.Figure:
    """Each run's share of the grid done against the time since it started, newest run first in the legend.

    `highlight` (a run id; the newest by default) is drawn thicker; a line ends in a mark of its state.
    """
    drawn = [r for r in runs if len(r.progress) >= 2]
    if not drawn:
        return _empty(theme, "no run has finished points yet")
    highlight = highlight or drawn[0].run.run_id
    longest_s = max(
        (r.progress[-1].at - (r.run.start_date or r.progress[0].at)).total_seconds() for r in drawn
    )
    _covers_s, unit_s, unit = next(u for u in ELAPSED_UNITS if longest_s <= u[0])
    traces = []
    for position, item in reversed(list(enumerate(drawn))):  # oldest drawn first: the newest stays on top
        start = item.run.start_date or item.progress[0].at
        total = max(item.points_total, 1)
        color = RUN_COLORS[position % len(RUN_COLORS)]
        sizes = [0] * (len(item.progress) - 1) + [END_MARKER_SIZE]
        traces.append(
            go.Scatter(
                x=[(s.at - start).total_seconds() / unit_s for s in item.progress],
                y=[s.done / total for s in item.progress],
                mode="lines+markers",
                name=run_label(item),
                line={
                    "color": color,
                    "width": HIGHLIGHT_WIDTH if item.run.run_id == highlight else LINE_WIDTH,
                    "shape": "hv",
                },
                marker={"size": sizes, "symbol": _end_symbol(item.run.state), "color": color},
                hovertemplate=(
                    f"{item.run.run_id}<br>%{{x:.1f}} {unit}: %{{y:.1%}} of the grid<extra></extra>"
                ),
            )
        )
    fig = go.Figure(data=traces)
    fig.update_layout(
        template=template(theme), showlegend=True, legend={"traceorder": "reversed", "y": -0.25}
    )
    fig.update_xaxes(title_text=f"{unit} since the run started", rangemode="tozero")
    fig.update_yaxes(title_text="grid done", tickformat=".0%", range=[0, 1.05])
    return fig
