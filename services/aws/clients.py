"""boto3 clients built lazily, once per process, from the settings (region, profile, retries, timeouts).

Endpoints are botocore's business: `AWS_ENDPOINT_URL` and `AWS_ENDPOINT_URL_<SERVICE>` (e.g.
`AWS_ENDPOINT_URL_S3`, `AWS_ENDPOINT_URL_MWAA`) in the environment or `endpoint_url` in the
profile send a client to an S3-compatible store or a test endpoint; nothing here overrides them.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from services.aws.errors import aws_errors

if TYPE_CHECKING:
    import boto3.session

    from services.settings import Settings

RETRY_MODE = "adaptive"  # standard retries plus client-side rate limiting when AWS throttles
MAX_RETRY_ATTEMPTS = 4  # botocore's `max_attempts` counts retries: 5 attempts in all
CONNECT_TIMEOUT_S = 5.0
# MWAA gives InvokeRestApi 10 s on the Airflow side; leave room for the round trip.
READ_TIMEOUT_S = 20.0
MAX_POOL_CONNECTIONS = 20  # results are read with several threads

# A client, or a function returning one (so that forked processes build their own).
ClientSource = Any | Callable[[], Any]


def resolve_client(source: ClientSource) -> Any:
    """The client itself, or the one the factory returns (boto3 clients are not callable)."""
    return source() if callable(source) else source


def client_config() -> Any:
    """The botocore Config every client shares: adaptive retries and bounded timeouts."""
    from botocore.config import Config

    return Config(
        retries={"mode": RETRY_MODE, "max_attempts": MAX_RETRY_ATTEMPTS},
        connect_timeout=CONNECT_TIMEOUT_S,
        read_timeout=READ_TIMEOUT_S,
        max_pool_connections=MAX_POOL_CONNECTIONS,
    )


class AwsClients:
    """One boto3 session and one client per service, built on first use in each process.

    A forked process (a gunicorn worker, a background callback) gets its own session and clients:
    botocore's connection pools must not be shared across a fork.
    """

    def __init__(self, settings: Settings) -> None:
        self.region = settings.aws_region
        self.profile = settings.aws_profile or None
        self._lock = threading.Lock()
        self._pid: int | None = None
        self._session: boto3.session.Session | None = None
        self._clients: dict[str, Any] = {}

    def __repr__(self) -> str:
        return f"AwsClients(region={self.region!r}, profile={self.profile!r})"

    def _fresh_for_this_process(self) -> None:
        if self._pid != os.getpid():
            self._pid = os.getpid()
            self._session = None
            self._clients = {}

    def session(self) -> boto3.session.Session:
        """`boto3.session.Session(profile_name=AWS_PROFILE or None, region_name=AWS_REGION)`."""
        with self._lock:
            return self._session_locked()

    def _session_locked(self) -> boto3.session.Session:
        import boto3.session

        self._fresh_for_this_process()
        if self._session is None:
            with aws_errors("AWS session", service="sts"):
                self._session = boto3.session.Session(profile_name=self.profile, region_name=self.region)
        return self._session

    def client(self, service: str) -> Any:
        """The process's client for `service` ("s3", "mwaa", "batch", "sts"), built once."""
        with self._lock:
            session = self._session_locked()
            if service not in self._clients:
                with aws_errors(f"AWS {service} client", service=service):
                    self._clients[service] = session.client(service, config=client_config())
            return self._clients[service]

    def source(self, service: str) -> Callable[[], Any]:
        """A factory for `service`'s client: what adapters take, so nothing is built at wire time."""
        return lambda: self.client(service)
