"""Sign-in (dash-auth: none, basic, oidc), the callback role guard and kiosk links, on the Flask server."""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
import os
import secrets
import tempfile
from collections.abc import Callable
from pathlib import Path

import dash
import diskcache
import flask
from dash_auth import BasicAuth, add_public_routes

from components.access import CALLBACK_ACCESS, ROUTER, Access, callback_name
from components.health import HEALTH_PATH, READY_PATH
from services.auth import Principal, local_principal, role_from_claim
from services.ports import Services
from services.settings import Settings, split_list
from services.users import UserStore

log = logging.getLogger(__name__)

CALLBACK_PATH = "/_dash-update-component"
KIOSK_PREFIX = "/kiosk/"
KIOSK_COOKIE = "bt_kiosk"
SECRET_KEY_FILE = "secret_key"
SECRET_KEY_BYTES = 32
OIDC_PROVIDER = "oidc"
SIGNIN_CACHE_FOLDER = "signin"  # verified Basic credentials (HMACs), shared by the workers
WALL_REFRESH = "pages.wall.refresh"
# Reachable without signing in: health probes, kiosk pages (their token is checked by the guard), and
# the app's static assets (icons, CSS; dash-auth already opens its JS and CSS).
PUBLIC_ROUTES = [HEALTH_PATH, READY_PATH, f"{KIOSK_PREFIX}<token>", "/assets/<path:path>"]


def secret_key(settings: Settings) -> str:
    """SECRET_KEY, else one generated once into APP_DATA_DIR (mode 0600), shared by every worker."""
    if settings.secret_key is not None:
        return settings.secret_key.get_secret_value()
    path: Path = settings.app_data_dir / SECRET_KEY_FILE
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".secret-")
        try:
            with os.fdopen(fd, "w") as handle:  # mkstemp creates it 0600
                handle.write(secrets.token_urlsafe(SECRET_KEY_BYTES))
            os.link(tmp, path)  # atomic and never overwrites: the first worker's key wins, complete
        except FileExistsError:
            pass
        finally:
            os.unlink(tmp)
    return path.read_text().strip()


class UsersFileAuth(BasicAuth):
    """dash-auth's BasicAuth over the users file; a malformed header is a refusal, never a 500."""

    def __init__(self, app: dash.Dash, store: UserStore) -> None:
        self.store = store
        super().__init__(app, auth_func=lambda name, password: store.verify(name, password) is not None)

    def identify(self) -> Principal | None:
        """The user of this request's Basic credentials (checked once per request: the guard and
        dash-auth both ask)."""
        if "basic_principal" not in flask.g:
            flask.g.basic_principal = self._check_header()
        return flask.g.basic_principal

    def _check_header(self) -> Principal | None:
        header = flask.request.headers.get("Authorization", "")
        scheme, _, encoded = header.partition(" ")
        if scheme.lower() != "basic" or not encoded:
            return None
        try:
            name, sep, password = base64.b64decode(encoded, validate=True).decode("utf-8").partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return None
        return self.store.verify(name, password) if sep else None

    def is_authorized(self) -> bool:
        return bool(flask.g.get("kiosk_link") or flask.g.get("kiosk_revoked")) or self.identify() is not None


def make_oidc_auth(app: dash.Dash, settings: Settings):
    """dash-auth's OIDCAuth with one provider (any OpenID Connect issuer, discovery document)."""
    from dash_auth import OIDCAuth

    class ClaimsOIDCAuth(OIDCAuth):
        def identify(self) -> Principal | None:
            claims = flask.session.get("user")
            if not isinstance(claims, dict):
                return None
            name = claims.get(settings.oidc_name_claim) or claims.get("sub")
            if not name:
                return None
            role = role_from_claim(
                claims.get(settings.oidc_role_claim),
                split_list(settings.oidc_admin_values),
                split_list(settings.oidc_researcher_values),
            )
            return Principal(name=str(name), role=role)

        def is_authorized(self) -> bool:
            return bool(flask.g.get("kiosk_link") or flask.g.get("kiosk_revoked")) or super().is_authorized()

    auth = ClaimsOIDCAuth(
        app,
        secret_key=secret_key(settings),
        public_routes=PUBLIC_ROUTES,
        secure_session=settings.session_cookie_secure,
        force_https_callback=settings.session_cookie_secure,  # behind HTTPS the redirect URI is https too
    )
    issuer = (settings.oidc_issuer_url or "").rstrip("/")
    auth.register_provider(
        OIDC_PROVIDER,
        client_id=settings.oidc_client_id,
        client_secret=settings.oidc_client_secret.get_secret_value() if settings.oidc_client_secret else None,
        server_metadata_url=f"{issuer}/.well-known/openid-configuration",
        client_kwargs={"scope": settings.oidc_scope},
    )
    return auth


class LocalSignIn:
    """AUTH=none (loopback only): the person at this machine, an admin."""

    def __init__(self) -> None:
        self._principal = local_principal()

    def identify(self) -> Principal | None:
        return self._principal


def _refuse(status: int, message: str) -> flask.Response:
    return flask.Response(message, status=status, mimetype="text/plain")


def _kiosk_link(kiosk, token: object):
    return kiosk.find(token) if token else None


def _pathname(body: dict) -> str | None:
    for item in body.get("inputs", []):
        if isinstance(item, dict) and item.get("property") == "pathname":
            return item.get("value")
    return None


def install_signin(app: dash.Dash, settings: Settings, services: Callable[[], Services]) -> None:
    """Sign-in for AUTH, then a guard on every callback: its declared role (components.access), or a live
    kiosk link for the wall's callbacks; 401 without a sign-in, 403 for a role below the one required."""
    server = app.server
    server.secret_key = secret_key(settings)
    server.config["SESSION_COOKIE_HTTPONLY"] = True
    server.config["SESSION_COOKIE_SAMESITE"] = "Lax"  # Lax: the OIDC redirect back must carry the session
    server.config["SESSION_COOKIE_SECURE"] = settings.session_cookie_secure

    @server.before_request
    def guard_callbacks():
        return _guard(app, services, sign_in)

    if settings.auth == "basic":
        verified = diskcache.Cache(str(settings.cache_dir / SIGNIN_CACHE_FOLDER))
        cache_key = hashlib.sha256(b"verified-credentials\0" + server.secret_key.encode()).digest()
        sign_in = UsersFileAuth(app, UserStore(settings.auth_users_file, verified, cache_key))
        add_public_routes(app, PUBLIC_ROUTES)
    elif settings.auth == "oidc":
        sign_in = make_oidc_auth(app, settings)
    else:
        sign_in = LocalSignIn()

    @server.after_request
    def set_kiosk_cookie(response: flask.Response) -> flask.Response:
        token = flask.g.get("kiosk_cookie")
        if token:
            response.set_cookie(
                KIOSK_COOKIE,
                token,
                httponly=True,
                samesite="Strict",
                secure=settings.session_cookie_secure,
                path="/",
            )
        return response


def _guard(app: dash.Dash, get_services: Callable[[], Services], sign_in) -> flask.Response | None:
    request = flask.request
    if request.path.startswith(KIOSK_PREFIX):
        token = request.path.removeprefix(KIOSK_PREFIX)
        if _kiosk_link(get_services().kiosk, token) is None:
            return _refuse(404, "This kiosk link is unknown or was revoked.")
        flask.g.kiosk_cookie = token  # the page itself is a public route; its callbacks carry the cookie
        return None
    if request.path != CALLBACK_PATH:
        return None
    body = request.get_json(silent=True)
    output = body.get("output") if isinstance(body, dict) else None
    entry = app.callback_map.get(output) if isinstance(output, str) else None
    if entry is None:
        return _refuse(400, "Unknown callback.")
    name = callback_name(entry["callback"])
    needed = CALLBACK_ACCESS.get(name)
    if needed is None:  # default deny: every callback is classified in components.access
        log.error("callback %s is not classified in components.access: refused", name)
        return _refuse(403, "This action is not allowed.")
    principal = sign_in.identify()
    if principal is not None:
        if not principal.role.allows(needed.role):
            log.warning("refused %s to %s (%s): needs %s", name, principal.name, principal.role, needed.role)
            return _refuse(403, f"Your role ({principal.role}) cannot do this: it needs {needed.role}.")
        # the address goes with the principal into the callback (a background one too): the audit trail's
        flask.g.principal = principal.model_copy(update={"client": request.remote_addr or ""})
        return None
    if needed is Access.KIOSK:
        cookie = request.cookies.get(KIOSK_COOKIE)
        link = _kiosk_link(get_services().kiosk, cookie)
        routes_elsewhere = name == ROUTER and link is not None and _pathname(body) != link.path
        if link is not None and not routes_elsewhere:
            flask.g.kiosk_link = link
            return None
        if cookie and link is None and name == WALL_REFRESH:
            flask.g.kiosk_revoked = True  # the wall says so and empties itself, instead of going stale
            return None
    return _refuse(401, "Sign in first.")


@dash.hooks.custom_data("access")
def _access(_context) -> dict:
    """What a callback (also a background one, in its own process) knows of who asked."""
    principal = flask.g.get("principal")
    link = flask.g.get("kiosk_link")
    return {
        "principal": principal.model_dump(mode="json") if principal is not None else None,
        "kiosk": link.model_dump(mode="json") if link is not None else None,
        "kiosk_revoked": bool(flask.g.get("kiosk_revoked")),
    }
