"""The Dash app: create_app(settings) builds it; `python app.py` serves it; `app:server` is for gunicorn."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import dash
from dash import DiskcacheManager

from services.caches import open_cache
from services.redaction import redact_logs
from services.settings import Settings, is_loopback, load_settings, load_settings_or_exit

if TYPE_CHECKING:
    from services.ports import Services

ROOT = Path(__file__).resolve().parent
TITLE = "Backtest Frontend"
CALLBACK_CACHE = "callbacks"

log = logging.getLogger("backtest_frontend")


def create_app(settings: Settings | None = None, services: Services | None = None) -> dash.Dash:
    """The Dash app. No network I/O: the services are built on first use in each process."""
    from components import context
    from components.health import install_health_routes
    from components.request_guard import install_request_guard
    from components.shell import make_shell
    from components.signin import install_signin

    settings = settings or load_settings()
    redact_logs()  # whatever set up logging (app.py, gunicorn), no secret reaches its handlers
    context.configure(settings, services)
    cache_dir = settings.cache_dir / CALLBACK_CACHE
    cache_dir.mkdir(parents=True, exist_ok=True)
    app = dash.Dash(
        __name__,
        title=TITLE,
        use_pages=True,
        pages_folder=str(ROOT / "pages"),
        assets_folder=str(ROOT / "assets"),
        external_stylesheets=[],
        serve_locally=True,
        suppress_callback_exceptions=True,  # each page's components exist only while it is shown
        background_callback_manager=DiskcacheManager(open_cache(cache_dir)),
        update_title=None,
    )
    app.layout = make_shell
    install_request_guard(app.server, settings)  # first: a refused request reaches nothing else
    install_signin(app, settings, context.get_services)
    install_health_routes(app.server, context.get_services)
    return app


_lazy: dict[str, Any] = {}


def __getattr__(name: str) -> Any:
    """`app` and `server` built on first access, so importing this module does nothing."""
    if name in ("app", "server"):
        if "app" not in _lazy:
            _lazy["app"] = create_app()
            _lazy["server"] = _lazy["app"].server
        return _lazy[name]
    raise AttributeError(name)


def main(make_services: Callable[[Settings], Services] | None = None) -> int:
    """`python app.py`: bad settings exit 2 naming each key; a network HOST is served by gunicorn.
    `make_services` replaces the composition root (the tests' fake services, on loopback only)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = load_settings_or_exit()
    if not is_loopback(settings.host):
        return serve_with_gunicorn(settings)
    app = create_app(settings, make_services(settings) if make_services else None)
    log.info("Backtest Frontend (%s mode) on http://%s:%s/", settings.mode, settings.host, settings.port)
    app.run(host=settings.host, port=settings.port, debug=False)
    return 0


def serve_with_gunicorn(settings: Settings) -> int:
    """On a network address the app is served by gunicorn, never by Flask's development server."""
    gunicorn = Path(sys.executable).with_name("gunicorn")
    bind = (
        f"[{settings.host}]:{settings.port}" if ":" in settings.host else f"{settings.host}:{settings.port}"
    )
    command = [str(gunicorn), "-w", str(settings.web_workers), "-b", bind, "--chdir", str(ROOT), "app:server"]
    log.info(
        "Backtest Frontend (%s mode, AUTH=%s) on http://%s/ with gunicorn", settings.mode, settings.auth, bind
    )
    os.execv(command[0], command)
    return 0  # not reached: execv replaces this process


if __name__ == "__main__":
    sys.exit(main())
