"""Admin page ids, layout and the kiosk-link table."""

from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import dcc, html

from services.kiosk import MAX_LABEL_CHARS, KioskLink


class AdminIds:
    LABEL = "admin-kiosk-label"
    OWNER = "admin-kiosk-owner"
    STRATEGY = "admin-kiosk-strategy"
    CREATE = "admin-kiosk-create"
    ALERT = "admin-alert"
    LINKS = "admin-kiosk-links"
    CHANGED = "admin-kiosk-changed"
    REVOKE = "admin-kiosk-revoke"  # pattern-matching: {"type": REVOKE, "token": ...}


def _text(id_: str, placeholder: str, max_length: int = MAX_LABEL_CHARS) -> dbc.Input:
    return dbc.Input(id=id_, placeholder=placeholder, maxLength=max_length, type="text", size="sm")


def make_admin_layout() -> html.Div:
    return html.Div(
        [
            html.H2("Kiosk links", className="bt-page-title"),
            html.P(
                "A kiosk link shows the wall, read only, to a screen that cannot sign in. "
                "Anyone holding the link sees the wall; revoke it and the screen stops at its next refresh.",
                className="bt-help",
            ),
            dbc.Row(
                [
                    dbc.Col(_text(AdminIds.LABEL, "Label, e.g. trading floor"), md=4),
                    dbc.Col(_text(AdminIds.OWNER, "Only this owner (optional)"), md=3),
                    dbc.Col(_text(AdminIds.STRATEGY, "Only this strategy (optional)"), md=3),
                    dbc.Col(dbc.Button("Create link", id=AdminIds.CREATE, size="sm"), md=2),
                ],
                class_name="g-2 mb-3",
            ),
            html.Div(id=AdminIds.ALERT),
            dcc.Store(id=AdminIds.CHANGED),
            html.Div(id=AdminIds.LINKS),
        ],
        className="bt-page",
    )


def make_links_table(links: list[KioskLink], origin: str) -> html.Div:
    if not links:
        return html.Div("No kiosk links.", className="bt-empty")
    rows = [
        html.Tr(
            [
                html.Td(link.label or "—"),
                html.Td(" · ".join(f"{k} {v}" for k, v in link.wall_filter().items() if v) or "all sweeps"),
                html.Td(html.Code(f"{origin}{link.path}", className="bt-kiosk-url")),
                html.Td(f"{link.created_by}, {link.created_at:%Y-%m-%d %H:%M} UTC"),
                html.Td(
                    dbc.Button(
                        "Revoke",
                        id={"type": AdminIds.REVOKE, "token": link.token},
                        color="danger",
                        outline=True,
                        size="sm",
                    )
                ),
            ]
        )
        for link in links
    ]
    head = html.Thead(html.Tr([html.Th(t) for t in ("Label", "Wall", "Link", "Created", "")]))
    return dbc.Table([head, html.Tbody(rows)], size="sm", class_name="bt-kiosk-table")
