"""Roles and the acting user (`Principal`): who may do what, decided here once for every entry point."""

from __future__ import annotations

import getpass
import re
from collections.abc import Iterable
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from airflow_backtest_framework.config import MAX_OWNER_CHARS
from services.errors import Forbidden

LOCAL_USER_FALLBACK = "local"
_NOT_OWNER_CHARS = re.compile(r"[^A-Za-z0-9_.@\-]")


class Role(StrEnum):
    """viewer: read; researcher: also act on their own sweeps; admin: act on any sweep, manage links."""

    VIEWER = "viewer"
    RESEARCHER = "researcher"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        return ROLE_ORDER.index(self)

    def allows(self, needed: Role) -> bool:
        return self.rank >= needed.rank


ROLE_ORDER = (Role.VIEWER, Role.RESEARCHER, Role.ADMIN)


class Principal(BaseModel):
    """The signed-in user as the server established it (never as a browser claims it)."""

    model_config = ConfigDict(frozen=True)

    name: str
    role: Role
    client: str = ""  # the address the request came from (for the audit trail), "" outside a request

    @property
    def owner(self) -> str:
        """The name as a sweep owner (SweepConfig's pattern): other characters become `_`."""
        return _NOT_OWNER_CHARS.sub("_", self.name)[:MAX_OWNER_CHARS] or LOCAL_USER_FALLBACK


def local_principal() -> Principal:
    """AUTH=none on a loopback address: the person at this machine, an admin named after the OS user."""
    try:
        name = getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (some containers)
        name = LOCAL_USER_FALLBACK
    return Principal(name=name or LOCAL_USER_FALLBACK, role=Role.ADMIN)


def require_role(principal: Principal | None, needed: Role, what: str) -> Principal:
    """The principal when its role allows `what`; Forbidden otherwise (and when nobody is signed in)."""
    if principal is None:
        raise Forbidden(f"Sign in to {what}.", status=403)
    if not principal.role.allows(needed):
        raise Forbidden(f"Your role ({principal.role}) cannot {what}: it needs {needed}.", status=403)
    return principal


def require_owner(principal: Principal | None, owner: str, what: str) -> Principal:
    """A researcher acts on their own sweeps only, an admin on any; Forbidden otherwise."""
    principal = require_role(principal, Role.RESEARCHER, what)
    if principal.role is not Role.ADMIN and owner != principal.owner:
        raise Forbidden(f"Only {owner} (or an admin) can {what}.", status=403)
    return principal


def role_from_claim(value: object, admin_values: Iterable[str], researcher_values: Iterable[str]) -> Role:
    """The role an OpenID Connect claim maps to (a string or a list of strings); viewer by default."""
    values = {value} if isinstance(value, str) else set(value) if isinstance(value, list | tuple) else set()
    values = {str(v) for v in values}
    if values & set(admin_values):
        return Role.ADMIN
    if values & set(researcher_values):
        return Role.RESEARCHER
    return Role.VIEWER


def may_act_on(principal: Principal | None, owner: str) -> bool:
    """Whether `require_owner` would pass: for greying out what the server would refuse anyway."""
    if principal is None:
        return False
    return principal.role is Role.ADMIN or (principal.role is Role.RESEARCHER and owner == principal.owner)
