"""Wall: every active and recently finished sweep as a tile, for a big screen; refreshes itself."""

from __future__ import annotations

import logging
from datetime import datetime

import dash
from dash import Input, Output, State, html

from components.alerts import make_alert, make_error_alert
from components.context import get_kiosk, get_principal, get_services, get_settings, kiosk_revoked
from components.formatting import format_clock
from components.wall_layout import WallIds, make_wall_layout
from components.wall_view import make_outage_banner, make_outage_summary, make_tiles, make_wall_summary
from services.wall import WallFilter

log = logging.getLogger(__name__)

dash.register_page(__name__, path="/wall", title="Wall · Backtest Frontend", name="Wall", order=5)

MIN_REFRESH_MS = 2_000


def refresh_ms() -> int:
    return max(MIN_REFRESH_MS, int(get_settings().refresh_interval_s * 1000))


def layout(
    owner: str | None = None,
    strategy: str | None = None,
    state: str | None = None,
    theme: str | None = None,
    **_kwargs,
) -> html.Div:
    """`/wall?owner=…&strategy=…&state=…&theme=light`: dark unless asked otherwise."""
    wall_filter = WallFilter(owner=owner or None, strategy=strategy or None, state=state or None)
    return make_wall_layout(wall_filter, refresh_ms(), theme)


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
    clock = format_clock(datetime.now())
    kiosk = get_kiosk()  # a screen on a kiosk link sees what its link allows, whatever it sends
    if kiosk is None and (kiosk_revoked() or get_principal() is None):
        return [], [], clock, make_alert("This kiosk link was revoked: ask an admin for a new one.")
    try:
        wall_filter = WallFilter.model_validate(kiosk.wall_filter() if kiosk else filter_data or {})
        view = get_services().wall.view(wall_filter, period_s=refresh_ms() / 1000)
    except Exception as exc:  # the wall keeps its last tiles and says why it is not fresher
        log.exception("wall refresh failed")
        return dash.no_update, dash.no_update, clock, make_error_alert(exc, title="Wall not updated.")
    outage = view.outage
    if outage is None:
        return make_tiles(view.tiles), make_wall_summary(view.tiles), clock, None
    # An outage never reads as "0 sweeps": the banner says since when, the summary what is unknown.
    parts = make_outage_summary(outage, view.tiles)
    return make_tiles(view.tiles, outage), parts, clock, make_outage_banner(outage)
