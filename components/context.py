"""The one accessor pages use: `get_services()`, the process's services (built once, on first use)."""

from __future__ import annotations

import logging
import threading

from airflow_backtest_framework.config import SweepConfig
from services.bootstrap import build_services
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
