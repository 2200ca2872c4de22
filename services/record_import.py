"""The one-time import of an install's JSON sweep records (`<APP_DATA_DIR>/sweeps/`) into the database."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from pathlib import Path

from pydantic import ValidationError
from sqlalchemy import Engine, insert, select
from sqlalchemy.exc import IntegrityError

from airflow_backtest_framework.config import CONTEXT_MAX_GRID_POINTS
from services.db_tables import app_meta, kiosk_links, sweeps
from services.kiosk import FILE_NAME as KIOSK_FILE_NAME
from services.kiosk import link_row, read_links_file
from services.models import FIRST_VERSION, SweepRecord
from services.records import previous_path
from services.registry import RECORD_SUFFIX, SweepRegistry
from services.sql_registry import derived_columns

log = logging.getLogger(__name__)

IMPORT_KEY = "json_records_import"
KIOSK_IMPORT_KEY = "kiosk_links_import"


def _read(path: Path) -> str | None:
    try:
        return path.read_text("utf-8")
    except (OSError, UnicodeDecodeError):
        return None


def _row(name: str, path: Path, context: dict) -> dict[str, object]:
    """The record file as a row, kept byte for byte (a damaged one stays damaged, restorable as before)."""
    text = _read(path) or ""
    previous = _read(previous_path(path))
    derived: dict[str, str | None] = {"summary": None, "record_sha": None}  # a damaged one: none
    try:
        record = SweepRecord.model_validate_json(text, context=context)
        version, when, by, owner = record.version, record.updated_at, record.updated_by, record.config.owner
        derived = derived_columns(record, text)
    except ValidationError:
        version, by, owner = FIRST_VERSION, "", ""
        when = datetime.fromtimestamp(path.stat().st_mtime, UTC) if path.exists() else datetime.now(UTC)
    return {
        "name": name,
        "owner": owner,
        "version": version,
        "revision": 1,
        "updated_at": when.astimezone(UTC),
        "updated_by": by,
        "record": text,
        "previous": previous,
        **derived,
    }


def imported(engine: Engine) -> dict | None:
    """What the import recorded (`count`, `folder`, `at`), or None when none ran."""
    with engine.connect() as connection:
        row = connection.execute(select(app_meta).where(app_meta.c.key == IMPORT_KEY)).first()
    return None if row is None else {**json.loads(row.value), "at": row.at}


def import_json_records(engine: Engine, app_data_dir: Path, max_grid_points: int | None = None) -> int | None:
    """Copy every sweep record file (readable or damaged, with its previous version) into the database,
    once: the import is recorded in the same transaction, so a second start (or a second host starting
    at the same moment) imports nothing. The files are left in place. The number imported; None when
    an import had already run."""
    folder = app_data_dir / "sweeps"
    names = sorted(SweepRegistry(app_data_dir).names())
    context = {CONTEXT_MAX_GRID_POINTS: max_grid_points}
    marker = {"count": len(names), "folder": str(folder)}
    try:
        with engine.begin() as connection:
            connection.execute(
                insert(app_meta).values(key=IMPORT_KEY, value=json.dumps(marker), at=datetime.now(UTC))
            )
            taken = set(connection.execute(select(sweeps.c.name)).scalars())
            paths = {name: folder / f"{name}{RECORD_SUFFIX}" for name in names if name not in taken}
            rows = [_row(name, path, context) for name, path in paths.items()]
            if rows:
                connection.execute(insert(sweeps), rows)
    except IntegrityError:  # recorded already (by an earlier start or another host)
        return None
    if names:
        log.info("imported %d sweep records from %s into the database", len(names), folder)
    return len(names)


def import_kiosk_links(engine: Engine, app_data_dir: Path) -> int | None:
    """Copy the links of `APP_DATA_DIR/kiosk-links.json` into the database, once (recorded like the
    records' import; the file is left in place). The number imported; None when it had run already."""
    links = read_links_file(app_data_dir)
    marker = {"count": len(links), "file": str(app_data_dir / KIOSK_FILE_NAME)}
    try:
        with engine.begin() as connection:
            connection.execute(
                insert(app_meta).values(key=KIOSK_IMPORT_KEY, value=json.dumps(marker), at=datetime.now(UTC))
            )
            taken = set(connection.execute(select(kiosk_links.c.token)).scalars())
            rows = [link_row(link) for link in links if link.token not in taken]
            if rows:
                connection.execute(insert(kiosk_links), rows)
    except IntegrityError:
        return None
    if links:
        log.info("imported %d kiosk links from %s into the database", len(links), marker["file"])
    return len(links)
