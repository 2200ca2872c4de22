"""Durable record files: atomic writes that keep the previous version, and what their faults mean."""

from __future__ import annotations

import errno
import os
from datetime import UTC, datetime
from pathlib import Path

from pydantic import BaseModel, ValidationError

from airflow_backtest_framework.results_backends import write_atomically
from services.errors import BacktestError, Conflict, StorageError
from services.models import NEW_SWEEP

PREVIOUS_SUFFIX = ".prev"  # `<name>.json.prev`: the version a record had before its last write
ERROR_MAX_CHARS = 160  # a parse error is named, not quoted whole
TEMP_PREFIX = ".tmp-record-"  # hidden partial writes; listings never show them
# errno values that mean "no room": a full disk, a full quota, a file-size limit (RLIMIT_FSIZE).
NO_SPACE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})


class DiskFull(StorageError):
    """A write refused for lack of space; nothing was changed."""


class SaveConflict(Conflict):
    """A save from a version older than the stored one (someone else saved since the form loaded it)."""


class DamagedRecordError(BacktestError):
    """A record file that cannot be read; it can be restored from its previous version, or deleted."""


class DamagedRecord(BaseModel):
    """A saved sweep whose file cannot be read: its name, why, and whether a previous version exists."""

    name: str
    error: str
    has_previous: bool
    modified_at: datetime | None = None


def previous_path(path: Path) -> Path:
    return path.with_name(path.name + PREVIOUS_SUFFIX)


def no_space(exc: OSError) -> bool:
    return exc.errno in NO_SPACE_ERRNOS


def disk_full(folder: Path) -> DiskFull:
    return DiskFull(f"The disk holding {folder} is full: nothing was saved; free space and save again.")


def write_keeping_previous(path: Path, data: bytes) -> None:
    """Write `data` at `path` atomically (fsynced, temp removed on failure), first keeping the current
    file as `<path>.prev`. The previous version is kept by a hard link (no copy, so no space needed),
    renamed into place: at every moment the record and its previous version are whole files.

    Raises DiskFull when the disk (or a quota, or a file-size limit) has no room; the record is then
    unchanged. Other OSErrors go up unchanged.
    """
    try:
        if path.exists():
            link = path.with_name(f"{TEMP_PREFIX}{path.name}{PREVIOUS_SUFFIX}")
            link.unlink(missing_ok=True)
            os.link(path, link)
            os.replace(link, previous_path(path))
        write_atomically(path, data, temp_prefix=TEMP_PREFIX)
    except OSError as exc:
        if no_space(exc):
            raise disk_full(path.parent) from None
        raise


def damaged(path: Path, name: str, error: str) -> DamagedRecord:
    try:
        modified = datetime.fromtimestamp(path.stat().st_mtime, UTC)
    except OSError:
        modified = None
    return DamagedRecord(
        name=name, error=error, has_previous=previous_path(path).is_file(), modified_at=modified
    )


def damaged_message(record: DamagedRecord) -> str:
    """What a page says about a damaged record, and what to do about it."""
    fix = "restore its previous version or delete it" if record.has_previous else "delete it"
    return (
        f"The saved record of {record.name} is damaged ({record.error}): on the Sweeps page, {fix}; "
        "then its name can be saved again."
    )


def when_text(moment: datetime, now: datetime | None = None) -> str:
    """`10:42` today, `3 Dec 10:42` another day, in the server's local time."""
    local = moment.astimezone()
    today = (now or datetime.now(UTC)).astimezone().date()
    return local.strftime("%H:%M") if local.date() == today else local.strftime("%-d %b %H:%M")


def short_error(exc: Exception) -> str:
    """A record's read error in one short line: the first field pydantic refused, or the OS error."""
    if isinstance(exc, ValidationError):
        first = exc.errors()[0] if exc.errors() else {}
        text = str(first.get("msg", "")) or "not a valid record"
        where = ".".join(str(part) for part in first.get("loc", ()))
        text = f"{where}: {text}" if where else text
    else:
        text = getattr(exc, "strerror", None) or str(exc)
    return text[:ERROR_MAX_CHARS]


def check_version(name: str, stored: int | None, who: str, when: datetime, expected: int | None) -> None:
    """SaveConflict naming who saved since, unless the stored version (None: no record) is `expected`
    (NEW_SWEEP: the name must be free; None: no check)."""
    if expected is None or stored is None or stored == expected:
        return
    who = who or "someone"
    if expected == NEW_SWEEP:
        raise SaveConflict(
            f"A sweep named {name} already exists (saved by {who} at {when_text(when)}): nothing was saved. "
            "Clone it to change it, or save under another name."
        )
    raise SaveConflict(
        f"{name} was changed by {who} at {when_text(when)} since you opened it: nothing was saved. "
        "Reload it (clone it into the form), or save under another name."
    )
