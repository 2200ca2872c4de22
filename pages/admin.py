"""Admin: kiosk links to the wall (create, list, revoke); admins only, checked on the server."""

from __future__ import annotations

import time

import dash
import flask
from dash import ALL, Input, Output, State, ctx
from dash.exceptions import PreventUpdate

from components.admin_layout import AdminIds as Ids
from components.admin_layout import make_admin_layout, make_links_table
from components.alerts import make_alert, make_error_alert
from components.context import get_principal, get_services

dash.register_page(
    __name__, path="/admin", title="Admin · Backtest Frontend", name="Admin", order=9, navbar=False
)


def layout(**_kwargs):
    return make_admin_layout()


@dash.callback(
    Output(Ids.LINKS, "children"),
    Input(Ids.CHANGED, "data"),
)
def show_links(_changed):
    try:
        links = get_services().kiosk.list(get_principal())
    except Exception as exc:
        return make_error_alert(exc, title="Cannot list the kiosk links.")
    return make_links_table(links, flask.request.host_url.rstrip("/"))


@dash.callback(
    Output(Ids.ALERT, "children"),
    Output(Ids.CHANGED, "data"),
    Input(Ids.CREATE, "n_clicks"),
    State(Ids.LABEL, "value"),
    State(Ids.OWNER, "value"),
    State(Ids.STRATEGY, "value"),
    prevent_initial_call=True,
)
def create_link(n_clicks, label, owner, strategy):
    if not n_clicks:
        raise PreventUpdate
    try:
        link = get_services().kiosk.create(
            get_principal(),
            str(label or ""),
            owner=str(owner or "") or None,
            strategy=str(strategy or "") or None,
        )
    except Exception as exc:
        return make_error_alert(exc, title="No link created."), dash.no_update
    return make_alert(f"Created {link.path}.", color="success", dismissable=True), time.time()


@dash.callback(
    Output(Ids.ALERT, "children", allow_duplicate=True),
    Output(Ids.CHANGED, "data", allow_duplicate=True),
    Input({"type": Ids.REVOKE, "token": ALL}, "n_clicks"),
    prevent_initial_call=True,
)
def revoke_link(clicks):
    if not ctx.triggered_id or not any(clicks or []):
        raise PreventUpdate
    try:
        get_services().kiosk.revoke(get_principal(), str(ctx.triggered_id["token"]))
    except Exception as exc:
        return make_error_alert(exc, title="Not revoked."), dash.no_update
    return make_alert("Link revoked.", color="warning", dismissable=True), time.time()
