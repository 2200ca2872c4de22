"""`/healthz` and `/readyz`: plain Flask routes for a load balancer, public, revealing nothing."""

from __future__ import annotations

import logging
from collections.abc import Callable

import flask

from services.ports import Services

log = logging.getLogger(__name__)

HEALTH_PATH = "/healthz"
READY_PATH = "/readyz"
HEALTH_PATHS = frozenset({HEALTH_PATH, READY_PATH})
NOT_READY = 503


def _text(body: str, status: int = 200) -> flask.Response:
    response = flask.Response(body, status=status, mimetype="text/plain")
    response.headers["Cache-Control"] = "no-store"
    return response


def install_health_routes(server: flask.Flask, get_services: Callable[[], Services]) -> None:
    """`/healthz`: 200 "ok" while the process serves. `/readyz`: 200 when the database, the cache and
    Airflow answer, else 503; the body is one `<component> ok|fail` line each, nothing more (Dash would
    answer any unknown path with its page shell and 200, so these are Flask's own routes)."""

    @server.route(HEALTH_PATH, methods=["GET", "HEAD"])
    def healthz() -> flask.Response:
        return _text("ok\n")

    @server.route(READY_PATH, methods=["GET", "HEAD"])
    def readyz() -> flask.Response:
        try:
            results = get_services().readiness.check()
        except Exception:  # services that cannot even be built: not ready, and the log says why
            log.exception("readiness: the services could not be built")
            return _text("app fail\n", NOT_READY)
        body = "".join(f"{name} {'ok' if ok else 'fail'}\n" for name, ok in results.items())
        return _text(body, 200 if all(results.values()) else NOT_READY)
