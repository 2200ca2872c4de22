"""Where callbacks find the settings and services: set by create_app, services built lazily per process."""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable

import diskcache

from airflow_backtest_framework.config import SweepConfig
from services.bootstrap import Services, build_services
from services.settings import Settings

log = logging.getLogger(__name__)

ServicesFactory = Callable[[Settings], Services]

_lock = threading.Lock()
_settings: Settings | None = None
_factory: ServicesFactory = build_services
_services: Services | None = None


def configure(settings: Settings, services: Services | None = None) -> None:
    """Called by create_app: remember the settings, and the services when the caller built them."""
    global _settings, _services
    with _lock:
        _settings = settings
        _services = services


def get_settings() -> Settings:
    if _settings is None:
        raise RuntimeError("the app is not configured: call create_app() first")
    return _settings


def get_services() -> Services:
    """The process's services, built on first use (each gunicorn worker builds its own)."""
    global _services
    if _services is not None:
        return _services
    with _lock:
        if _services is None:
            settings = get_settings()
            log.info("building services for mode=%s", settings.mode)
            _services = _factory(settings)
        return _services


_checks_lock = threading.Lock()
_checks: tuple[float, list] | None = None


def saved_config(name: str) -> SweepConfig:
    """The spec of a saved sweep (NotFound when there is none)."""
    return get_services().registry.get(name).config


def cached_checks(max_age_s: float, force: bool = False) -> tuple[float, list]:
    """(checked_at epoch seconds, results) of connections.check_all(), reused for max_age_s per process."""
    global _checks
    with _checks_lock:
        now = time.time()
        if not force and _checks is not None and now - _checks[0] < max_age_s:
            return _checks
        results = get_services().connections.check_all()
        _checks = (now, results)
        return _checks


FLAGS_FOLDER = "flags"
FLAG_TTL_S = 3600
_flags: dict[int, diskcache.Cache] = {}


def set_flag(key: str) -> None:
    """A short-lived flag every process sees (the cache folder is shared), e.g. 'cancel this deploy'."""
    _flag_cache().set(key, True, expire=FLAG_TTL_S)


def has_flag(key: str) -> bool:
    return bool(_flag_cache().get(key, False))


def claim_once(key: str) -> bool:
    """True for the first caller in any process, False for every later one (diskcache's atomic add):
    a confirmed action runs once however often its confirmation arrives."""
    return bool(_flag_cache().add(key, True, expire=FLAG_TTL_S))


def _flag_cache() -> diskcache.Cache:
    # One handle per process: a forked background job must not reuse its parent's SQLite connection.
    pid = os.getpid()
    if pid not in _flags:
        _flags[pid] = diskcache.Cache(str(get_settings().cache_dir / FLAGS_FOLDER))
    return _flags[pid]


WALL_FOLDER = "wall"
_walls: dict[tuple[int, int], object] = {}
_tables: dict[tuple[int, int], object] = {}


def get_wall():
    """The process's WallService over the services' registry and monitor; its history lives in a
    diskcache folder every worker shares."""
    from services.wall import WallService

    services = get_services()
    key = (os.getpid(), id(services))  # tests swap the services: a new wall follows them
    if key not in _walls:
        cache = diskcache.Cache(str(get_settings().cache_dir / WALL_FOLDER))
        _walls[key] = WallService(services.registry, services.monitor, cache)
    return _walls[key]


def get_results_tables():
    """The process's ResultsTables: results tables re-read only when a run wrote new points."""
    from services.results_cache import ResultsTables

    services = get_services()
    key = (os.getpid(), id(services))
    if key not in _tables:
        _tables[key] = ResultsTables(services.results)
    return _tables[key]
