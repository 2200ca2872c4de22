"""Kiosk links: revocable read-only tokens that show the wall (with its filters) without signing in."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from pydantic import BaseModel, Field, ValidationError
from sqlalchemy import delete, insert, select
from sqlalchemy.exc import SQLAlchemyError

from services.audit import AuditAction, AuditRecorder, audited
from services.auth import Principal, Role, require_role
from services.database import Database, unavailable
from services.db_tables import kiosk_links, utc
from services.errors import BacktestError, NotFound

TOKEN_BYTES = 24
FILE_NAME = "kiosk-links.json"
MAX_TOKEN_CHARS = 64  # token_urlsafe(24) is 32 characters; anything longer is not a link of ours
MAX_LABEL_CHARS = 80
REFERENCE_CHARS = 12


def reference(token: str) -> str:
    """A kiosk link's name in the audit trail: a short hash of its token (the token opens the wall)."""
    return "kiosk:" + hashlib.sha256(token.encode()).hexdigest()[:REFERENCE_CHARS]


class KioskLink(BaseModel):
    token: str
    label: str = Field("", max_length=MAX_LABEL_CHARS)
    owner: str | None = None
    strategy: str | None = None
    state: str | None = None
    created_by: str
    created_at: datetime

    @property
    def reference(self) -> str:
        """What the audit trail names the link by: never the token itself, which opens the wall."""
        return reference(self.token)

    @property
    def path(self) -> str:
        return f"/kiosk/{self.token}"

    def wall_filter(self) -> dict[str, str | None]:
        """The wall's filters this link is scoped to (WallFilter's fields)."""
        return {"owner": self.owner, "strategy": self.strategy, "state": self.state}


class _Links(BaseModel):
    """The JSON file kiosk links were kept in before the database (read once, by the import)."""

    links: dict[str, KioskLink] = Field(default_factory=dict)


def read_links_file(app_data_dir: Path) -> list[KioskLink]:
    """The links of an install's `kiosk-links.json` ([] when there is none or it cannot be read)."""
    try:
        return list(_Links.model_validate_json((app_data_dir / FILE_NAME).read_bytes()).links.values())
    except (OSError, ValidationError):
        return []


def _link(row) -> KioskLink:
    return KioskLink(
        token=row.token,
        label=row.label,
        owner=row.owner,
        strategy=row.strategy,
        state=row.state,
        created_by=row.created_by,
        created_at=utc(row.created_at),
    )


def link_row(link: KioskLink) -> dict[str, object]:
    return {**link.model_dump(), "created_at": link.created_at.astimezone(UTC)}


class KioskLinks:
    """The links in the app's database (table `kiosk_links`), shared by every worker and host. Every
    lookup reads it, so a revoked link stops at its next request everywhere. The tokens are kept as
    they are (admins copy the links from /admin): treat the database like the secrets it holds."""

    def __init__(self, database: Database, audit: AuditRecorder) -> None:
        self._database = database
        self._audit = audit  # every create and revoke, allowed or not

    @contextmanager
    def _answering(self) -> Iterator[None]:
        """A database that does not answer says so in words (no driver text, no URL password)."""
        try:
            yield
        except SQLAlchemyError as exc:
            raise unavailable(self._database.engine, exc) from None

    def create(self, principal: Principal | None, label: str = "", **wall_filter: str | None) -> KioskLink:
        """A new link (admins only), scoped to the wall filtered by owner/strategy/state."""
        with audited(self._audit, principal, AuditAction.KIOSK_CREATE) as entry:
            principal = require_role(principal, Role.ADMIN, "create kiosk links")
            link = KioskLink(
                token=secrets.token_urlsafe(TOKEN_BYTES),
                label=label.strip(),
                created_by=principal.name,
                created_at=datetime.now(UTC),
                **{key: (value or None) for key, value in wall_filter.items()},
            )
            entry.run_id = link.reference
            with self._answering(), self._database.engine.begin() as connection:
                connection.execute(insert(kiosk_links).values(**link_row(link)))
            return link

    def revoke(self, principal: Principal | None, token: str) -> None:
        with audited(self._audit, principal, AuditAction.KIOSK_REVOKE, run_id=reference(token)):
            require_role(principal, Role.ADMIN, "revoke kiosk links")
            with self._answering(), self._database.engine.begin() as connection:
                gone = connection.execute(delete(kiosk_links).where(kiosk_links.c.token == token)).rowcount
            if not gone:
                raise NotFound("no such kiosk link")

    def list(self, principal: Principal | None) -> list[KioskLink]:
        require_role(principal, Role.ADMIN, "list kiosk links")
        query = select(kiosk_links).order_by(kiosk_links.c.created_at.desc())
        with self._answering(), self._database.engine.connect() as connection:
            return [_link(row) for row in connection.execute(query)]

    def find(self, token: object) -> KioskLink | None:
        """The live link of `token`, or None (unknown, revoked, or the database not answering: a wall
        screen fails closed)."""
        if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_CHARS:
            return None
        try:
            with self._database.engine.connect() as connection:
                row = connection.execute(select(kiosk_links).where(kiosk_links.c.token == token)).first()
        except (SQLAlchemyError, BacktestError):
            return None
        return _link(row) if row is not None and secrets.compare_digest(row.token, token) else None
