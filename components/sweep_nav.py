"""The sub-navigation of one sweep's pages: its progress (Monitor) and its results, as tabs."""

from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import html

# (key, label, path template) of each page of a sweep, in tab order.
SWEEP_PAGES: tuple[tuple[str, str, str], ...] = (
    ("progress", "Progress", "/monitor/{name}"),
    ("results", "Results", "/results/{name}"),
)


def make_sweep_nav(name: str, active: str) -> dbc.Nav:
    """Pills linking the pages of sweep `name`; the one whose key is `active` is highlighted.

    No ids: each page places one, and no callback targets it.
    """
    return dbc.Nav(
        [
            dbc.NavItem(
                dbc.NavLink(
                    label,
                    href=path.format(name=name),
                    active=key == active,
                    class_name="bt-sweep-nav-link",
                )
            )
            for key, label, path in SWEEP_PAGES
        ],
        pills=True,
        class_name="bt-sweep-nav",
    )


def make_sweep_head(title: str, name: str, active: str) -> html.Div:
    """A sweep page's heading: `<title> <name>` and the sweep's tabs next to it."""
    return html.Div(
        [
            html.H1([f"{title} ", html.Span(name, className="bt-mono")], className="bt-page-title"),
            make_sweep_nav(name, active),
        ],
        className="bt-sweep-head",
    )
