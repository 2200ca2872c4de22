"""Where the market-data database is, how to connect to it, and its name without the password.

`DB_HOST` (the Airflow Variable `db_host`) is either a libpq connection string — a
`postgresql://user@host:5432/marketdata` URL or `host=... dbname=...` key/value pairs, used as they
are — or a bare host name (`host` or `host:port`), completed from `DB_PORT`, `DB_NAME` (default
`marketdata`), `DB_USER` and `DB_PASSWORD`. libpq's own `PG*` variables and `~/.pgpass` fill in
whatever neither gives (so a password need not be written in the Variable).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING
from urllib.parse import quote

from airflow_backtest_framework.engine_contract import ENV_DB_HOST
from backtest_engine.data import DataSourceError

if TYPE_CHECKING:
    import psycopg

ENV_DB_PORT = "DB_PORT"
ENV_DB_NAME = "DB_NAME"
ENV_DB_USER = "DB_USER"
ENV_DB_PASSWORD = "DB_PASSWORD"
DEFAULT_DB_NAME = "marketdata"
CONNECT_TIMEOUT_S = 5
APPLICATION_NAME = "backtest_engine"
DSN_EXAMPLE = "postgresql://user@host:5432/marketdata"
CHECK_HINT = (
    f"check {ENV_DB_HOST} (the Airflow Variable db_host), that PostgreSQL runs there and accepts "
    "connections from this machine for this user"
)


def database_dsn(db_host: str | None, environ: Mapping[str, str] | None = None) -> str:
    """The libpq connection string of `db_host` (a URL or key/value string as is, a host completed
    from `environ`'s DB_PORT/DB_NAME/DB_USER/DB_PASSWORD, default os.environ)."""
    text = (db_host or "").strip()
    if not text:
        raise DataSourceError(
            f"the 'database' data source needs {ENV_DB_HOST}: set the Airflow Variable db_host "
            f"(or {ENV_DB_HOST}) to a URL such as {DSN_EXAMPLE} or a host name"
        )
    if _is_conninfo(text):
        return text
    environ = os.environ if environ is None else environ
    host, _, port = text.rpartition(":") if text.count(":") == 1 else (text, "", "")
    params = {
        "host": host,
        "port": port or environ.get(ENV_DB_PORT, ""),
        "dbname": environ.get(ENV_DB_NAME, "") or DEFAULT_DB_NAME,
        "user": environ.get(ENV_DB_USER, ""),
        "password": environ.get(ENV_DB_PASSWORD, ""),
    }
    if params["port"] and not params["port"].isdigit():
        raise DataSourceError(
            f"the database port '{params['port'][:20]}' is not a number; set {ENV_DB_PORT} "
            f"(or the port in {ENV_DB_HOST}) to e.g. 5432"
        )
    from psycopg.conninfo import make_conninfo

    return make_conninfo(**{key: value for key, value in params.items() if value})


def describe_database(dsn: str) -> str:
    """`postgresql://user@host:port/dbname` of a connection string: never its password."""
    fields = _fields(dsn)
    user = fields.get("user")
    host = fields.get("host") or fields.get("hostaddr") or "localhost"
    port = f":{fields['port']}" if fields.get("port") else ""
    name = f"/{fields['dbname']}" if fields.get("dbname") else ""
    return f"postgresql://{quote(user, safe='') + '@' if user else ''}{host}{port}{name}"


def public_db_host(db_host: str | None) -> str | None:
    """DB_HOST as results may record it: a bare host as is, a connection string without its password."""
    text = (db_host or "").strip()
    if not text:
        return None
    if not _is_conninfo(text):
        return text
    try:
        return describe_database(text)
    except DataSourceError:
        return "(unreadable DB_HOST)"


def connect(dsn: str) -> psycopg.Connection:
    """A connection with a short timeout; DataSourceError naming the database (no password) otherwise."""
    import psycopg

    where = describe_database(dsn)  # also refuses an unreadable string before libpq quotes it
    try:
        return psycopg.connect(dsn, connect_timeout=CONNECT_TIMEOUT_S, application_name=APPLICATION_NAME)
    except psycopg.Error as exc:
        raise DataSourceError(
            f"cannot connect to the market-data database {where} ({scrubbed_reason(exc, dsn)}); {CHECK_HINT}"
        ) from None


def scrubbed_reason(exc: BaseException, dsn: str) -> str:
    """The first line of a driver error, with the connection's password (if any) blanked out."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    reason = lines[0] if lines else type(exc).__name__
    reason = reason.removeprefix("connection failed: ")
    password = _fields(dsn).get("password")
    return reason.replace(password, "***") if password else reason


def _is_conninfo(text: str) -> bool:
    return "://" in text or "=" in text


def _fields(dsn: str) -> dict[str, str]:
    from psycopg.conninfo import conninfo_to_dict

    try:
        return {key: str(value) for key, value in conninfo_to_dict(dsn).items() if value is not None}
    except Exception:  # psycopg's message quotes the string, which may hold a password
        raise DataSourceError(
            f"{ENV_DB_HOST} is neither a PostgreSQL connection URL nor a host name; set it like "
            f"{DSN_EXAMPLE} (or a bare host with {ENV_DB_PORT}, {ENV_DB_NAME}, {ENV_DB_USER}, "
            f"{ENV_DB_PASSWORD})"
        ) from None
