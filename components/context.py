"""The one accessor pages use: `get_services()`, the process's services (built once, on first use)."""

from __future__ import annotations

import logging
import threading

from dash import ctx
from dash.exceptions import MissingCallbackContextException

from airflow_backtest_framework.config import SweepConfig
from services.auth import Principal, local_principal
from services.bootstrap import build_services
from services.kiosk import KioskLink
from services.ports import Services
from services.settings import Settings

log = logging.getLogger(__name__)

_lock = threading.Lock()
_settings: Settings | None = None
_services: Services | None = None


def configure(settings: Settings, services: Services | None = None) -> None:
    """Called by create_app: remember the settings, and the services when the caller built them."""
    global _settings, _services
    with _lock:
        _settings = settings
        _services = services


def get_services() -> Services:
    """The process's services, built by `build_services` on first use (each gunicorn worker its own)."""
    global _services
    if _services is not None:
        return _services
    with _lock:
        if _services is None:
            if _settings is None:
                raise RuntimeError("the app is not configured: call create_app() first")
            log.info("building services for mode=%s", _settings.mode)
            _services = build_services(_settings)
        return _services


def get_settings() -> Settings:
    """The settings create_app was given (no services are built for them)."""
    if _settings is None:
        raise RuntimeError("the app is not configured: call create_app() first")
    return _settings


def saved_config(name: str) -> SweepConfig:
    """The spec of a saved sweep (NotFound when there is none)."""
    return get_services().registry.get(name).config


def _access() -> dict:
    try:
        return dict(ctx.custom_data.get("access") or {})
    except (MissingCallbackContextException, LookupError):  # no callback here (a direct call, a thread)
        return {}


def get_principal() -> Principal | None:
    """Who asked for the current callback, as the server's guard established it (components.signin).
    Outside a request (a direct call) only AUTH=none has a user: the local admin."""
    data = _access().get("principal")
    if data:
        return Principal.model_validate(data)
    if not _access() and get_settings().auth == "none":
        return local_principal()
    return None


def get_kiosk() -> KioskLink | None:
    """The live kiosk link the current callback was allowed by (a wall screen not signed in), if any."""
    data = _access().get("kiosk")
    return KioskLink.model_validate(data) if data else None


def kiosk_revoked() -> bool:
    """True when the current callback came from a screen whose kiosk link was revoked."""
    return bool(_access().get("kiosk_revoked"))
