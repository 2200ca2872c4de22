"""Kiosk links: revocable read-only tokens that show the wall (with its filters) without signing in."""

from __future__ import annotations

import fcntl
import hashlib
import os
import secrets
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import BaseModel, Field, ValidationError

from services.audit import AuditAction, audited
from services.auth import Principal, Role, require_role
from services.errors import NotFound

if TYPE_CHECKING:
    from services.ports import AuditTrail

TOKEN_BYTES = 24
FILE_NAME = "kiosk-links.json"
FILE_MODE = 0o600
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
    links: dict[str, KioskLink] = Field(default_factory=dict)


class KioskLinks:
    """The links in one JSON file under the app data folder (0600, atomic writes, a file lock for workers).
    Every lookup reads the file, so a revoked link stops at its next request in every worker."""

    def __init__(self, folder: Path, audit: AuditTrail) -> None:
        self._path = folder / FILE_NAME
        self._audit = audit  # every create and revoke, allowed or not

    @contextmanager
    def _locked(self) -> Iterator[None]:
        self._path.parent.mkdir(parents=True, exist_ok=True)
        with open(self._path.parent / ".kiosk.lock", "w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _read(self) -> _Links:
        try:
            return _Links.model_validate_json(self._path.read_bytes())
        except FileNotFoundError:
            return _Links()
        except (OSError, ValidationError):  # a damaged file opens no wall: fail closed
            return _Links()

    def _write(self, links: _Links) -> None:
        fd, tmp = tempfile.mkstemp(dir=self._path.parent, prefix=".kiosk-")
        os.fchmod(fd, FILE_MODE)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(links.model_dump_json(indent=1))
        os.replace(tmp, self._path)

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
            with self._locked():
                links = self._read()
                links.links[link.token] = link
                self._write(links)
            return link

    def revoke(self, principal: Principal | None, token: str) -> None:
        with audited(self._audit, principal, AuditAction.KIOSK_REVOKE, run_id=reference(token)):
            require_role(principal, Role.ADMIN, "revoke kiosk links")
            with self._locked():
                links = self._read()
                if links.links.pop(token, None) is None:
                    raise NotFound("no such kiosk link")
                self._write(links)

    def list(self, principal: Principal | None) -> list[KioskLink]:
        require_role(principal, Role.ADMIN, "list kiosk links")
        return sorted(self._read().links.values(), key=lambda link: link.created_at, reverse=True)

    def find(self, token: object) -> KioskLink | None:
        """The live link of `token`, or None (unknown or revoked)."""
        if not isinstance(token, str) or not token:
            return None
        link = self._read().links.get(token)
        return link if link is not None and secrets.compare_digest(link.token, token) else None
