"""The one card of every page: an uppercase header (with optional tools on its right) over a body."""

from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import html

CARD_CLASS = "bt-card mb-3"
TALL_CARD_CLASS = f"{CARD_CLASS} h-100"  # cards side by side in a row, as tall as the tallest


def make_card(
    title,
    body,
    extra=None,
    *,
    class_name: str = CARD_CLASS,
    collapse_id: str | None = None,
    **kwargs,
) -> dbc.Card:
    """`title` None: no header. `collapse_id`: the body sits in a closed dbc.Collapse of that id (its
    header, e.g. a toggle button, opens it)."""
    body_part = dbc.CardBody(body)
    if collapse_id is not None:
        body_part = dbc.Collapse(body_part, id=collapse_id, is_open=False)
    parts = [body_part]
    if title is not None:
        parts.insert(0, dbc.CardHeader([html.Span(title), extra], class_name="bt-card-title"))
    return dbc.Card(parts, class_name=class_name, **kwargs)
