"""The engine contract: environment variables in, one JSON result per grid point out, exit code 0/1/2."""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from airflow_backtest_framework.chunking import contiguous_runs
from airflow_backtest_framework.config import SweepConfig, describe_validation_error
from airflow_backtest_framework.data_source_spec import engine_source
from airflow_backtest_framework.engine_contract import (  # the contract shared with the DAGs
    ENV_CHUNK_COUNT,
    ENV_CHUNK_START,
    ENV_DAG_ID,
    ENV_DATA_SOURCE,
    ENV_DB_HOST,
    ENV_FAIL_POINTS,
    ENV_RESULTS_URI,
    ENV_RUN_ID,
    ENV_SPEC,
    ENV_SPEC_URI,
    ENV_STRATEGY,
    points_prefix,
)
from airflow_backtest_framework.parquet_files import ParquetRowGroups
from airflow_backtest_framework.results_backends import open_backend
from airflow_backtest_framework.results_store import ResultsStore
from airflow_backtest_framework.results_uri import parse_results_uri
from backtest_engine.data import DATABASE_SOURCE, DataSourceError, MarketData, load_market_data
from backtest_engine.db_connection import database_dsn, public_db_host
from backtest_engine.engine import ChunkOutcome, PointResult, RunContext, run_chunk
from backtest_engine.progress import ChunkProgress
from backtest_engine.results import S3ClientFactory, StorageError, read_text
from backtest_engine.strategies import STRATEGY_CLASSES

logger = logging.getLogger("backtest_engine")

ENV_LOG_LEVEL = "BACKTEST_LOG_LEVEL"

EXIT_OK = 0
EXIT_POINTS_FAILED = 1
EXIT_BAD_INPUT = 2
PROGRAM = "backtest_engine"
MAX_ID_LENGTH = 250  # Airflow's limit for dag and run ids
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
_HINTS = {
    ENV_STRATEGY: "the sweep's strategy, e.g. MeanReversionStrategy",
    ENV_CHUNK_START: "the chunk's first position in the sweep's run order, e.g. 0",
    ENV_CHUNK_COUNT: "the number of grid points of the chunk, e.g. 10",
    ENV_RESULTS_URI: "a results folder, file:// URL or s3://bucket/prefix",
    ENV_DAG_ID: "the Airflow DAG id, e.g. backtest_my_sweep",
    ENV_RUN_ID: "the Airflow run id",
}


class EngineInputError(ValueError):
    """An environment variable or input that makes the chunk impossible to run; says how to fix it."""


@dataclass(frozen=True)
class ChunkRequest:
    """Everything one engine process needs, read from its environment."""

    config: SweepConfig
    start: int
    count: int
    results_uri: str
    context: RunContext
    data_source: str
    fail_points: frozenset[int]
    # The connection string of the 'database' source: it may hold a password, so it is never shown.
    database: str | None = field(default=None, repr=False)


def parse_request(environ: Mapping[str, str], s3_client: S3ClientFactory) -> ChunkRequest:
    """Read and check the contract's environment variables; raises EngineInputError."""
    config = _read_spec(environ, s3_client)
    strategy = _required(environ, ENV_STRATEGY)
    if strategy not in STRATEGY_CLASSES:
        raise EngineInputError(
            f"{ENV_STRATEGY}='{strategy}' is not a strategy of this engine; "
            f"use one of: {', '.join(STRATEGY_CLASSES)}"
        )
    if strategy != config.strategy:
        raise EngineInputError(
            f"{ENV_STRATEGY}='{strategy}' but the spec's strategy is '{config.strategy}'; "
            "set them to the same name"
        )
    start = _integer(environ, ENV_CHUNK_START, minimum=0)
    count = _integer(environ, ENV_CHUNK_COUNT, minimum=1)
    size = config.grid_size
    if start + count > size:
        raise EngineInputError(
            f"chunk [{start}, {start + count}) lies outside the grid of {size} points; "
            f"set {ENV_CHUNK_START} + {ENV_CHUNK_COUNT} <= {size}"
        )
    results_uri = _required(environ, ENV_RESULTS_URI)
    try:
        parse_results_uri(results_uri)
    except ValueError as exc:
        raise EngineInputError(f"{ENV_RESULTS_URI}: {exc}") from None
    db_host = environ.get(ENV_DB_HOST) or None
    context = RunContext(
        strategy=strategy,
        dag_id=_path_component(environ, ENV_DAG_ID),
        run_id=_path_component(environ, ENV_RUN_ID),
        db_host=public_db_host(db_host),  # results never record a password
        # The spec's choice; a spec without one: the deployment's default (BACKTEST_DATA_SOURCE).
        data_source=engine_source(config.data_source, config.data_folder, environ.get(ENV_DATA_SOURCE)),
        spec_hash=config.spec_hash,
    )
    return ChunkRequest(
        config=config,
        start=start,
        count=count,
        results_uri=results_uri,
        context=context,
        data_source=context.data_source,
        fail_points=_fail_points(environ),
        database=database_dsn(db_host, environ) if context.data_source == DATABASE_SOURCE else None,
    )


def main(environ: Mapping[str, str] | None = None) -> int:
    """Run the chunk described by `environ` (default: os.environ); returns the process exit code.

    0: every point written. 1: some points failed (the others are written). 2: bad input, with
    one line on stderr saying what is wrong and how to fix it.
    """
    environ = os.environ if environ is None else environ
    s3_client = _lazy_s3_client()
    try:
        request = parse_request(environ, s3_client)
        loading = time.perf_counter()
        data = load_market_data(request.config, request.data_source, request.database)
        loading = time.perf_counter() - loading
        context = request.context
        # Per-point files are atomic but not fsynced one by one: 4 fsyncs a point were most of a chunk's
        # time; after a machine crash the chunk is run again.
        backend = open_backend(request.results_uri, s3_client_factory=s3_client, durable=False)
        backend.prepare(points_prefix(context.dag_id, context.run_id))
        store = ResultsStore(backend)
    except (EngineInputError, DataSourceError, StorageError) as exc:
        _say(f"error: {exc}")
        return EXIT_BAD_INPUT

    config = request.config
    logger.info(
        "%s: points [%d, %d) of %d, %d symbols x %d days (%s data loaded in %.2fs), results to %s",
        config.strategy,
        request.start,
        request.start + request.count,
        config.grid_size,
        data.n_symbols,
        data.n_days,
        data.source,
        loading,
        store.describe(points_prefix(context.dag_id, context.run_id)),
    )

    done: list[int] = []
    returns = ParquetRowGroups()  # the chunk's returns file, a row group at a time (bounded memory)

    def write(result: PointResult) -> None:
        columns = result.returns_columns()
        store.write_equity(context.dag_id, context.run_id, result.index, result.equity_record())
        store.write_point(context.dag_id, context.run_id, result.index, result.record(context))
        done.append(result.index)
        returns.append(columns)

    clock = time.perf_counter()
    try:
        outcome = _run_in_order(request, data, write, store)
        if done:
            _write_returns(store, context, request.start, done, returns, outcome)
    finally:
        returns.close()
    elapsed = time.perf_counter() - clock
    logger.info(
        "chunk done in %.2fs: %d written, %d failed", elapsed, len(outcome.written), len(outcome.failed)
    )
    if outcome.failed:
        failed = sorted(outcome.failed)
        _say(
            f"{len(failed)} of {request.count} points failed: {', '.join(map(str, failed))} "
            f"(point {failed[0]}: {outcome.failed[failed[0]]})"
        )
        return EXIT_POINTS_FAILED
    return EXIT_OK


def _run_in_order(
    request: ChunkRequest, data: MarketData, write: Callable[[PointResult], None], store: ResultsStore
) -> ChunkOutcome:
    """The chunk's positions of the run order, one block of consecutive indices at a time (signals are
    shared within a block), with a progress record after each block (written at most every second)."""
    context = request.context
    order = request.config.run_order()[request.start : request.start + request.count]
    progress = ChunkProgress(store, context.dag_id, context.run_id, request.start, request.count)
    outcome, passed = ChunkOutcome(), 0
    for first, count in contiguous_runs(order):
        block = run_chunk(request.config, first, count, data, write, request.fail_points)
        outcome.written.extend(block.written)
        outcome.failed.update(block.failed)
        passed += count
        progress.record(block.written, list(block.failed), passed)
    progress.write()
    return outcome


def _write_returns(
    store: ResultsStore,
    context: RunContext,
    start: int,
    done: list[int],
    returns: ParquetRowGroups,
    outcome: ChunkOutcome,
) -> None:
    """The chunk's daily returns file; if it cannot be written, the chunk's points count as failed."""
    try:
        store.put_returns_file(context.dag_id, context.run_id, start, returns.finish())
    except OSError as exc:  # StorageError is one
        logger.error("returns of the chunk at %d not written: %s", start, exc)
        for index in done:
            outcome.written.remove(index)
            outcome.failed[index] = f"returns file not written: {exc}"


def configure_logging(environ: Mapping[str, str]) -> None:
    """Log to stderr at BACKTEST_LOG_LEVEL (default INFO)."""
    level = logging.getLevelName((environ.get(ENV_LOG_LEVEL) or "INFO").upper())
    level = level if isinstance(level, int) else logging.INFO
    logging.basicConfig(level=level, format=LOG_FORMAT, stream=sys.stderr)


def _say(message: str) -> None:
    """The CLI's one line on stderr (never a traceback)."""
    sys.stderr.write(f"{PROGRAM}: {' '.join(message.split())}\n")
    sys.stderr.flush()


def _lazy_s3_client() -> S3ClientFactory:
    """One boto3 S3 client per process, created on first use (honours AWS_ENDPOINT_URL like boto3 does)."""
    client: Any = None

    def get() -> Any:
        nonlocal client
        if client is None:
            import boto3

            client = boto3.client("s3")
        return client

    return get


def _read_spec(environ: Mapping[str, str], s3_client: S3ClientFactory) -> SweepConfig:
    text = environ.get(ENV_SPEC, "").strip()
    uri = environ.get(ENV_SPEC_URI, "").strip()
    origin = ENV_SPEC
    if not text:
        if not uri:
            raise EngineInputError(
                f"no sweep spec: set {ENV_SPEC} to the SweepConfig JSON or {ENV_SPEC_URI} to a file "
                "or s3:// object holding it"
            )
        try:
            text = read_text(uri, s3_client)
        except StorageError as exc:
            raise EngineInputError(f"{ENV_SPEC_URI}: {exc}") from None
        origin = f"{ENV_SPEC_URI} ({uri})"
    elif uri:
        logger.debug("%s is set: ignoring %s", ENV_SPEC, ENV_SPEC_URI)
    try:
        return SweepConfig.from_json(text, max_grid_points=None)
    except ValidationError as exc:
        raise EngineInputError(
            f"{origin} is not a valid sweep spec: {describe_validation_error(exc)}; "
            "write it with SweepConfig.to_json()"
        ) from None


def _required(environ: Mapping[str, str], name: str) -> str:
    value = environ.get(name, "").strip()
    if not value:
        raise EngineInputError(f"{name} is not set; set it to {_HINTS.get(name, 'a value')}")
    return value


def _integer(environ: Mapping[str, str], name: str, minimum: int) -> int:
    text = _required(environ, name)
    try:
        value = int(text)
    except ValueError:
        raise EngineInputError(
            f"{name}='{text}' is not a whole number; set it to an integer >= {minimum}"
        ) from None
    if value < minimum:
        raise EngineInputError(f"{name}={value} is below {minimum}; set it to an integer >= {minimum}")
    return value


def _path_component(environ: Mapping[str, str], name: str) -> str:
    value = _required(environ, name)
    unsafe = value in (".", "..") or any(c in value for c in "/\\") or not value.isprintable()
    if unsafe or len(value) > MAX_ID_LENGTH:
        raise EngineInputError(
            f"{name}='{value[:40]}' cannot name a results folder; use at most {MAX_ID_LENGTH} printable "
            "characters without '/' or '\\', not '.' or '..'"
        )
    return value


def _fail_points(environ: Mapping[str, str]) -> frozenset[int]:
    text = environ.get(ENV_FAIL_POINTS, "").strip()
    if not text:
        return frozenset()
    try:
        return frozenset(int(item) for item in text.split(",") if item.strip())
    except ValueError:
        raise EngineInputError(
            f"{ENV_FAIL_POINTS}='{text}' must be comma-separated grid indices, e.g. 3,7 (a test hook)"
        ) from None
