"""Settings from the environment and `.env`: mode, Airflow, AWS, paths and limits."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from airflow_backtest_framework.chunking import DEFAULT_BATCH_SLOTS, ExecutorProfile
from airflow_backtest_framework.config import DEFAULT_MAX_GRID_POINTS
from services.redaction import split_userinfo, without_userinfo

PROJECT_ROOT = Path(__file__).resolve().parent.parent
# Dash callback payloads are a few KB; the grid expressions and a full form stay far below this.
DEFAULT_MAX_REQUEST_BYTES = 1_000_000
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
ANY_ADDRESS = ("0.0.0.0", "::", "")
REDIS_SCHEMES = ("redis://", "rediss://", "unix://")


def is_loopback(host: str) -> bool:
    """True for an address only this machine reaches (127.0.0.0/8, ::1, localhost)."""
    import ipaddress

    host = host.strip().strip("[]").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def split_list(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


class SettingsError(Exception):
    """Settings that cannot be used; the message has one line per bad key, no values of secrets."""


# Settings a choice needs: MODE=aws its AWS resources, AUTH=oidc its provider.
REQUIRED_WITH: dict[tuple[str, str], tuple[str, ...]] = {
    ("mode", "aws"): ("mwaa_environment_name", "s3_dags_bucket", "results_uri"),
    ("auth", "oidc"): ("oidc_issuer_url", "oidc_client_id", "oidc_client_secret"),
}


SETTINGS_EXIT_CODE = 2  # a command run with bad settings exits with this


class Settings(BaseSettings):
    """Everything the app and the local stack read from the environment (see `.env.example`)."""

    model_config = SettingsConfigDict(
        env_file=(PROJECT_ROOT / ".env"), env_file_encoding="utf-8", extra="ignore", case_sensitive=False
    )

    mode: Literal["local", "aws"] = "local"

    # The web app
    host: str = "127.0.0.1"
    port: int = Field(8050, ge=1, le=65535)
    app_data_dir: Path = Path(".local/app")
    cache_dir: Path = Path(".local/cache")
    max_grid_points: int = Field(DEFAULT_MAX_GRID_POINTS, ge=1, le=10_000_000)
    refresh_interval_s: float = Field(5.0, ge=1.0, le=3600.0)
    web_workers: int = Field(2, ge=1, le=64)  # gunicorn workers when HOST is not a loopback address
    # Several hosts (README "Running several instances"): Redis holds the shared cache and Celery's queue.
    redis_url: SecretStr | None = None  # redis://[:password@]host:6379/0; unset: diskcache in CACHE_DIR
    celery_concurrency: int = Field(2, ge=1, le=64)  # background jobs one Celery worker runs at once
    # The sweep registry and the audit trail: PostgreSQL (postgresql://user:password@host/db) when set,
    # else the SQLite file APP_DATA_DIR/backtest.db (README "The database").
    database_url: SecretStr | None = None

    # Sign-in, roles and requests (README "Signing in and roles")
    auth: Literal["none", "basic", "oidc"] = "none"
    auth_users_file: Path = Path(".local/app/users.json")
    secret_key: SecretStr | None = None  # signs session cookies; generated into APP_DATA_DIR when unset
    allowed_hosts: str = ""  # comma-separated host names the app answers to, besides the loopback ones
    max_request_bytes: int = Field(DEFAULT_MAX_REQUEST_BYTES, ge=1024, le=64 * 1024 * 1024)
    session_cookie_secure: bool = False  # True behind HTTPS: the session cookie is then sent over HTTPS only
    # Reverse proxies in front of the app (a TLS terminator, a load balancer) whose X-Forwarded-For, -Proto,
    # -Host and -Port headers are believed: the client address, scheme and host name come from them.
    # 0: the headers are ignored (anyone could send them).
    proxy_hops: int = Field(0, ge=0, le=5)
    oidc_issuer_url: str | None = None
    oidc_client_id: str | None = None
    oidc_client_secret: SecretStr | None = None
    oidc_scope: str = "openid email profile"
    oidc_name_claim: str = "email"
    oidc_role_claim: str = "groups"
    oidc_admin_values: str = ""  # comma-separated claim values that make an admin
    oidc_researcher_values: str = ""  # ... a researcher; anyone else signed in is a viewer

    # Local mode: the embedded Airflow started by scripts/local_airflow.py
    airflow_url: str = "http://127.0.0.1:8080"
    airflow_username: str = "admin"
    airflow_password: SecretStr = SecretStr("admin")
    airflow_home: Path = Path(".local/airflow")
    local_dags_folder: Path = Path(".local/airflow/dags")
    results_root: Path = Path(".local/results")
    airflow_parallelism: int = Field(8, ge=1, le=64)

    # The market-data database the engine reads at DB_HOST (the Airflow Variable db_host): set here too,
    # the deploy preflight checks the sweep's symbols in it; unset, it says it could not check them.
    db_host: SecretStr | None = None

    # AWS mode
    aws_region: str = "us-east-1"
    aws_profile: str | None = None
    mwaa_environment_name: str | None = None
    s3_dags_bucket: str | None = None
    s3_dags_prefix: str = "dags/"
    airflow_webserver_url: str | None = None
    results_uri: str | None = None
    batch_job_queue: str | None = None
    batch_job_definition: str | None = None
    # Jobs the Batch queue runs at once: sizes chunks shown in Configure (the DAGs read the Airflow
    # Variable backtest_task_slots; set both to the same number).
    batch_task_slots: int = Field(DEFAULT_BATCH_SLOTS, ge=1)

    @field_validator("auth")
    @classmethod
    def _auth_on_network(cls, value: str, info) -> str:
        host = info.data.get("host", "127.0.0.1")
        if value == "none" and not is_loopback(host):
            raise ValueError(
                f"AUTH=none is allowed only on a loopback HOST, not {host!r}: set AUTH=basic or AUTH=oidc"
            )
        return value

    @field_validator(
        "app_data_dir", "cache_dir", "airflow_home", "local_dags_folder", "results_root", "auth_users_file"
    )
    @classmethod
    def _absolute(cls, value: Path) -> Path:
        return value if value.is_absolute() else (PROJECT_ROOT / value)

    @field_validator("airflow_url", "airflow_webserver_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is None:
            return value
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")

    @field_validator("redis_url")
    @classmethod
    def _redis_url(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value().strip():
            return None
        if not value.get_secret_value().startswith(REDIS_SCHEMES):
            raise ValueError(
                f"must start with {' or '.join(REDIS_SCHEMES)} (e.g. redis://cache.internal:6379/0)"
            )
        return value

    @field_validator("s3_dags_prefix")
    @classmethod
    def _prefix(cls, value: str) -> str:
        value = value.strip("/")
        return f"{value}/" if value else ""

    @model_validator(mode="after")
    def _login_out_of_url(self) -> Settings:
        # `http://user:password@host` in AIRFLOW_URL is the Airflow login; the URL keeps none, so it
        # can be shown (Connections page, CLI, links) and logged.
        url, username, password = split_userinfo(self.airflow_url)
        self.airflow_url = url
        self.airflow_username = username or self.airflow_username
        self.airflow_password = SecretStr(password) if password is not None else self.airflow_password
        return self

    @model_validator(mode="after")
    def _needs(self) -> Settings:
        for (setting, value), keys in REQUIRED_WITH.items():
            if getattr(self, setting) != value:
                continue
            missing = [key.upper() for key in keys if not getattr(self, key)]
            if missing:
                raise ValueError(f"{setting.upper()}={value} needs {', '.join(missing)} (see .env.example)")
        return self

    @property
    def host_allowlist(self) -> frozenset[str]:
        """The Host names requests may carry: the loopback names, HOST itself, and ALLOWED_HOSTS."""
        names = {*LOOPBACK_HOSTS, *(h.lower() for h in split_list(self.allowed_hosts))}
        if self.host not in ANY_ADDRESS:
            names.add(self.host.lower())
        return frozenset(name.strip("[]") for name in names)

    @property
    def redis_url_shown(self) -> str:
        """REDIS_URL fit to show and log: without its password; "" when unset."""
        return without_userinfo(self.redis_url.get_secret_value()) if self.redis_url else ""

    @property
    def task_profile(self) -> ExecutorProfile:
        """Where the sweeps' tasks run and how many at once (chunking.py sizes chunks from it)."""
        if self.mode == "local":
            return ExecutorProfile("local", self.airflow_parallelism)
        return ExecutorProfile("batch", self.batch_task_slots)

    @property
    def airflow_port(self) -> int:
        from urllib.parse import urlsplit

        return urlsplit(self.airflow_url).port or 8080


def load_settings(**overrides: object) -> Settings:
    """Read the settings; raise SettingsError with one line per bad key."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        lines = []
        for error in exc.errors(include_url=False, include_input=False):
            key = ".".join(str(p) for p in error["loc"]).upper() or "settings"
            message = str(error["msg"]).removeprefix("Value error, ")
            lines.append(f"{key}: {message}")
        raise SettingsError("invalid settings:\n  " + "\n  ".join(lines)) from None


def load_settings_or_exit() -> Settings:
    """For a command's entry point: the settings, or each bad key on stderr and exit status 2."""
    try:
        return load_settings()
    except SettingsError as exc:
        sys.stderr.write(f"{exc}\n")
        raise SystemExit(SETTINGS_EXIT_CODE) from None
