"""The app's database: SQLite file by default, PostgreSQL with DATABASE_URL; Alembic migrations to head.

`python -m services.database upgrade` applies the migrations (the app also does at start-up);
`python -m services.database current` prints the revision the database is at.
"""

from __future__ import annotations

import fcntl
import logging
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from services.errors import StorageError
from services.redaction import redact, without_userinfo
from services.settings import Settings

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
SQLITE_FILE = "backtest.db"
SQLITE_BUSY_TIMEOUT_MS = 30_000  # writers wait for each other (one SQLite writer at a time)
PG_CONNECT_TIMEOUT_S = 5
MIGRATION_LOCK_KEY = 7_310_013  # pg_advisory_lock key: one instance migrates at a time
HEAD = "head"


def database_url(settings: Settings) -> str:
    """DATABASE_URL with SQLAlchemy's psycopg 3 driver, or the SQLite file in the app data folder."""
    if settings.database_url is None:
        return f"sqlite:///{settings.app_data_dir / SQLITE_FILE}"
    url = settings.database_url.get_secret_value()
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url.removeprefix(prefix)
    return url


def describe(url: str) -> str:
    """The URL without its password (for messages and logs)."""
    return without_userinfo(make_url(url).render_as_string(hide_password=True))


def make_engine(url: str) -> Engine:
    """An engine for `url`: SQLite in WAL mode with a busy timeout (several workers write), PostgreSQL
    with pre-ping (a load balancer's database may restart) and a connect timeout."""
    if url.startswith("sqlite"):
        path = make_url(url).database
        if path:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True, connect_args={"connect_timeout": PG_CONNECT_TIMEOUT_S})


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def unavailable(engine: Engine, exc: Exception) -> StorageError:
    """What a page says when the database does not answer (no URL password, no driver text)."""
    log.warning("database %s: %s", describe(str(engine.url)), redact(str(exc))[:300])
    return StorageError(f"The database ({describe(str(engine.url))}) did not answer: try again shortly.")


def _alembic_config(connection):
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


@contextmanager
def _migration_lock(engine: Engine) -> Iterator[None]:
    """One process migrates at a time: an advisory lock on PostgreSQL, a file lock beside SQLite."""
    if engine.dialect.name == "postgresql":
        with engine.connect() as connection:
            connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
            try:
                yield
            finally:
                connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": MIGRATION_LOCK_KEY})
                connection.commit()
        return
    path = make_url(str(engine.url)).database or ""
    lock_path = Path(f"{path}.migrate.lock") if path and path != ":memory:" else None
    if lock_path is None:
        yield
        return
    with open(lock_path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def upgrade(engine: Engine, revision: str = HEAD) -> None:
    """Apply the migrations up to `revision` (head: all); safe when several instances start at once."""
    from alembic import command

    with _migration_lock(engine), engine.begin() as connection:
        command.upgrade(_alembic_config(connection), revision)


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at (None: never migrated)."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision() -> str:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(_alembic_config(None)).get_current_head() or ""


class Database:
    """The app's database, migrated to head (and `prepare`d, e.g. the JSON import) at its first use in
    each process, so that building the services contacts nothing; StorageError while it does not answer
    (the next use tries again)."""

    def __init__(self, url: str, prepare: Callable[[Engine], object] | None = None) -> None:
        self._engine = make_engine(url)
        self._prepare = prepare
        self._ready = False
        self._lock = threading.Lock()

    @property
    def engine(self) -> Engine:
        if not self._ready:
            with self._lock:
                if not self._ready:
                    try:
                        upgrade(self._engine)
                        if self._prepare is not None:
                            self._prepare(self._engine)
                    except SQLAlchemyError as exc:
                        raise unavailable(self._engine, exc) from None
                    self._ready = True
        return self._engine

    def ping(self) -> bool:
        """Whether the database answers a trivial query now (for /readyz); never raises."""
        try:
            with self.engine.connect() as connection:
                connection.execute(text("SELECT 1"))
        except (SQLAlchemyError, StorageError) as exc:
            log.warning("database ping failed: %s", redact(str(exc))[:300])
            return False
        return True

    def describe(self) -> str:
        return describe(str(self._engine.url))


def main(argv: list[str] | None = None) -> int:
    """`python -m services.database upgrade|current`: migrate the settings' database or show its revision."""
    from services.settings import load_settings_or_exit

    args = sys.argv[1:] if argv is None else argv
    if args not in (["upgrade"], ["current"]):
        sys.stderr.write("usage: python -m services.database upgrade|current\n")
        return 2
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    settings = load_settings_or_exit()
    engine = make_engine(database_url(settings))
    try:
        if args == ["upgrade"]:
            upgrade(engine)
        revision = current_revision(engine)
    except (SQLAlchemyError, StorageError) as exc:
        sys.stderr.write(f"{unavailable(engine, exc)}\n")
        return 1
    sys.stdout.write(f"{describe(str(engine.url))} is at revision {revision} (head {head_revision()})\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
