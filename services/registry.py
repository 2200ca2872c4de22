"""The sweep registry: saved sweeps as JSON files in the app's data folder, shared by all workers."""

from __future__ import annotations

import fcntl
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from pydantic import ValidationError

from airflow_backtest_framework.config import CONTEXT_MAX_GRID_POINTS, SweepConfig
from airflow_backtest_framework.names import SweepNameError, validate_sweep_name
from airflow_backtest_framework.results_backends import write_atomically
from services.errors import BadRequest, NotFound
from services.models import SweepRecord, SweepSummary
from services.records import (
    TEMP_PREFIX,
    DamagedRecord,
    DamagedRecordError,
    check_version,
    damaged,
    damaged_message,
    disk_full,
    no_space,
    previous_path,
    short_error,
    write_keeping_previous,
)

log = logging.getLogger(__name__)

RECORD_SUFFIX = ".json"


def _now() -> datetime:
    return datetime.now(UTC)


class SweepRegistry:
    """Saved sweeps, one JSON file each under `<folder>/sweeps/`.

    Every write is atomic and durable (temp file fsynced, renamed, folder fsynced) and keeps the
    record's previous version as `<name>.json.prev`, so a damaged record can be restored. Saves
    check the version the caller edited (`expected_version`) under the folder's file lock, so two
    sessions saving one sweep get one success and one SaveConflict, in any number of workers.
    """

    def __init__(self, folder: Path, max_grid_points: int | None = None) -> None:
        self._folder = folder / "sweeps"
        self._context = {CONTEXT_MAX_GRID_POINTS: max_grid_points}

    @contextmanager
    def _lock(self) -> Iterator[None]:
        """An exclusive file lock: several app workers may update the same record."""
        try:  # the first write ever creates the folder and the lock file: a full disk says so here
            self._folder.mkdir(parents=True, exist_ok=True)
            handle = open(self._folder / ".lock", "a")  # noqa: SIM115 - closed by the `with` below
        except OSError as exc:
            if no_space(exc):
                raise disk_full(self._folder) from None
            raise
        with handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _path(self, name: str) -> Path:
        """The record's file; BadRequest for a name SweepConfig would refuse (`../x`, `/etc/x`), decided
        by the text alone, so the answer never depends on what exists outside the folder."""
        try:
            validate_sweep_name(name)
        except SweepNameError as exc:
            raise BadRequest(str(exc)) from None
        return self._folder / f"{name}{RECORD_SUFFIX}"

    def _write(self, record: SweepRecord) -> None:
        self._folder.mkdir(parents=True, exist_ok=True)
        write_keeping_previous(self._path(record.name), record.model_dump_json(indent=1).encode())

    def _read(self, path: Path, name: str) -> SweepRecord:
        """The record at `path`; NotFound when absent, DamagedRecordError when unreadable."""
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise NotFound(f"no saved sweep named '{name}'") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise self._damaged_error(path, name, exc) from None
        try:
            return SweepRecord.model_validate_json(text, context=self._context)
        except ValidationError as exc:
            raise self._damaged_error(path, name, exc) from None

    def _damaged_error(self, path: Path, name: str, exc: Exception) -> DamagedRecordError:
        record = damaged(path, name, short_error(exc))
        log.warning("sweep record %s is damaged: %s", path, record.error)
        return DamagedRecordError(damaged_message(record))

    def get(self, name: str) -> SweepRecord:
        """The record of a saved sweep; NotFound when there is none, DamagedRecordError when unreadable."""
        return self._read(self._path(name), name)

    def find(self, name: str) -> SweepRecord | None:
        """The record, or None when there is none (DamagedRecordError when it cannot be read)."""
        try:
            return self.get(name)
        except NotFound:
            return None

    def list(self) -> list[SweepRecord]:
        """Every readable record, newest change first; unreadable ones are in `damaged()` (and logged)."""
        records, _damaged = self._scan()
        return records

    def summaries(self) -> list[SweepSummary]:
        """What the Sweeps grid shows of every readable record, newest change first."""
        return [SweepSummary.of(record) for record in self.list()]

    def names(self) -> set[str]:
        """Every saved name, readable or damaged, from the file names alone (nothing is parsed)."""
        return {path.name.removesuffix(RECORD_SUFFIX) for path in self._record_files()}

    def _record_files(self) -> list[Path]:
        if not self._folder.is_dir():
            return []
        paths = self._folder.glob(f"*{RECORD_SUFFIX}")
        return sorted(path for path in paths if not path.name.startswith(TEMP_PREFIX))

    def damaged(self) -> list[DamagedRecord]:
        """The records whose file cannot be read: each with its error and whether it can be restored."""
        _records, broken = self._scan()
        return broken

    def _scan(self) -> tuple[list[SweepRecord], list[DamagedRecord]]:
        records: list[SweepRecord] = []
        broken: list[DamagedRecord] = []
        for path in self._record_files():
            name = path.name.removesuffix(RECORD_SUFFIX)
            try:
                text = path.read_text("utf-8")
                records.append(SweepRecord.model_validate_json(text, context=self._context))
            except (OSError, UnicodeDecodeError, ValidationError) as exc:
                log.warning("sweep record %s is damaged: %s", path, short_error(exc))
                broken.append(damaged(path, name, short_error(exc)))
        return sorted(records, key=lambda r: r.updated_at, reverse=True), broken

    def save(
        self, config: SweepConfig, *, expected_version: int | None = None, by: str | None = None
    ) -> SweepRecord:
        """Save (or update) a sweep's spec, keeping its deployment and run history; returns the new record.

        `expected_version` is the version the caller edited: NEW_SWEEP (0) for a sweep it did not load
        (the name must be free), the record's `version` for an update; None skips the check (scripts,
        tests). A stale version raises SaveConflict naming who saved since and when; a damaged record
        DamagedRecordError (restore or delete it first); a full disk DiskFull, the record unchanged.
        """
        with self._lock():
            existing = self.find(config.name)
            self._check_version(config.name, existing, expected_version)
            now = _now()
            author = by if by is not None else config.owner
            if existing is None:
                record = SweepRecord.model_validate(
                    {"config": config, "created_at": now, "updated_at": now, "updated_by": author},
                    context=self._context,
                )
            else:
                record = existing.model_copy(
                    update={
                        "config": config,
                        "updated_at": now,
                        "updated_by": author,
                        "version": existing.version + 1,
                    }
                )
            self._write(record)
            return record

    @staticmethod
    def _check_version(name: str, existing: SweepRecord | None, expected: int | None) -> None:
        if existing is not None:
            check_version(name, existing.version, existing.updated_by, existing.updated_at, expected)

    def record_deploy(self, name: str, spec_hash: str) -> SweepRecord:
        with self._lock():
            record = self.get(name).model_copy(update={"deployed_hash": spec_hash, "deployed_at": _now()})
            self._write(record)
            return record

    def record_run(self, name: str, run_id: str) -> SweepRecord:
        with self._lock():
            record = self.get(name)
            runs = [run_id, *[r for r in record.run_ids if r != run_id]]
            record = record.model_copy(update={"run_ids": runs, "updated_at": _now()})
            self._write(record)
            return record

    def delete(self, name: str) -> None:
        """Remove the record and its previous version (a readable or a damaged one)."""
        path = self._path(name)
        with self._lock():
            path.unlink(missing_ok=True)
            previous_path(path).unlink(missing_ok=True)

    def restore_previous(self, name: str) -> SweepRecord:
        """Put the previous version of a record back in its place (the previous version stays kept).

        NotFound when there is no previous version; DamagedRecordError when it is unreadable too.
        """
        path = self._path(name)
        previous = previous_path(path)
        with self._lock():
            try:
                record = self._read(previous, name)
            except NotFound:
                raise NotFound(f"{name} has no previous version to restore: delete it instead") from None
            try:
                write_atomically(path, previous.read_bytes(), temp_prefix=TEMP_PREFIX)
            except OSError as exc:
                if no_space(exc):
                    raise disk_full(path.parent) from None
                raise
            log.info("sweep record %s restored from its previous version %s", name, record.version)
            return record
