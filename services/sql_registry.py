"""The sweep registry in the database (SQLAlchemy): one row per saved sweep, shared by every app host."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime

from pydantic import ValidationError
from sqlalchemy import bindparam, delete, insert, select, update
from sqlalchemy.engine import Connection, Row
from sqlalchemy.exc import IntegrityError, OperationalError

from airflow_backtest_framework.config import CONTEXT_MAX_GRID_POINTS, SweepConfig
from airflow_backtest_framework.names import SweepNameError, validate_sweep_name
from services.database import Database, unavailable
from services.db_tables import sweeps, utc
from services.errors import BadRequest, NotFound
from services.models import SweepRecord, SweepSummary
from services.records import (
    DamagedRecord,
    DamagedRecordError,
    SaveConflict,
    check_version,
    damaged_message,
    short_error,
)
from services.storage import sha256_hex

log = logging.getLogger(__name__)

# A write that lost its race re-reads and tries again (deploys and runs never conflict with each other).
WRITE_ATTEMPTS = 5
PARSED_CACHE_ROWS = 50_000  # records kept parsed per process (a few KB each)


def _now() -> datetime:
    return datetime.now(UTC)


def derived_columns(record: SweepRecord, text: str) -> dict[str, str]:
    """The columns kept beside a record's text: its summary and checksum."""
    return {"summary": SweepSummary.of(record).model_dump_json(), "record_sha": sha256_hex(text.encode())}


def _keyed(row: Row, values: dict[str, object]) -> dict[str, object]:
    """`values` for `_set_derived`, for this row at the revision it was read."""
    return {"row_name": row.name, "row_revision": row.revision, **values}


class _Lost(Exception):
    """The row changed between our read and our write: read again."""


class SqlSweepRegistry:
    """`SweepStore` in the app's database (SQLite or PostgreSQL), the same contract as the JSON registry.

    Each row holds the record's JSON, its previous version (for restore) and two counters: `version`
    (the spec's saves, what forms edit) and `revision` (every write). Every write is
    `UPDATE ... WHERE revision = <read>` in one transaction: a write that lost the race re-reads, so a
    stale save becomes a SaveConflict and a deploy or run is never lost, across any number of hosts.
    Names are unique by a constraint: two first saves of one name give one success and one SaveConflict.
    """

    def __init__(self, database: Database, max_grid_points: int | None = None) -> None:
        self._database = database
        self._context = {CONTEXT_MAX_GRID_POINTS: max_grid_points}
        self._parsed: dict[str, SweepRecord] = {}  # by the record's sha256: what this process parsed
        self._summaries: dict[str, SweepSummary] = {}  # the same for summaries (a sha names one record)

    @staticmethod
    def _valid_name(name: str) -> str:
        try:
            return validate_sweep_name(name)
        except SweepNameError as exc:
            raise BadRequest(str(exc)) from None

    def _parse(self, name: str, text: str) -> SweepRecord:
        return SweepRecord.model_validate_json(text, context=self._context)

    def _row(self, connection: Connection, name: str) -> Row | None:
        return connection.execute(select(sweeps).where(sweeps.c.name == name)).first()

    def _record_of(self, row: Row) -> SweepRecord:
        try:
            return self._parse(row.name, row.record)
        except ValidationError as exc:
            broken = self._damaged(row, short_error(exc))
            log.warning("sweep record %s is damaged: %s", row.name, broken.error)
            raise DamagedRecordError(damaged_message(broken)) from None

    @staticmethod
    def _damaged(row: Row, error: str) -> DamagedRecord:
        return DamagedRecord(
            name=row.name, error=error, has_previous=row.previous is not None, modified_at=utc(row.updated_at)
        )

    def _read(self, action: Callable[[Connection], object]):
        try:
            with self._database.engine.connect() as connection:
                return action(connection)
        except OperationalError as exc:
            raise unavailable(self._database.engine, exc) from None

    def get(self, name: str) -> SweepRecord:
        """The record of a saved sweep; NotFound when there is none, DamagedRecordError when unreadable."""
        self._valid_name(name)
        row = self._read(lambda connection: self._row(connection, name))
        if row is None:
            raise NotFound(f"no saved sweep named '{name}'")
        try:
            return self._record_of(row)
        except DamagedRecordError:
            self._mark_damaged(row)  # the listings show it as damaged from now on
            raise

    def find(self, name: str) -> SweepRecord | None:
        try:
            return self.get(name)
        except NotFound:
            return None

    # A row's `summary` is what listings read. It is None for a row whose record the app has not read
    # yet (imported damaged, migrated) or found unreadable (changed outside the app): such rows are read
    # whole by `_settle`, and either get their summary back or are listed as damaged.

    def _settle(self) -> list[DamagedRecord]:
        """Read the rows without a summary: keep the summary of each readable one, return the others."""
        columns = (sweeps.c.name, sweeps.c.revision, sweeps.c.record, sweeps.c.previous, sweeps.c.updated_at)
        query = select(*columns).where(sweeps.c.summary.is_(None)).order_by(sweeps.c.name)
        rows = self._read(lambda connection: connection.execute(query).all())
        broken: list[DamagedRecord] = []
        filled: list[dict[str, object]] = []
        for row in rows:
            try:
                record = self._parse(row.name, row.record)
            except ValidationError as exc:
                broken.append(self._damaged(row, short_error(exc)))
                continue
            filled.append(
                {"row_name": row.name, "row_revision": row.revision, **derived_columns(record, row.record)}
            )
        self._set_derived(filled)
        return broken

    def _set_derived(self, rows: list[dict[str, object]]) -> None:
        """Set (or clear: None) rows' summary and checksum in one transaction; no new revision, since the
        record did not change; a row written meanwhile is left as its writer made it."""
        if not rows:
            return
        statement = (
            update(sweeps)
            .where(sweeps.c.name == bindparam("row_name"), sweeps.c.revision == bindparam("row_revision"))
            .values(summary=bindparam("summary"), record_sha=bindparam("record_sha"))
        )
        try:
            with self._database.engine.begin() as connection:
                connection.execute(statement, rows)
        except OperationalError as exc:  # listings still work; the next one tries again
            log.info("%d sweep summaries not kept: %s", len(rows), exc)

    def _mark_damaged(self, row: Row) -> None:
        self._set_derived(
            [{"row_name": row.name, "row_revision": row.revision, "summary": None, "record_sha": None}]
        )

    def list(self) -> list[SweepRecord]:
        """Every readable record, newest change first (each record parsed once per process)."""
        self._settle()
        columns = (sweeps.c.name, sweeps.c.revision, sweeps.c.record, sweeps.c.record_sha, sweeps.c.previous)
        query = select(*columns, sweeps.c.updated_at).where(sweeps.c.summary.is_not(None))
        records = []
        for row in self._read(lambda connection: connection.execute(query).all()):
            key = sha256_hex(row.record.encode())
            record = self._parsed.get(key)
            if record is None:
                try:
                    record = self._parse(row.name, row.record)
                except ValidationError as exc:  # changed outside the app: listed as damaged from now on
                    log.warning("sweep record %s is damaged: %s", row.name, short_error(exc))
                    self._mark_damaged(row)
                    continue
                self._remember(key, record)
            records.append(record)
        return sorted(records, key=lambda r: r.updated_at, reverse=True)

    def _remember(self, key: str, record: SweepRecord) -> None:
        if len(self._parsed) >= PARSED_CACHE_ROWS:
            self._parsed.pop(next(iter(self._parsed)))
        self._parsed[key] = record

    def summaries(self) -> list[SweepSummary]:
        """What the Sweeps grid lists of every readable sweep, newest change first; no spec is parsed, and
        no summary this process parsed before."""
        self._settle()
        settled = sweeps.c.summary.is_not(None)
        known = self._summaries
        shas = self._read(
            lambda connection: connection.execute(select(sweeps.c.record_sha).where(settled)).all()
        )
        if all(sha in known for (sha,) in shas):  # nothing new since the last listing: read no summary
            fresh = {sha: known[sha] for (sha,) in shas}
        else:
            query = select(sweeps.c.record_sha, sweeps.c.summary).where(settled)
            rows = self._read(lambda connection: connection.execute(query).all())
            fresh = {sha: known.get(sha) or SweepSummary.model_validate_json(text) for sha, text in rows}
        self._summaries = fresh  # only the current ones are kept
        return sorted(fresh.values(), key=lambda summary: summary.updated_at, reverse=True)

    def names(self) -> set[str]:
        """Every saved name, readable or damaged (no record is parsed)."""
        rows = self._read(lambda connection: connection.execute(select(sweeps.c.name)).scalars().all())
        return set(rows)

    def damaged(self) -> list[DamagedRecord]:
        """The rows whose record cannot be read (found so by a read, an import or a listing)."""
        return self._settle()

    def _write(self, name: str, change: Callable[[SweepRecord | None], SweepRecord]) -> SweepRecord:
        """Read the row, compute the new record with `change`, write it only if nobody wrote since."""
        for _attempt in range(WRITE_ATTEMPTS):
            try:
                with self._database.engine.begin() as connection:
                    return self._write_once(connection, name, change)
            except _Lost:
                continue
            except OperationalError as exc:
                raise unavailable(self._database.engine, exc) from None
        raise SaveConflict(f"{name} is being changed by someone else now: nothing was saved; save again.")

    def _write_once(
        self, connection: Connection, name: str, change: Callable[[SweepRecord | None], SweepRecord]
    ) -> SweepRecord:
        row = self._row(connection, name)
        record = change(None if row is None else self._record_of(row))
        text = record.model_dump_json()
        values = {
            "owner": record.config.owner,
            "version": record.version,
            "updated_at": record.updated_at.astimezone(UTC),
            "updated_by": record.updated_by,
            "record": text,
            **derived_columns(record, text),
        }
        if row is None:
            try:
                connection.execute(insert(sweeps).values(name=name, revision=1, **values))
            except IntegrityError:  # the same name saved by another host meanwhile
                raise _Lost() from None
            return record
        statement = (
            update(sweeps)
            .where(sweeps.c.name == name, sweeps.c.revision == row.revision)
            .values(revision=row.revision + 1, previous=row.record, **values)
        )
        if connection.execute(statement).rowcount != 1:
            raise _Lost()
        return record

    def save(
        self, config: SweepConfig, *, expected_version: int | None = None, by: str | None = None
    ) -> SweepRecord:
        """Save (or update) a sweep's spec if the stored version is still `expected_version` (NEW_SWEEP:
        the name must be free; None: unchecked); SaveConflict naming who saved since, nothing changed."""
        name = self._valid_name(config.name)
        author = by if by is not None else config.owner

        def change(existing: SweepRecord | None) -> SweepRecord:
            now = _now()
            if existing is None:
                fields = {"config": config, "created_at": now, "updated_at": now, "updated_by": author}
                return SweepRecord.model_validate(fields, context=self._context)
            check_version(name, existing.version, existing.updated_by, existing.updated_at, expected_version)
            version = existing.version + 1
            return existing.model_copy(
                update={"config": config, "updated_at": now, "updated_by": author, "version": version}
            )

        return self._write(name, change)

    def _existing(self, name: str) -> Callable[[SweepRecord | None], SweepRecord]:
        def need(existing: SweepRecord | None) -> SweepRecord:
            if existing is None:
                raise NotFound(f"no saved sweep named '{name}'")
            return existing

        return need

    def record_deploy(self, name: str, spec_hash: str) -> SweepRecord:
        need = self._existing(self._valid_name(name))
        return self._write(
            name,
            lambda e: need(e).model_copy(update={"deployed_hash": spec_hash, "deployed_at": _now()}),
        )

    def record_run(self, name: str, run_id: str) -> SweepRecord:
        need = self._existing(self._valid_name(name))

        def change(existing: SweepRecord | None) -> SweepRecord:
            record = need(existing)
            runs = [run_id, *[r for r in record.run_ids if r != run_id]]
            return record.model_copy(update={"run_ids": runs, "updated_at": _now()})

        return self._write(name, change)

    def delete(self, name: str) -> None:
        """Remove the record and its previous version."""
        self._valid_name(name)
        try:
            with self._database.engine.begin() as connection:
                connection.execute(delete(sweeps).where(sweeps.c.name == name))
        except OperationalError as exc:
            raise unavailable(self._database.engine, exc) from None

    def restore_previous(self, name: str) -> SweepRecord:
        """Put the previous version of a record back (it stays kept as the previous version too).

        NotFound when there is no previous version; DamagedRecordError when it is unreadable too."""
        self._valid_name(name)
        try:
            with self._database.engine.begin() as connection:
                row = self._row(connection, name)
                if row is None or row.previous is None:
                    raise NotFound(f"{name} has no previous version to restore: delete it instead")
                try:
                    record = self._parse(name, row.previous)
                except ValidationError as exc:
                    broken = DamagedRecord(name=name, error=short_error(exc), has_previous=False)
                    raise DamagedRecordError(damaged_message(broken)) from None
                connection.execute(
                    update(sweeps)
                    .where(sweeps.c.name == name)
                    .values(
                        record=row.previous,
                        revision=row.revision + 1,
                        version=record.version,
                        owner=record.config.owner,
                        updated_by=record.updated_by,
                        updated_at=record.updated_at.astimezone(UTC),
                        **derived_columns(record, row.previous),
                    )
                )
        except OperationalError as exc:
            raise unavailable(self._database.engine, exc) from None
        log.info("sweep record %s restored from its previous version %s", name, record.version)
        return record
