"""The app shell: navbar, stepper, connection indicator, theme toggle, and the callbacks they need."""

from __future__ import annotations

import logging
from datetime import datetime

import dash
import dash_bootstrap_components as dbc
from dash import Input, Output, State, clientside_callback, dcc, html
from dash.exceptions import PreventUpdate

from components.context import get_principal, get_services, get_settings
from components.figures import DEFAULT_THEME
from components.formatting import format_clock
from components.stepper import make_stepper
from services.auth import Principal, Role
from services.models import CheckResult

log = logging.getLogger(__name__)

CONNECTION_REFRESH_MS = 30_000
CONNECTION_CACHE_S = 20.0
STEPPER_REFRESH_MS = 15_000


class ShellIds:
    URL = "shell-url"
    CURRENT_SWEEP = "shell-current-sweep"  # localStorage: the sweep the stepper follows, set by any page
    SWEEP_TOUCHED = "shell-sweep-touched"  # a page saved, deployed or triggered: refresh the stepper
    THEME = "shell-theme"
    THEME_TOGGLE = "shell-theme-toggle"
    CONNECTION = "shell-connection"
    CONNECTION_INTERVAL = "shell-connection-interval"
    STEPPER = "shell-stepper"
    STEPPER_INTERVAL = "shell-stepper-interval"
    USER = "shell-user"  # who is signed in, their role, Admin and sign-out links


def nav_items() -> list[tuple[str, str, str]]:
    """(label, href, active) of every registered page, in `order`, but those registered with
    `navbar=False` (Admin is linked next to the user's name, a kiosk link is handed out). A page with a
    path template (/monitor/<sweep>) is linked at its plain path, highlighted on its sweeps' paths."""
    listed = [page for page in dash.page_registry.values() if page.get("navbar", True)]
    pages = sorted(listed, key=lambda page: page["order"])
    return [
        (page["name"], page["path"], "partial" if page.get("path_template") else "exact") for page in pages
    ]


def make_brand() -> html.A:
    return html.A(
        [
            html.Img(src=dash.get_asset_url("favicon.svg"), className="bt-brand-logo", alt=""),
            "Backtest Frontend",
        ],
        href="/",
        className="bt-brand navbar-brand",
    )


def make_navbar() -> html.Header:
    links = [
        dbc.NavItem(dbc.NavLink(label, href=href, active=active, class_name="bt-nav-link"))
        for label, href, active in nav_items()
    ]
    return html.Header(
        html.Div(
            [
                make_brand(),
                dbc.Nav(links, class_name="bt-nav me-auto", navbar=True),
                html.Div(
                    [
                        html.Span(id=ShellIds.USER, className="bt-user"),
                        dcc.Link(
                            [html.Span(className="bt-dot bt-dot-unknown"), "Checking connections…"],
                            id=ShellIds.CONNECTION,
                            href="/connections",
                            className="bt-connection",
                        ),
                        html.Button(
                            "◐",
                            id=ShellIds.THEME_TOGGLE,
                            className="bt-theme-toggle",
                            title="Switch light / dark theme",
                            **{"aria-label": "Switch light or dark theme"},
                        ),
                    ],
                    className="bt-navbar-tools",
                ),
            ],
            className="bt-navbar-inner",
        ),
        className="bt-navbar",
    )


def make_shell() -> html.Div:
    """The page frame around dash.page_container; called per request, does no I/O."""
    return html.Div(
        [
            dcc.Location(id=ShellIds.URL),
            dcc.Store(id=ShellIds.CURRENT_SWEEP, storage_type="local"),
            dcc.Store(id=ShellIds.SWEEP_TOUCHED, storage_type="memory"),
            dcc.Store(id=ShellIds.THEME, storage_type="local", data=DEFAULT_THEME),
            dcc.Interval(id=ShellIds.CONNECTION_INTERVAL, interval=CONNECTION_REFRESH_MS),
            dcc.Interval(id=ShellIds.STEPPER_INTERVAL, interval=STEPPER_REFRESH_MS),
            make_navbar(),
            html.Div(make_stepper(None), id=ShellIds.STEPPER, className="bt-stepper-bar"),
            html.Main(dash.page_container, className="bt-main"),
        ],
        className="bt-shell",
    )


def connection_summary(results: list[CheckResult]) -> tuple[bool, str]:
    """(all ok, the indicator's text) for a set of connection checks."""
    if not results:
        return False, "No connection checks"
    failing = [r for r in results if not r.ok]
    if not failing:
        return True, "Connected"
    if len(failing) == 1:
        return False, f"{failing[0].label}: failing"
    return False, f"{len(failing)} of {len(results)} checks failing"


@dash.callback(
    Output(ShellIds.CONNECTION, "children"),
    Output(ShellIds.CONNECTION, "title"),
    Input(ShellIds.CONNECTION_INTERVAL, "n_intervals"),
)
def refresh_connection(_n_intervals):
    if get_principal() is None:  # a kiosk screen: the wall only, nothing about the backends
        raise PreventUpdate
    try:
        checked_at, results = get_services().connection_status.checks(CONNECTION_CACHE_S)
    except Exception:  # the indicator must never break the page
        log.exception("connection checks failed")
        return [html.Span(className="bt-dot bt-dot-bad"), "Connection check failed"], "see the server log"
    ok, text = connection_summary(results)
    stamp = format_clock(datetime.fromtimestamp(checked_at))
    dot = html.Span(className="bt-dot " + ("bt-dot-ok" if ok else "bt-dot-bad"))
    return [dot, text], f"checked {stamp}; open Connections for details"


@dash.callback(
    Output(ShellIds.STEPPER, "children"),
    Input(ShellIds.CURRENT_SWEEP, "data"),
    Input(ShellIds.SWEEP_TOUCHED, "data"),
    Input(ShellIds.STEPPER_INTERVAL, "n_intervals"),
)
def refresh_stepper(current_sweep, _touched, _n_intervals):
    record = None
    if current_sweep and get_principal() is not None:  # a kiosk screen reads no sweep by name
        try:
            record = get_services().registry.find(str(current_sweep))
        except Exception:
            log.exception("cannot read the current sweep %r", current_sweep)
    return make_stepper(record)


def user_badge(principal: Principal | None, auth: str) -> list:
    """`ann · researcher`, with Admin for admins and Sign out where the sign-in has one (OIDC)."""
    if principal is None:
        return []
    parts: list = [html.Span(f"{principal.name} · {principal.role}", className="bt-user-name")]
    if principal.role is Role.ADMIN:
        parts.append(dcc.Link("Admin", href="/admin", className="bt-user-link"))
        parts.append(dcc.Link("Audit", href="/audit", className="bt-user-link"))
    if auth == "oidc":
        parts.append(html.A("Sign out", href="/oidc/logout", className="bt-user-link"))
    return parts


@dash.callback(
    Output(ShellIds.USER, "children"),
    Input(ShellIds.URL, "pathname"),
)
def show_user(_pathname):
    return user_badge(get_principal(), get_settings().auth)


# The theme lives in localStorage; the <html> attribute switches Bootstrap's colour mode.
clientside_callback(
    """
    function(nClicks, theme) {
        if (!nClicks) { return window.dash_clientside.no_update; }
        return theme === "dark" ? "light" : "dark";
    }
    """,
    Output(ShellIds.THEME, "data"),
    Input(ShellIds.THEME_TOGGLE, "n_clicks"),
    State(ShellIds.THEME, "data"),
    prevent_initial_call=True,
)

clientside_callback(
    """
    function(theme) {
        const mode = theme === "dark" ? "dark" : "light";
        document.documentElement.setAttribute("data-bs-theme", mode);
        // AG Grid's theming API follows `data-ag-theme-mode` on an ancestor: every grid, every page.
        document.body.dataset.agThemeMode = mode;
        return mode === "dark" ? "☀" : "☾";
    }
    """,
    Output(ShellIds.THEME_TOGGLE, "children"),
    Input(ShellIds.THEME, "data"),
)
