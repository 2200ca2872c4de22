"""The audit trail: who did what (save, deploy, trigger, retry, cancel, kiosk links), from where, how it went.

Rows are only ever added: this module has no update or delete, and on PostgreSQL a trigger refuses both.
"""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Protocol

from pydantic import BaseModel, Field
from sqlalchemy import func, insert, select
from sqlalchemy.exc import SQLAlchemyError

from services.auth import Principal, Role, require_role
from services.database import Database
from services.db_tables import audit_events, utc
from services.errors import BacktestError, BadRequest, Conflict, Forbidden, NotFound, trim

log = logging.getLogger(__name__)

REASON_MAX_CHARS = 300
CLIENT_MAX_CHARS = 64
NOBODY = "(not signed in)"
HISTORY_ROWS = 50  # a sweep's detail panel shows its newest actions
MAX_PAGE_SIZE = 500
EXPORT_MAX_ROWS = 100_000
CSV_COLUMNS = ("at", "user", "client", "action", "sweep", "run_id", "outcome", "reason")


class AuditAction(StrEnum):
    SAVE = "save"
    DEPLOY = "deploy"
    TRIGGER = "trigger"
    RETRY = "retry"
    CANCEL = "cancel"
    KIOSK_CREATE = "kiosk-link-create"
    KIOSK_REVOKE = "kiosk-link-revoke"


class Outcome(StrEnum):
    """ok: done; refused: not allowed or not possible as asked (role, owner, stale form); failed: tried,
    and a backend failed."""

    OK = "ok"
    REFUSED = "refused"
    FAILED = "failed"


# What the user got wrong or may not do; any other error is a failure of the backends.
REFUSALS = (Forbidden, Conflict, BadRequest, NotFound)


class AuditEvent(BaseModel):
    at: datetime
    actor: str
    client: str = ""
    action: AuditAction
    sweep: str = ""
    run_id: str = ""
    outcome: Outcome
    reason: str = ""


class AuditQuery(BaseModel):
    """The audit page's filters (each optional; dates are UTC days, both ends included) and page."""

    actor: str | None = None
    sweep: str | None = None
    action: AuditAction | None = None
    outcome: Outcome | None = None
    since: date | None = None
    until: date | None = None
    page: int = Field(1, ge=1)
    page_size: int = Field(50, ge=1, le=MAX_PAGE_SIZE)


class AuditPage(BaseModel):
    events: list[AuditEvent]
    total: int
    page: int
    page_size: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.page_size))


def _where(query: AuditQuery) -> list:
    table = audit_events.c
    conditions = []
    if query.actor:
        conditions.append(table.actor == query.actor.strip())
    if query.sweep:
        conditions.append(table.sweep == query.sweep.strip())
    if query.action is not None:
        conditions.append(table.action == query.action.value)
    if query.outcome is not None:
        conditions.append(table.outcome == query.outcome.value)
    if query.since is not None:
        conditions.append(table.at >= datetime.combine(query.since, time.min, UTC))
    if query.until is not None:
        conditions.append(table.at < datetime.combine(query.until + timedelta(days=1), time.min, UTC))
    return conditions


def _event(row) -> AuditEvent:
    return AuditEvent(
        at=utc(row.at),
        actor=row.actor,
        client=row.client,
        action=row.action,
        sweep=row.sweep,
        run_id=row.run_id,
        outcome=row.outcome,
        reason=row.reason,
    )


class SqlAuditTrail:
    """`AuditTrail` in the app's database (table `audit_events`, insert only)."""

    def __init__(self, database: Database) -> None:
        self._database = database

    def record(self, event: AuditEvent) -> None:
        """Add one event (INSERT). A database that does not answer is logged, never hides the action's
        own outcome from the user."""
        values = event.model_dump()
        values.update(action=event.action.value, outcome=event.outcome.value, at=event.at.astimezone(UTC))
        try:
            with self._database.engine.begin() as connection:
                connection.execute(insert(audit_events).values(**values))
        except (SQLAlchemyError, BacktestError) as exc:
            log.error("audit event not recorded (%s %s %s): %s", event.actor, event.action, event.sweep, exc)

    def history(self, sweep: str, limit: int = HISTORY_ROWS) -> list[AuditEvent]:
        """The sweep's newest events, newest first (the Sweeps page's detail panel)."""
        statement = (
            select(audit_events)
            .where(audit_events.c.sweep == sweep)
            .order_by(audit_events.c.at.desc(), audit_events.c.id.desc())
            .limit(limit)
        )
        with self._database.engine.connect() as connection:
            return [_event(row) for row in connection.execute(statement)]

    def search(self, principal: Principal | None, query: AuditQuery) -> AuditPage:
        """One page of the events matching `query`, newest first; admins only (Forbidden otherwise)."""
        require_role(principal, Role.ADMIN, "read the audit trail")
        conditions = _where(query)
        count = select(func.count()).select_from(audit_events).where(*conditions)
        rows = (
            select(audit_events)
            .where(*conditions)
            .order_by(audit_events.c.at.desc(), audit_events.c.id.desc())
            .offset((query.page - 1) * query.page_size)
            .limit(query.page_size)
        )
        with self._database.engine.connect() as connection:
            total = connection.execute(count).scalar_one()
            events = [_event(row) for row in connection.execute(rows)]
        return AuditPage(events=events, total=total, page=query.page, page_size=query.page_size)

    def export_csv(self, principal: Principal | None, query: AuditQuery) -> str:
        """Every event matching `query` (at most EXPORT_MAX_ROWS, newest first) as CSV; admins only."""
        require_role(principal, Role.ADMIN, "export the audit trail")
        statement = (
            select(audit_events)
            .where(*_where(query))
            .order_by(audit_events.c.at.desc(), audit_events.c.id.desc())
            .limit(EXPORT_MAX_ROWS)
        )
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(CSV_COLUMNS)
        with self._database.engine.connect() as connection:
            for row in connection.execute(statement):
                event = _event(row)
                writer.writerow(
                    [
                        event.at.isoformat(),
                        *(_cell(value) for value in (event.actor, event.client, event.action)),
                        *(_cell(value) for value in (event.sweep, event.run_id, event.outcome, event.reason)),
                    ]
                )
        return out.getvalue()


def _cell(value: str) -> str:
    """A CSV cell a spreadsheet will not run as a formula (user text may start with = + - @)."""
    text = str(value)
    return f"'{text}" if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


class AuditRecorder(Protocol):
    """What `audited` needs of a trail (services.ports.AuditTrail is the whole port)."""

    def record(self, event: AuditEvent) -> None: ...


@dataclass
class AuditEntry:
    """What a use case adds while it runs: the run it made, or why it failed without raising."""

    run_id: str = ""
    failure: str = ""


def outcome_of(exc: BaseException) -> tuple[Outcome, str]:
    """The outcome and short, redacted reason of an action that raised `exc`."""
    if isinstance(exc, BacktestError):
        outcome = Outcome.REFUSED if isinstance(exc, REFUSALS) else Outcome.FAILED
        return outcome, trim(exc.message, REASON_MAX_CHARS)
    return Outcome.FAILED, "internal error"  # nothing of an unexpected error's text is kept


@contextmanager
def audited(
    trail: AuditRecorder, principal: Principal | None, action: AuditAction, sweep: str = "", run_id: str = ""
) -> Iterator[AuditEntry]:
    """Record `action` once it ended: ok, refused or failed (with the reason), then let errors go on."""
    entry = AuditEntry(run_id=run_id)

    def write(outcome: Outcome, reason: str) -> None:
        trail.record(
            AuditEvent(
                at=datetime.now(UTC),
                actor=principal.name if principal is not None else NOBODY,
                client=(principal.client if principal is not None else "")[:CLIENT_MAX_CHARS],
                action=action,
                sweep=sweep,
                run_id=entry.run_id,
                outcome=outcome,
                reason=reason,
            )
        )

    try:
        yield entry
    except BaseException as exc:
        write(*outcome_of(exc))
        raise
    if entry.failure:
        write(Outcome.FAILED, trim(entry.failure, REASON_MAX_CHARS))
    else:
        write(Outcome.OK, "")
