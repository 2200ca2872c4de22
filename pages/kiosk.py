"""Kiosk: the wall on a revocable read-only link, for screens that cannot sign in (`/kiosk/<token>`)."""

from __future__ import annotations

import dash
from dash import html

from components.context import get_services
from pages.wall import layout as wall_layout

dash.register_page(
    __name__, path_template="/kiosk/<token>", title="Wall · Backtest Frontend", name="Kiosk", navbar=False
)


def layout(token: str | None = None, theme: str | None = None, **_kwargs) -> html.Div:
    """The wall with the link's own filters; the server's guard checks the link at every refresh."""
    link = get_services().kiosk.find(token)
    if link is None:
        return html.Div("This kiosk link is unknown or was revoked.", className="bt-wall-error")
    return wall_layout(**link.wall_filter(), theme=theme)
