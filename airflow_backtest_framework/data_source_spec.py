"""The sweep's market-data source: which one the spec chooses, and what the engine then reads.

A spec names its source (`data_source`): `sample` (real daily OHLC bundled by bokeh-sampledata),
`database` (the PostgreSQL database at the engine's DB_HOST), `folder` (one file per symbol in
`data_folder`) or `synthetic` (a simulated market: plumbing and load tests, "not evidence"). A spec
saved before the field existed has none (None): the engine then reads the deployment's default, the
`BACKTEST_DATA_SOURCE` variable (synthetic when unset), exactly as such sweeps always ran.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import PurePosixPath
from typing import Any

DATA_SAMPLE = "sample"
DATA_DATABASE = "database"
DATA_FOLDER = "folder"
DATA_SYNTHETIC = "synthetic"
DATA_SOURCES = (DATA_SAMPLE, DATA_DATABASE, DATA_FOLDER, DATA_SYNTHETIC)
DATA_SOURCE_LABELS = {
    DATA_SAMPLE: "Bundled sample (real prices, 2000–2013)",
    DATA_DATABASE: "Market-data database (DB_HOST)",
    DATA_FOLDER: "Folder of CSV/Parquet files",
    DATA_SYNTHETIC: "Synthetic (simulated, not evidence)",
}
MAX_FOLDER_CHARS = 1_000
# Fields left out of the spec's JSON at their "not set" value, so specs saved before they existed
# keep their JSON and hash.
UNSET_WHEN_EMPTY = ("data_source", "data_folder")


def check_data_source(value: str | None) -> str | None:
    """One of DATA_SOURCES (case-insensitive), or None for the deployment's default."""
    if value is None:
        return None
    chosen = value.strip().lower()
    if chosen not in DATA_SOURCES:
        raise ValueError(f"unknown data source '{value[:40]}'; choose one of: {', '.join(DATA_SOURCES)}")
    return chosen


def check_data_folder(value: str, source: str | None) -> str:
    """The folder of a `folder` source: an absolute path the engine can read; empty otherwise."""
    if len(value) > MAX_FOLDER_CHARS:
        raise ValueError(f"at most {MAX_FOLDER_CHARS:,} characters (got {len(value):,})")
    if source != DATA_FOLDER:
        if value:
            raise ValueError("is used only with the data source 'folder': clear it or choose 'folder'")
        return value
    if not value:
        raise ValueError("required with the data source 'folder': the absolute path of the data folder")
    if not PurePosixPath(value).is_absolute() or "\x00" in value:
        raise ValueError(f"'{value[:60]}' is not an absolute path; use e.g. /data/daily_bars")
    return value


def check_data_field(field: str, value: Any, fields: Mapping[str, Any]) -> Any:
    """Check `data_source` or `data_folder` (given the spec's other `fields`); ValueError says why."""
    if field == "data_source":
        return check_data_source(value)
    return check_data_folder(value, fields.get("data_source"))


def compatible_dump(dump: dict[str, Any], defaults: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The spec's JSON fields without the ones still at their "not set" value (see UNSET_WHEN_EMPTY)
    and without those equal to their entry in `defaults` (fields added after specs were saved)."""
    defaults = defaults or {}
    return {
        key: value
        for key, value in dump.items()
        if (key not in UNSET_WHEN_EMPTY or value) and (key not in defaults or value != defaults[key])
    }


def engine_source(data_source: str | None, data_folder: str, deployment_default: str | None) -> str:
    """What the engine loads: `synthetic`, `sample`, `database` or a folder's path.

    The spec's choice wins; a spec without one reads the deployment's default (BACKTEST_DATA_SOURCE,
    itself one of those words or a folder's path), and synthetic when that is unset too.
    """
    if data_source is None:
        default = (deployment_default or "").strip()
        return default or DATA_SYNTHETIC
    return data_folder if data_source == DATA_FOLDER else data_source
