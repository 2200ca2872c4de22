"""Wall: every active and recently finished sweep as a tile, for a big screen; refreshes itself."""

from __future__ import annotations

import logging
from datetime import datetime

import dash
from dash import Input, Output, State, dcc, html

from components.alerts import make_alert, make_error_alert
from components.context import get_kiosk, get_principal, get_services, get_settings, kiosk_revoked
from components.wall_view import make_tiles
from services.wall import WallFilter, WallTile

log = logging.getLogger(__name__)

dash.register_page(__name__, path="/wall", title="Wall · Backtest Frontend", name="Wall", order=5)

MIN_REFRESH_MS = 2_000
THEMES = ("dark", "light")


class WallIds:
    FILTER = "wall-filter"  # WallFilter from the URL query
    INTERVAL = "wall-interval"
    TILES = "wall-tiles"
    SUMMARY = "wall-summary"
    CLOCK = "wall-clock"
    ERROR = "wall-error"


def refresh_ms() -> int:
    return max(MIN_REFRESH_MS, int(get_settings().refresh_interval_s * 1000))


def filter_text(wall_filter: WallFilter) -> str:
    parts = [f"{k} {v}" for k, v in wall_filter.model_dump().items() if v]
    return " · ".join(parts) if parts else "all sweeps"


def layout(
    owner: str | None = None,
    strategy: str | None = None,
    state: str | None = None,
    theme: str | None = None,
    **_kwargs,
) -> html.Div:
    """`/wall?owner=…&strategy=…&state=…&theme=light`: dark unless asked otherwise."""
    wall_filter = WallFilter(owner=owner or None, strategy=strategy or None, state=state or None)
    return html.Div(
        [
            dcc.Store(id=WallIds.FILTER, data=wall_filter.model_dump(mode="json")),
            dcc.Interval(id=WallIds.INTERVAL, interval=refresh_ms()),
            html.Header(
                [
                    html.Div(
                        [
                            html.A(
                                "Backtest wall", href="/", className="bt-wall-title", title="Open the app"
                            ),
                            html.Span(filter_text(wall_filter), className="bt-wall-filter"),
                        ],
                        className="bt-wall-heading",
                    ),
                    html.Div(id=WallIds.SUMMARY, className="bt-wall-summary"),
                    html.Div(id=WallIds.CLOCK, className="bt-wall-clock"),
                ],
                className="bt-wall-header",
            ),
            html.Div(id=WallIds.ERROR),
            html.Div(id=WallIds.TILES, className="bt-wall-grid"),
        ],
        className="bt-wall",
        **{"data-bs-theme": theme if theme in THEMES else "dark"},
    )


def summary(tiles: list[WallTile]) -> list:
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


@dash.callback(
    Output(WallIds.TILES, "children"),
    Output(WallIds.SUMMARY, "children"),
    Output(WallIds.CLOCK, "children"),
    Output(WallIds.ERROR, "children"),
    Input(WallIds.INTERVAL, "n_intervals"),
    State(WallIds.FILTER, "data"),
)
def refresh(_n_intervals, filter_data):
    """The tiles of the shared wall board (rebuilt once per refresh period: many walls cost one)."""
    clock = datetime.now().strftime("%H:%M:%S")
    kiosk = get_kiosk()  # a screen on a kiosk link sees what its link allows, whatever it sends
    if kiosk is None and (kiosk_revoked() or get_principal() is None):
        return [], [], clock, make_alert("This kiosk link was revoked: ask an admin for a new one.")
    try:
        wall_filter = WallFilter.model_validate(kiosk.wall_filter() if kiosk else filter_data or {})
        tiles = get_services().wall.board(wall_filter, period_s=refresh_ms() / 1000)
    except Exception as exc:  # the wall keeps its last tiles and says why it is not fresher
        log.exception("wall refresh failed")
        return dash.no_update, dash.no_update, clock, make_error_alert(exc, title="Wall not updated.")
    return make_tiles(tiles), summary(tiles), clock, None
