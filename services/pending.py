"""Confirmations kept on the server: the dialog's pending action, looked up by a random token."""

from __future__ import annotations

import secrets
from typing import Literal

from pydantic import BaseModel, ValidationError

from services.auth import Principal
from services.errors import BadRequest, Forbidden
from services.shared_cache import SharedCache

PENDING_TTL_S = 600.0  # a dialog left open longer than this asks again
TOKEN_BYTES = 24
KEY_PREFIX = "pending:"

PendingKind = Literal["retrigger", "retry", "cancel"]


class PendingAction(BaseModel):
    """What the confirm button will do, and who asked for it."""

    action: PendingKind
    name: str
    run_id: str = ""
    user: str


class PendingActions:
    """Pending actions in the shared cache every worker (and host, with Redis) sees; each token is used
    at most once (the cache's pop is atomic)."""

    def __init__(self, cache: SharedCache, ttl_s: float = PENDING_TTL_S) -> None:
        self._cache = cache
        self._ttl_s = ttl_s

    def create(self, principal: Principal, action: PendingKind, name: str, run_id: str = "") -> str:
        """Remember the action for `principal`; the token the confirmation will carry."""
        pending = PendingAction(action=action, name=name, run_id=run_id, user=principal.name)
        token = secrets.token_urlsafe(TOKEN_BYTES)
        self._cache.set(KEY_PREFIX + token, pending.model_dump_json(), expire=self._ttl_s)
        return token

    def take(self, principal: Principal, token: object) -> PendingAction:
        """The pending action, removed (a second confirmation finds nothing); BadRequest for an unknown or
        expired token, Forbidden when another user asked for it."""
        if not isinstance(token, str) or not token:
            raise BadRequest("Nothing to confirm: choose the action again.")
        raw = self._cache.pop(KEY_PREFIX + token)
        if raw is None:
            raise BadRequest(
                "This confirmation is unknown, expired or already carried out: choose the action again."
            )
        try:
            pending = PendingAction.model_validate_json(raw)
        except ValidationError:
            raise BadRequest("This confirmation cannot be read: choose the action again.") from None
        if pending.user != principal.name:
            raise Forbidden("This confirmation was asked for by another user.", status=403)
        return pending
