"""Alerts, banners and toasts; turns any exception into a message a user can act on (no traceback)."""

from __future__ import annotations

import logging
from datetime import datetime

import dash_bootstrap_components as dbc
from dash import html
from pydantic import ValidationError

from airflow_backtest_framework.config import describe_validation_error
from airflow_backtest_framework.grid import GridError
from components.formatting import format_clock
from services.errors import BacktestError

log = logging.getLogger(__name__)

UNEXPECTED = "Unexpected error ({kind}); the details are in the server log."


def user_message(exc: BaseException) -> str:
    """The text to show for an exception: the project's own message and its fix (what to do about
    that very fault), or a pointer to the log."""
    if isinstance(exc, BacktestError):
        return f"{exc.message} — {exc.fix}" if exc.fix else exc.message
    if isinstance(exc, ValidationError):
        return describe_validation_error(exc)
    if isinstance(exc, GridError):
        return str(exc)
    log.exception("unexpected error in a callback", exc_info=exc)
    return UNEXPECTED.format(kind=type(exc).__name__)


def make_alert(message: str, color: str = "danger", title: str | None = None, **kwargs) -> dbc.Alert:
    body = [html.Strong(f"{title} "), message] if title else [message]
    return dbc.Alert(body, color=color, class_name="bt-alert py-2 px-3 mb-2", **kwargs)


def make_error_alert(exc: BaseException, title: str = "Could not complete the request.") -> dbc.Alert:
    return make_alert(user_message(exc), color="danger", title=title)


def make_stale_banner(fetched_at: datetime, reason: str | None) -> dbc.Alert:
    """The yellow 'data is old' banner: last update time and why it is not fresher."""
    stamp = format_clock(fetched_at)
    text = f"Last updated {stamp}" + (f" — {reason}" if reason else "")
    return dbc.Alert(
        [html.I(className="bt-icon bt-icon-warn me-2"), text],
        color="warning",
        class_name="bt-stale py-2 px-3 mb-3",
    )


def make_toast(children, header: str, icon: str = "success", toast_id: str | None = None) -> dbc.Toast:
    kwargs = {"id": toast_id} if toast_id else {}
    return dbc.Toast(
        children,
        header=header,
        icon=icon,
        dismissable=True,
        duration=8000,
        is_open=True,
        class_name="bt-toast",
        **kwargs,
    )
