"""The Dash app: create_app(settings) builds it; `python app.py` serves it; `app:server` is for gunicorn."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import dash
from dash import CeleryManager, DiskcacheManager
from dash.background_callback.managers import BaseBackgroundCallbackManager

from services.caches import open_cache
from services.redaction import redact_logs
from services.settings import Settings, is_loopback, load_settings, load_settings_or_exit

if TYPE_CHECKING:
    from services.ports import Services

ROOT = Path(__file__).resolve().parent
TITLE = "Backtest Frontend"
CALLBACK_CACHE = "callbacks"
# How long Redis keeps a background job's result and progress: a page that polls for it does so at once.
CELERY_RESULT_EXPIRE_S = 3600

log = logging.getLogger("backtest_frontend")


def create_app(
    settings: Settings | None = None,
    services: Services | None = None,
    manager: BaseBackgroundCallbackManager | None = None,
) -> dash.Dash:
    """The Dash app. No network I/O: the services are built on first use in each process; `manager`
    runs the background callbacks (`background_manager(settings)` when not given)."""
    from components import context
    from components.health import install_health_routes
    from components.request_guard import install_request_guard
    from components.shell import make_shell
    from components.signin import install_signin

    settings = settings or load_settings()
    redact_logs()  # whatever set up logging (app.py, gunicorn), no secret reaches its handlers
    context.configure(settings, services)
    app = dash.Dash(
        __name__,
        title=TITLE,
        use_pages=True,
        pages_folder=str(ROOT / "pages"),
        assets_folder=str(ROOT / "assets"),
        external_stylesheets=[],
        serve_locally=True,
        suppress_callback_exceptions=True,  # each page's components exist only while it is shown
        background_callback_manager=manager or background_manager(settings),
        update_title=None,
    )
    app.layout = make_shell
    install_request_guard(app.server, settings)  # first: a refused request reaches nothing else
    install_signin(app, settings, context.get_services)
    install_health_routes(app.server, context.get_services)
    return app


def background_manager(settings: Settings) -> BaseBackgroundCallbackManager:
    """Where background callbacks (the deploy) run: with REDIS_URL on Celery workers through Redis, which
    every host shares (`scripts/worker.sh`); else in processes forked by this host, through a diskcache."""
    if settings.redis_url is None:
        cache_dir = settings.cache_dir / CALLBACK_CACHE
        cache_dir.mkdir(parents=True, exist_ok=True)
        return DiskcacheManager(open_cache(cache_dir))
    return CeleryManager(make_celery(settings), expire=CELERY_RESULT_EXPIRE_S)


def make_celery(settings: Settings) -> Any:
    """Celery with Redis as broker and result backend; the worker runs the app's background callbacks."""
    from celery import Celery

    url = settings.redis_url.get_secret_value() if settings.redis_url else ""
    celery = Celery("backtest_frontend", broker=url, backend=url)
    celery.conf.update(
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        result_expires=CELERY_RESULT_EXPIRE_S,
        worker_concurrency=settings.celery_concurrency,
        worker_hijack_root_logger=False,
        broker_connection_retry_on_startup=True,
        # A job is taken off the queue when it ended: a worker that dies mid-deploy hands it to another.
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
    )
    return celery


_lazy: dict[str, Any] = {}


def __getattr__(name: str) -> Any:
    """`app`, `server` and `celery_app` built on first access, so importing this module does nothing.
    `celery_app` is for the worker (`celery -A app:celery_app worker`, scripts/worker.sh): building the
    app registers the background callbacks as its tasks."""
    if name in ("app", "server", "celery_app"):
        if "app" not in _lazy:
            settings = load_settings()
            manager = background_manager(settings)
            _lazy["app"] = create_app(settings, manager=manager)
            _lazy["server"] = _lazy["app"].server
            _lazy["celery_app"] = manager.handle if isinstance(manager, CeleryManager) else None
        if _lazy[name] is None:
            raise RuntimeError("celery_app needs REDIS_URL: without it background callbacks run in the app")
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
