"""Preflight of a sweep's market data: every symbol of its universe covered by its source for its period.

The bundled sample is always checked; a folder when the app sees the engine's files (local mode); the
database when the app has its address (DB_HOST); synthetic data always passes, flagged "not evidence".
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import date
from pathlib import Path

from airflow_backtest_framework.config import SweepConfig
from airflow_backtest_framework.data_source_spec import (
    DATA_DATABASE,
    DATA_FOLDER,
    DATA_SAMPLE,
    DATA_SYNTHETIC,
)
from services.checks import failed_check, passed_check, warning_check
from services.models import CheckResult
from services.redaction import redact, remember_secret
from services.settings import Settings

log = logging.getLogger(__name__)

KEY = "data"
LABEL = "Market data covers the universe"
Coverage = Mapping[str, tuple[date, date] | None]
CoverageReader = Callable[[SweepConfig], Coverage]
MAX_NAMED = 40  # symbols named in one message; a longer list ends with "and N more"
FIX_MISSING = (
    "Drop the missing symbols from the universe, move the dates into the ranges shown, or choose "
    "another data source on the Configure page."
)
NOT_EVIDENCE = "synthetic data — not evidence"


def describe_gaps(coverage: Coverage, start: date, end: date, source: str) -> tuple[list[str], list[str]]:
    """(symbols with no data in [start, end], symbols covering only part of it), each with its range."""
    missing, partial = [], []
    for symbol, span in coverage.items():
        if span is None:
            missing.append(f"{symbol} (not in {source})")
        elif span[1] < start or span[0] > end:
            missing.append(f"{symbol} ({source} has {span[0].isoformat()} to {span[1].isoformat()})")
        elif span[0] > start or span[1] < end:
            partial.append(f"{symbol} {span[0].isoformat()} to {span[1].isoformat()}")
    return missing, partial


def _named(items: list[str]) -> str:
    shown = ", ".join(items[:MAX_NAMED])
    return shown if len(items) <= MAX_NAMED else f"{shown} and {len(items) - MAX_NAMED:,} more"


def coverage_check(config: SweepConfig, coverage: Coverage, source: str) -> CheckResult:
    """Fails naming every symbol without data for the sweep's period; warns about partly covered ones."""
    start, end = config.start_date, config.end_date
    period = f"{start.isoformat()} to {end.isoformat()}"
    resource = f"{len(config.universe):,} symbols, {period}, {source}"
    missing, partial = describe_gaps(coverage, start, end, source)
    if missing:
        detail = f"No data for {period}: {_named(missing)}."
        if partial:
            detail += f" Partly covered (traded only inside their range): {_named(partial)}."
        return failed_check(KEY, LABEL, detail, FIX_MISSING, resource=resource)
    if partial:
        detail = f"Partly covered, traded only inside their range: {_named(partial)}."
        return warning_check(KEY, LABEL, detail, "Move the dates if a full period matters.", resource)
    return passed_check(KEY, LABEL, f"Every symbol has data for {period}.", resource=resource)


class DataCoverage:
    """The data preflight of a sweep; `database` reads the database's coverage (None: not configured),
    `sees_folders` says whether the engine's folders are this machine's (local mode)."""

    def __init__(self, *, database: CoverageReader | None, sees_folders: bool) -> None:
        self._database = database
        self._sees_folders = sees_folders

    def check(self, config: SweepConfig) -> CheckResult:
        """One check: what the source covers of the universe and period, or why it could not be checked."""
        source = config.data_source
        if source is None:
            return warning_check(
                KEY,
                LABEL,
                "This sweep chooses no data source: the engine reads the deployment's default "
                f"(BACKTEST_DATA_SOURCE), which is synthetic data unless it was set — {NOT_EVIDENCE}.",
                "Choose a data source on the Configure page.",
            )
        if source == DATA_SYNTHETIC:
            return warning_check(
                KEY, LABEL, f"Synthetic data covers any universe and period: {NOT_EVIDENCE}.", resource=source
            )
        try:
            return self._check_source(config, source)
        except Exception as exc:  # a source that cannot answer must not break the preflight
            log.warning("data coverage of %s not checked: %s", config.name, exc)
            return warning_check(
                KEY,
                LABEL,
                f"Could not check the {source} data: {redact(str(exc).splitlines()[0])[:300]}",
                "The engine will report missing symbols when it runs; check the source's settings.",
                resource=source,
            )

    def _check_source(self, config: SweepConfig, source: str) -> CheckResult:
        if source == DATA_SAMPLE:
            from backtest_engine.sources import sample_coverage

            check = coverage_check(config, sample_coverage(config.universe), "the sample")
            if not config.factors:
                return check
            return failed_check(
                KEY,
                LABEL,
                f"The sample holds prices only, no factor {', '.join(config.factors)}."
                + ("" if check.ok else f" {check.detail}"),
                "Drop the factors, or use a data folder or the database that has them. " + check.fix,
                resource=check.resource,
            )
        if source == DATA_FOLDER:
            if not self._sees_folders:
                return warning_check(
                    KEY,
                    LABEL,
                    f"The folder {config.data_folder} is read where the engine runs (AWS Batch); "
                    "this app cannot check it.",
                    "Make sure the engine's image or volume has one file per symbol there.",
                    resource=config.data_folder,
                )
            from backtest_engine.sources import folder_coverage

            coverage = folder_coverage(Path(config.data_folder), config.universe)
            return coverage_check(config, coverage, config.data_folder)
        if source == DATA_DATABASE and self._database is None:
            return warning_check(
                KEY,
                LABEL,
                "The app has no DB_HOST setting, so it could not check the market-data database.",
                "Set DB_HOST for the app (the same database as the Airflow Variable db_host) to check it.",
                resource=source,
            )
        assert self._database is not None
        return coverage_check(config, self._database(config), "the database")


def database_reader(dsn: str) -> CoverageReader:
    """Coverage from the market-data database at `dsn` (backtest_engine.database, imported when used)."""

    def read(config: SweepConfig) -> Coverage:
        from backtest_engine import database

        return database.database_coverage(dsn, list(config.universe))

    return read


def data_coverage(settings: Settings) -> DataCoverage:
    """The app's data preflight: the database's when DB_HOST is set, folders in local mode only."""
    dsn = settings.db_host.get_secret_value() if settings.db_host else ""
    remember_secret(dsn)  # a DSN may hold a password: never shown in a message
    return DataCoverage(database=database_reader(dsn) if dsn else None, sees_folders=settings.mode == "local")
