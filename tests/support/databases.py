"""Fresh app databases for the tests: an SQLite file, or a new database on the session's PostgreSQL."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from services.audit import SqlAuditTrail
from services.database import Database

BACKENDS = ["sqlite", "postgresql"]


def fresh_url(request: pytest.FixtureRequest, backend: str, folder: Path) -> str:
    """A URL of an empty database of `backend` (the PostgreSQL server starts on first use)."""
    if backend == "sqlite":
        return f"sqlite:///{folder / f'app-{uuid.uuid4().hex[:8]}.db'}"
    server = request.getfixturevalue("postgres_url").replace("postgresql://", "postgresql+psycopg://", 1)
    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return server.rsplit("/", 1)[0] + f"/{name}"


def fresh_database(request: pytest.FixtureRequest, backend: str, folder: Path, **options) -> Database:
    return Database(fresh_url(request, backend, folder), **options)


def sqlite_audit(folder: Path) -> SqlAuditTrail:
    """An audit trail in an SQLite file in `folder` (migrated at first use)."""
    folder.mkdir(parents=True, exist_ok=True)
    return SqlAuditTrail(Database(f"sqlite:///{folder / 'audit.db'}"))
