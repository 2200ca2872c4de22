"""The one card of every page: an uppercase header (with optional tools on its right) over a body."""

from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import html

CARD_CLASS = "bt-card mb-3"


def make_card(title, body, extra=None, *, class_name: str = CARD_CLASS, **kwargs) -> dbc.Card:
    return dbc.Card(
        [dbc.CardHeader([html.Span(title), extra], class_name="bt-card-title"), dbc.CardBody(body)],
        class_name=class_name,
        **kwargs,
    )
