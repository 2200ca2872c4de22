"""The Wall page's ids and frame: a header with the filter, summary and clock over the tile grid."""

from __future__ import annotations

from dash import dcc, html

from services.wall import WallFilter

WALL_THEMES = ("dark", "light")
WALL_DEFAULT_THEME = "dark"  # a big screen on a desk: dark unless the link asks for light


class WallIds:
    FILTER = "wall-filter"  # WallFilter from the URL query
    INTERVAL = "wall-interval"
    TILES = "wall-tiles"
    SUMMARY = "wall-summary"
    CLOCK = "wall-clock"
    ERROR = "wall-error"


def filter_text(wall_filter: WallFilter) -> str:
    parts = [f"{k} {v}" for k, v in wall_filter.model_dump().items() if v]
    return " · ".join(parts) if parts else "all sweeps"


def make_wall_layout(wall_filter: WallFilter, refresh_ms: int, theme: str | None) -> html.Div:
    return html.Div(
        [
            dcc.Store(id=WallIds.FILTER, data=wall_filter.model_dump(mode="json")),
            dcc.Interval(id=WallIds.INTERVAL, interval=refresh_ms),
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
        **{"data-bs-theme": theme if theme in WALL_THEMES else WALL_DEFAULT_THEME},
    )
