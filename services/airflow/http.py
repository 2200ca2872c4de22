"""HttpTransport: Airflow's REST API over HTTP (`requests`): JWT or basic auth, retries, serial writes."""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import logging
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import requests
from pydantic import SecretStr

from services.airflow.faults import UNREACHABLE_FIXES, fault_of, never_sent
from services.airflow.transport import ApiRequest, ApiResponse, QueryValue, RetryingTransport, RetryPolicy
from services.deadline import current_deadline
from services.errors import AuthError, BacktestError, Fault, Unavailable, http_error
from services.redaction import remember_secret, split_userinfo

if TYPE_CHECKING:
    from services.settings import Settings

log = logging.getLogger(__name__)

TOKEN_PATH = "/auth/token"
WRITES = ("POST", "PUT", "PATCH", "DELETE")  # `what` of a write starts with one of them
TOKEN_OK_STATUSES = frozenset({200, 201})  # Airflow 3.3 answers 201 Created
TOKEN_REFRESH_MARGIN_S = 60.0  # renew this long before the JWT's `exp`
DEFAULT_CONNECT_TIMEOUT_S = 3.0
DEFAULT_READ_TIMEOUT_S = 10.0
MAX_TEXT_CHARS = 2000  # of a non-JSON body kept for error messages
LOCK_POLL_S = 0.05  # how often a write waiting for another process's write looks again

MAYBE_APPLIED = "; the change may still have been made: look before sending it again"


def jwt_expiry(token: str) -> float | None:
    """The `exp` claim (epoch seconds) of a JWT, decoded without verifying; None if there is none."""
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        return float(claims["exp"])
    except (IndexError, ValueError, KeyError, TypeError):
        return None


def _query(params: Mapping[str, QueryValue]) -> dict[str, Any] | None:
    """Query parameters as Airflow parses them: booleans as `true`/`false`, lists as repeated keys."""
    encoded: dict[str, Any] = {}
    for name, value in params.items():
        if isinstance(value, bool):
            encoded[name] = "true" if value else "false"
        elif isinstance(value, (list, tuple)):
            encoded[name] = [str(item) for item in value]
        else:
            encoded[name] = value
    return encoded or None


def _response(raw: requests.Response) -> ApiResponse:
    try:
        body = raw.json() if raw.content else None
    except ValueError:
        return ApiResponse(status=raw.status_code, text=raw.text[:MAX_TEXT_CHARS])
    return ApiResponse(status=raw.status_code, json=body)


class WriteLock:
    """One write at a time: across threads, and across processes (gunicorn workers) with a lock file."""

    def __init__(self, lock_file: Path | None = None) -> None:
        self._threads = threading.Lock()
        self._lock_file = lock_file
        self._handle: IO[str] | None = None

    def __enter__(self) -> WriteLock:
        deadline = current_deadline()
        wait_s = -1 if deadline is None else deadline.remaining_s()
        if not self._threads.acquire(timeout=wait_s):
            raise self._busy()
        if self._lock_file is None:
            return self
        try:
            if self._handle is None:
                self._lock_file.parent.mkdir(parents=True, exist_ok=True)
                self._handle = open(self._lock_file, "a+")  # kept open: the lock lives with the transport
            self._lock_process(self._handle)
        except OSError as exc:
            self._threads.release()
            raise BacktestError(f"cannot lock {self._lock_file}: {exc.strerror or exc}") from None
        except Unavailable:
            self._threads.release()
            raise
        return self

    def _lock_process(self, handle: IO[str]) -> None:
        """flock, given up at the deadline (another process's write to a slow Airflow holds it)."""
        deadline = current_deadline()
        if deadline is None:
            fcntl.flock(handle, fcntl.LOCK_EX)
            return
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                if deadline.expired:
                    raise self._busy() from None
                time.sleep(min(LOCK_POLL_S, deadline.remaining_s()))

    @staticmethod
    def _busy() -> Unavailable:
        total = current_deadline()
        within_s = f" within {total.total_s:g} s" if total is not None else ""
        return Unavailable(
            f"Airflow is slow: another write to it did not finish{within_s}",
            not_sent=True,
            fault=Fault.SLOW,
            fix=UNREACHABLE_FIXES[Fault.SLOW],
        )

    def __exit__(self, *exc_info: object) -> None:
        if self._handle is not None:
            fcntl.flock(self._handle, fcntl.LOCK_UN)
        self._threads.release()


class HttpTransport:
    """`AirflowTransport` over HTTP: `{base}/api/v2` (JWT from `POST /auth/token`) or `/api/v1` (basic auth).

    The token is cached, renewed shortly before its `exp` and once more when Airflow rejects it.
    Writes go one at a time (SQLite answers concurrent writes with "database is locked"); transient
    failures are retried with backoff (see `RetryPolicy`); the password and token never reach a log
    line, a message or a repr. Give several processes that write to one Airflow the same
    `write_lock_file` so their writes queue too. Credentials written into `base_url`
    (`http://user:password@host`) are the login; the URL is used and shown without them.

    Every call ends within the retry policy's budget (or an enclosing `services.deadline` block):
    the timeouts of each attempt and the wait for the write lock are cut to the time left.
    """

    def __init__(
        self,
        base_url: str,
        username: str,
        password: SecretStr | str,
        *,
        api_version: str = "v2",
        connect_timeout_s: float = DEFAULT_CONNECT_TIMEOUT_S,
        read_timeout_s: float = DEFAULT_READ_TIMEOUT_S,
        retry: RetryPolicy | None = None,
        write_lock_file: Path | None = None,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if api_version not in ("v1", "v2"):
            raise ValueError(f"unknown Airflow API version {api_version!r}")
        base_url, url_username, url_password = split_userinfo(base_url)
        self._base_url = base_url.rstrip("/")
        self._origin = self._base_url  # what messages and logs name: never with credentials
        self._api_root = f"{self._base_url}/api/{api_version}"
        self._api_version = api_version
        self._username = url_username or username
        if url_password is not None:
            password = url_password
        self._password = password if isinstance(password, SecretStr) else SecretStr(password)
        if self._password.get_secret_value() != self._username:  # one shown anyway hides nothing
            remember_secret(self._password)
        self._timeout = (connect_timeout_s, read_timeout_s)
        self._session = session or requests.Session()
        self._clock = clock
        self._token: SecretStr | None = None
        self._token_expiry: float | None = None
        self._token_lock = threading.Lock()
        self._write_lock = WriteLock(write_lock_file)
        self._retrying = RetryingTransport(self._send_once, retry or RetryPolicy(), sleep=sleep)

    @classmethod
    def from_settings(cls, settings: Settings, **options: Any) -> HttpTransport:
        """The transport to the local Airflow of `settings` (airflow_url, username, password)."""
        return cls(settings.airflow_url, settings.airflow_username, settings.airflow_password, **options)

    def __repr__(self) -> str:
        return f"HttpTransport({self._api_root!r}, user={self._username!r})"

    def describe(self) -> str:
        """Where requests go, for messages: `http://127.0.0.1:8080/api/v2`."""
        return self._api_root

    def __call__(self, request: ApiRequest) -> ApiResponse:
        return self._retrying(request)

    # ---- one attempt --------------------------------------------------------------------------

    def _timeouts(self, what: str) -> tuple[float, float]:
        """(connect, read) timeouts cut to the deadline's time left; Unavailable once none is left."""
        connect_s, read_s = self._timeout
        deadline = current_deadline()
        if deadline is None:
            return connect_s, read_s
        left = deadline.remaining_s()
        if left <= 0.0:
            raise self._slow(deadline.total_s, what, sent=False)
        return min(connect_s, left), min(read_s, left)

    def _slow(self, within_s: float, what: str, *, sent: bool) -> Unavailable:
        return Unavailable(
            f"Airflow is slow (no answer within {within_s:g} s from {self._origin}, {what})",
            not_sent=not sent,
            fault=Fault.SLOW,
            fix=UNREACHABLE_FIXES[Fault.SLOW] + (MAYBE_APPLIED if sent and what.startswith(WRITES) else ""),
        )

    def _send_once(self, request: ApiRequest) -> ApiResponse:
        if self._api_version == "v1":
            return self._http(request, auth=(self._username, self._password.get_secret_value()))
        token, fresh = self._current_token()
        response = self._http(request, token=token)
        if not fresh and self._token_rejected(response):
            log.info(
                "Airflow at %s rejected the cached token (HTTP %d); fetching a new one",
                self._origin,
                response.status,
            )
            token, _ = self._current_token(reject=token)
            response = self._http(request, token=token)
        return response

    @staticmethod
    def _token_rejected(response: ApiResponse) -> bool:
        # 401 "Token Expired"; 403 "Invalid JWT token" after Airflow restarted with a new secret.
        return response.status == 401 or (response.status == 403 and "token" in str(response.body).lower())

    def _http(
        self, request: ApiRequest, *, token: SecretStr | None = None, auth: tuple[str, str] | None = None
    ) -> ApiResponse:
        headers = {"Accept": "application/json"}
        if token is not None:
            headers["Authorization"] = f"Bearer {token.get_secret_value()}"
        url = self._api_root + request.path
        started = time.monotonic()
        one_at_a_time = self._write_lock if request.is_write else contextlib.nullcontext()
        try:
            with one_at_a_time:
                timeouts = self._timeouts(request.describe())
                raw = self._session.request(
                    request.method.upper(),
                    url,
                    params=_query(request.params),
                    json=request.json,
                    headers=headers,
                    auth=auth,
                    timeout=timeouts,
                )
        except requests.RequestException as exc:
            raise self._unreachable(exc, request.describe(), timeouts) from None
        log.debug(
            "%s -> %d in %.0f ms", request.describe(), raw.status_code, 1000 * (time.monotonic() - started)
        )
        return _response(raw)

    def _unreachable(
        self, exc: requests.RequestException, what: str, timeouts: tuple[float, float]
    ) -> Unavailable:
        fault = fault_of(exc)
        deadline = current_deadline()
        if fault is Fault.SLOW:
            cut = deadline is not None and timeouts[1] < self._timeout[1]
            return self._slow(deadline.total_s if cut and deadline else timeouts[1], what, sent=True)
        reasons = {
            Fault.UNREACHABLE: f"no connection within {timeouts[0]:g} s",
            Fault.DNS: "the host name does not resolve",
            Fault.REFUSED: "connection refused (is Airflow running?)",
            Fault.TLS: "the TLS handshake failed",
        }
        reason = reasons.get(fault, f"connection failed ({type(exc).__name__})")
        return Unavailable(
            f"cannot reach Airflow at {self._origin} ({what}): {reason}",
            not_sent=never_sent(exc),
            fault=fault,
            fix=UNREACHABLE_FIXES[fault],
        )

    # ---- token --------------------------------------------------------------------------------

    def _current_token(self, reject: SecretStr | None = None) -> tuple[SecretStr, bool]:
        """The cached token, or a new one (then `fresh` is True) if none, expiring, or `reject`ed."""
        deadline = current_deadline()
        # Another thread may be fetching the token from a slow Airflow: wait for it only until our deadline.
        if not self._token_lock.acquire(timeout=-1 if deadline is None else deadline.remaining_s()):
            raise self._slow(deadline.total_s if deadline else 0.0, f"POST {TOKEN_PATH}", sent=False)
        try:
            expiring = (
                self._token_expiry is not None
                and self._clock() >= self._token_expiry - TOKEN_REFRESH_MARGIN_S
            )
            stale = (
                reject is not None
                and self._token is not None
                and (self._token.get_secret_value() == reject.get_secret_value())
            )
            if self._token is not None and not expiring and not stale:
                return self._token, reject is not None
            self._token = self._fetch_token()
            self._token_expiry = jwt_expiry(self._token.get_secret_value())
            return self._token, True
        finally:
            self._token_lock.release()

    def _fetch_token(self) -> SecretStr:
        what = f"POST {TOKEN_PATH}"
        credentials = {"username": self._username, "password": self._password.get_secret_value()}
        timeouts = self._timeouts(what)
        try:
            raw = self._session.post(self._base_url + TOKEN_PATH, json=credentials, timeout=timeouts)
        except requests.RequestException as exc:
            error = self._unreachable(exc, what, timeouts)
            # The request the token was for was never sent: safe to retry.
            raise Unavailable(error.message, not_sent=True, fault=error.fault, fix=error.fix) from None
        response = _response(raw)
        if response.status in (401, 403):
            raise AuthError(
                f"Airflow at {self._origin} rejected the password of user '{self._username}'"
                f" (HTTP {response.status})",
                status=response.status,
                fix="Check AIRFLOW_USERNAME and AIRFLOW_PASSWORD in .env (or the login in AIRFLOW_URL)",
            )
        if response.status not in TOKEN_OK_STATUSES:
            error = http_error(response.status, response.body, f"Airflow at {self._origin} {what}")
            if isinstance(error, Unavailable):  # the real request was never sent: safe to retry
                error.not_sent = True
            raise error
        token = (response.json or {}).get("access_token") if isinstance(response.json, dict) else None
        if not token:
            raise BacktestError(f"Airflow at {self._origin} answered {what} without an access_token")
        log.info("Airflow at %s: new API token for user '%s'", self._origin, self._username)
        return SecretStr(token)
