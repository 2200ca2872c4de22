"""The sweep registry: saved sweeps as JSON files in the app's data folder, shared by all workers."""

from __future__ import annotations

import fcntl
import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from pydantic import ValidationError

from airflow_backtest_framework.config import CONTEXT_MAX_GRID_POINTS, SweepConfig
from airflow_backtest_framework.names import SweepNameError, validate_sweep_name
from services.errors import BadRequest, NotFound
from services.models import SweepRecord

RECORD_SUFFIX = ".json"


def _now() -> datetime:
    return datetime.now(UTC)


class SweepRegistry:
    """Saved sweeps, one JSON file each under `<folder>/sweeps/`; writes are atomic (temp + rename)."""

    def __init__(self, folder: Path, max_grid_points: int | None = None) -> None:
        self._folder = folder / "sweeps"
        self._context = {CONTEXT_MAX_GRID_POINTS: max_grid_points}

    @contextmanager
    def _lock(self) -> Iterator[None]:
        """An exclusive file lock: several app workers may update the same record."""
        self._folder.mkdir(parents=True, exist_ok=True)
        with open(self._folder / ".lock", "w") as handle:
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
        fd, tmp = tempfile.mkstemp(dir=self._folder, prefix=".tmp-")
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(record.model_dump_json(indent=1))
        os.replace(tmp, self._path(record.name))

    def get(self, name: str) -> SweepRecord:
        """The record of a saved sweep; NotFound when there is none."""
        path = self._path(name)
        try:
            text = path.read_text(encoding="utf-8")
        except (FileNotFoundError, OSError):
            raise NotFound(f"no saved sweep named '{name}'") from None
        return SweepRecord.model_validate_json(text, context=self._context)

    def find(self, name: str) -> SweepRecord | None:
        try:
            return self.get(name)
        except NotFound:
            return None

    def list(self) -> list[SweepRecord]:
        """Every readable record, newest change first (an unreadable file is skipped, not fatal)."""
        records = []
        for path in sorted(self._folder.glob(f"*{RECORD_SUFFIX}")) if self._folder.is_dir() else []:
            try:
                records.append(
                    SweepRecord.model_validate_json(path.read_text("utf-8"), context=self._context)
                )
            except (OSError, ValidationError, json.JSONDecodeError):
                continue
        return sorted(records, key=lambda r: r.updated_at, reverse=True)

    def save(self, config: SweepConfig) -> SweepRecord:
        """Save (or update) a sweep's spec, keeping its deployment and run history."""
        with self._lock():
            existing = self.find(config.name)
            now = _now()
            if existing is None:
                record = SweepRecord.model_validate(
                    {"config": config, "created_at": now, "updated_at": now}, context=self._context
                )
            else:
                record = existing.model_copy(update={"config": config, "updated_at": now})
            self._write(record)
            return record

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
        path = self._path(name)
        with self._lock():
            path.unlink(missing_ok=True)
