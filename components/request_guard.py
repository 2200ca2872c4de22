"""Requests the app refuses before anything runs: foreign Host, foreign Origin, oversize; security headers."""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

import flask
from werkzeug.middleware.proxy_fix import ProxyFix

from components.health import HEALTH_PATHS
from services.settings import Settings

log = logging.getLogger(__name__)

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# Dash's index page carries inline scripts (its config and the renderer's start) and clientside
# callbacks; Plotly sets inline styles. Nothing is loaded from another origin (the assets are vendored).
CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self' 'unsafe-inline' 'unsafe-eval'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data: blob:",
        "font-src 'self' data:",
        "worker-src 'self' blob:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "frame-ancestors 'none'",
    )
)
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "Cross-Origin-Opener-Policy": "same-origin",
}


def host_name(netloc: str) -> str:
    """`example.com:8050` -> `example.com`, `[::1]:8050` -> `::1`."""
    if netloc.startswith("["):
        return netloc[1:].partition("]")[0].lower()
    return netloc.rpartition(":")[0].lower() if netloc.count(":") == 1 else netloc.lower()


def refusal(request: flask.Request, allowed: frozenset[str]) -> tuple[int, str] | None:
    """(status, reason) when the request must be refused, else None.

    - The health probes (GET /healthz, /readyz) pass whatever their Host: a load balancer sends the
      instance's address.
    - Host not in the allowlist: 400 (DNS rebinding: a foreign name resolving to this address).
    - An unsafe method whose Origin is not this Host, or `null`: 403 (cross-site requests).
      Without an Origin: a browser always sends one on a cross-site POST, and `Sec-Fetch-Site` says where
      the request came from; a client that sends neither (curl, scripts) is not a browser that another
      site can drive, so it passes here and meets the sign-in like any other request.
    """
    if request.path in HEALTH_PATHS and request.method in ("GET", "HEAD"):
        return None  # a balancer probes by the instance's address; these answer nothing but ok/fail
    if host_name(request.host) not in allowed:
        return 400, "Unknown Host header: add the name to ALLOWED_HOSTS."
    if request.method not in UNSAFE_METHODS:
        return None
    origin = request.headers.get("Origin")
    if origin is None:
        site = request.headers.get("Sec-Fetch-Site")
        if site not in (None, "same-origin", "none"):
            return 403, "Cross-site request refused."
        return None
    parts = urlsplit(origin)
    if origin == "null" or parts.netloc.lower() != request.host.lower():
        return 403, "Cross-origin request refused."
    return None


def install_request_guard(server: flask.Flask, settings: Settings) -> None:
    """Registered first, so a refused request reaches neither the sign-in nor a callback.

    Behind PROXY_HOPS trusted proxies, the request's client address (the audit trail's), scheme (OIDC's
    redirect URI, secure cookies) and host (ALLOWED_HOSTS, the Origin check) are those the proxies
    forwarded; the last PROXY_HOPS entries of each header are used, so a client cannot spoof them."""
    if settings.proxy_hops:
        hops = settings.proxy_hops
        server.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            server.wsgi_app, x_for=hops, x_proto=hops, x_host=hops, x_port=hops
        )
    allowed = settings.host_allowlist
    server.config["MAX_CONTENT_LENGTH"] = settings.max_request_bytes

    @server.before_request
    def check_request():
        request = flask.request
        if request.content_length is not None and request.content_length > settings.max_request_bytes:
            return flask.Response("Request too large.", status=413, mimetype="text/plain")
        refused = refusal(request, allowed)
        if refused is not None:
            log.warning("refused %s %s: %s", request.method, request.path, refused[1])
            return flask.Response(refused[1], status=refused[0], mimetype="text/plain")
        return None

    @server.after_request
    def security_headers(response: flask.Response) -> flask.Response:
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        return response
