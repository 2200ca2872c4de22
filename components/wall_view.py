"""Component trees of the wall: one tile per sweep (progress bar, counts, timing, sparkline), the summary."""

from __future__ import annotations

import base64
import threading
from collections import OrderedDict
from collections.abc import Sequence

from dash import html

from components.formatting import format_clock, format_duration, format_hour_minute
from components.result_labels import make_result_labels
from components.states import state_name, state_style
from components.sweep_nav import monitor_href
from services.models import PointState
from services.result_labels import LABELS_BY_KEY
from services.wall import HistoryPoint, WallOutage, WallTile

SPARK_WIDTH = 240
SPARK_HEIGHT = 48
SPARK_STROKE = 3
TILE_STATES = (PointState.DONE, PointState.RUNNING, PointState.QUEUED, PointState.FAILED)
UNKNOWN = "—"  # a number the wall does not know (Airflow did not answer)
RENDERED_TILES_KEPT = 256  # per process: every wall a worker serves in one period shows the same tiles

_rendered: OrderedDict[str, html.Div] = OrderedDict()
_rendered_lock = threading.Lock()


def sparkline_points(history: Sequence[HistoryPoint], total: int) -> list[tuple[float, float]]:
    """The polyline of done-vs-time in a SPARK_WIDTH x SPARK_HEIGHT box (y grows downwards)."""
    if not history:
        return []
    start, end = history[0].at, history[-1].at
    span = max((end - start).total_seconds(), 1e-9)
    top = max(total, max(point.done for point in history), 1)
    inner = SPARK_HEIGHT - 2 * SPARK_STROKE
    return [
        (
            round(SPARK_WIDTH * ((point.at - start).total_seconds() / span if len(history) > 1 else 1.0), 1),
            round(SPARK_STROKE + inner * (1 - point.done / top), 1),
        )
        for point in history
    ]


def sparkline_svg(history: Sequence[HistoryPoint], total: int) -> str:
    """A data: URI of an SVG sparkline of points done over time, area filled (no JS, no plotly)."""
    points = sparkline_points(history, total)
    color = state_style(PointState.DONE).color
    if len(points) == 1:
        points = [(0.0, points[0][1]), points[0]]
    line = " ".join(f"{x},{y}" for x, y in points)
    area = f"0,{SPARK_HEIGHT} {line} {points[-1][0] if points else 0},{SPARK_HEIGHT}" if points else ""
    svg = (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {SPARK_WIDTH} {SPARK_HEIGHT}" '
        f'preserveAspectRatio="none">'
        f'<polygon points="{area}" fill="{color}" fill-opacity="0.18"/>'
        f'<polyline points="{line}" fill="none" stroke="{color}" stroke-width="{SPARK_STROKE}" '
        f'stroke-linejoin="round" vector-effect="non-scaling-stroke"/></svg>'
    )
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode()


def make_progress_bar(tile: WallTile) -> html.Div:
    """A stacked bar of the grid's points by state, in the shared palette."""
    total = max(tile.points_total, 1)
    segments = [
        html.Div(
            className="bt-wall-seg",
            style={
                "width": f"{100 * tile.counts.get(state, 0) / total:.3f}%",
                "background": state_style(state).color,
            },
            title=f"{state_style(state).label}: {tile.counts.get(state, 0):,}",
        )
        for state in TILE_STATES
        if tile.counts.get(state, 0)
    ]
    return html.Div(segments, className="bt-wall-bar")


def _count(state: PointState, value: int | None) -> html.Div:
    """One state's count; None (a status nobody knows) shows as a dash, not as 0."""
    style = state_style(state)
    return html.Div(
        [
            html.Span(className="bt-wall-swatch", style={"background": style.color}),
            html.Span(UNKNOWN if value is None else f"{value:,}", className="bt-wall-count-value"),
            html.Span(style.label, className="bt-wall-count-label"),
        ],
        className="bt-wall-count" + (" bt-wall-count-bad" if state == PointState.FAILED and value else ""),
    )


def _unknown(tile: WallTile) -> bool:
    """A tile on the wall with no run: Airflow did not answer and no status was kept (services.wall)."""
    return tile.stale and tile.run_id is None


def _progress_text(tile: WallTile) -> html.Div:
    if _unknown(tile):
        pct, of = UNKNOWN, f"{tile.points_total:,} points, progress unknown"
    else:
        pct, of = (
            f"{tile.coverage:.0%}",
            f"{tile.counts.get(PointState.DONE, 0):,} / {tile.points_total:,} points",
        )
    return html.Div(
        [html.Span(pct, className="bt-wall-pct"), html.Span(of, className="bt-wall-of")],
        className="bt-wall-progress-text",
    )


def make_tile(tile: WallTile) -> html.Div:
    """One sweep on the wall; failed points and stale data change its frame."""
    classes = ["bt-wall-tile", f"bt-wall-run-{tile.run_state.value}"]
    if tile.failures:
        classes.append("bt-wall-tile-failing")
    if tile.stale:
        classes.append("bt-wall-tile-stale")
    if tile.active:
        timing = ("ETA", format_duration(tile.eta_s))
    else:
        timing = ("ended", format_hour_minute(tile.ended_at))
    return html.Div(
        [
            html.Div(
                [
                    html.A(tile.name, href=monitor_href(tile.name), className="bt-wall-name"),
                    html.Span(
                        state_name(tile.run_state),
                        className=f"bt-wall-state {state_style(tile.run_state).css}",
                    ),
                ],
                className="bt-wall-head",
            ),
            html.Div(f"{tile.owner} · {tile.strategy}", className="bt-wall-meta"),
            make_result_labels(
                [LABELS_BY_KEY[key] for key in tile.labels if key in LABELS_BY_KEY], compact=True
            ),
            _progress_text(tile),
            make_progress_bar(tile),
            html.Div(
                [
                    _count(state, None if _unknown(tile) else tile.counts.get(state, 0))
                    for state in TILE_STATES
                ],
                className="bt-wall-counts",
            ),
            html.Div(
                [
                    html.Div(
                        [html.Span("elapsed", className="bt-wall-k"), format_duration(tile.elapsed_s)],
                        className="bt-wall-time",
                    ),
                    html.Div(
                        [html.Span(timing[0], className="bt-wall-k"), timing[1]], className="bt-wall-time"
                    ),
                    html.Img(
                        src=sparkline_svg(tile.history, tile.points_total), className="bt-wall-spark", alt=""
                    ),
                ],
                className="bt-wall-foot",
            ),
            html.Div(stale_note(tile), className="bt-wall-stale-note", title=tile.stale_reason or "")
            if tile.stale
            else None,
        ],
        className=" ".join(classes),
        id={"type": "wall-tile", "name": tile.name},
    )


def make_wall_summary(tiles: list[WallTile]) -> list:
    """`3 running · 1 failing · 1 stale`, the failing and stale parts only when there are any."""
    running = sum(tile.active for tile in tiles)
    failing = sum(bool(tile.failures) for tile in tiles)
    stale = sum(tile.stale for tile in tiles)
    parts = [html.Span(f"{running} running", className="bt-wall-sum")]
    if failing:
        parts.append(html.Span(f"{failing} with failures", className="bt-wall-sum bt-wall-sum-bad"))
    if stale:
        parts.append(html.Span(f"{stale} stale", className="bt-wall-sum bt-wall-sum-stale"))
    parts.append(html.Span(f"{len(tiles)} on the wall", className="bt-wall-sum bt-wall-sum-muted"))
    return parts


def stale_note(tile: WallTile) -> str:
    """Why a stale tile is old: since when it has not been refreshed, or that its status is unknown."""
    reason = f" — {tile.stale_reason}" if tile.stale_reason else ""
    if tile.run_id is None:  # no status was ever kept for it: nothing to show but the outage
        return f"⚠ status unknown{reason}"
    return f"⚠ stale since {format_clock(tile.fetched_at)}{reason}"


def outage_text(outage: WallOutage) -> str:
    """`Airflow unreachable since 10:42 — <reason>`."""
    return f"Airflow unreachable since {outage.since.astimezone().strftime('%H:%M')} — {outage.reason}"


def make_outage_banner(outage: WallOutage) -> html.Div:
    """The banner over a wall whose tiles Airflow did not refresh: since when and why."""
    tiles = "tile shows" if outage.stale_tiles == 1 else "tiles show"
    return html.Div(
        [
            html.Strong(outage_text(outage)),
            html.Span(f" · {outage.stale_tiles} {tiles} the last known state or none", className="bt-wall-k"),
        ],
        className="bt-wall-outage",
        role="alert",
    )


def make_outage_summary(outage: WallOutage, tiles: Sequence[WallTile]) -> list:
    """The header's summary during an outage: what is known runs, the rest is unknown (never "0")."""
    since = outage.since.astimezone().strftime("%H:%M")
    unknown = sum(_unknown(tile) for tile in tiles)
    known = len(tiles) - unknown
    parts = (
        [html.Span(f"{sum(tile.active for tile in tiles)} running", className="bt-wall-sum")] if known else []
    )
    if not tiles:
        what = "sweeps unknown"
    else:
        what = f"{unknown} unknown" if unknown else f"{sum(tile.stale for tile in tiles)} stale"
    parts.append(html.Span(f"{what} since {since}", className="bt-wall-sum bt-wall-sum-stale"))
    if tiles:
        parts.append(html.Span(f"{len(tiles)} on the wall", className="bt-wall-sum bt-wall-sum-muted"))
    return parts


def make_tiles(tiles: Sequence[WallTile], outage: WallOutage | None = None) -> list:
    if not tiles and outage is not None:
        return [
            html.Div(
                f"{outage_text(outage)}: which sweeps run is unknown until it answers.",
                className="bt-wall-empty bt-wall-empty-outage",
            )
        ]
    if not tiles:
        return [html.Div("No active or recently finished sweeps match this wall.", className="bt-wall-empty")]
    return [_rendered_tile(tile) for tile in tiles]


def _rendered_tile(tile: WallTile) -> html.Div:
    """make_tile(tile), reused while the tile is unchanged: building Dash components costs more than
    the wall's data, and the walls a worker serves in one refresh period show the same tiles."""
    key = tile.model_dump_json()
    with _rendered_lock:
        found = _rendered.get(key)
        if found is not None:
            _rendered.move_to_end(key)
            return found
    rendered = make_tile(tile)
    with _rendered_lock:
        _rendered[key] = rendered
        while len(_rendered) > RENDERED_TILES_KEPT:
            _rendered.popitem(last=False)
    return rendered
