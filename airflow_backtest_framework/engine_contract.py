"""The contract between the DAGs and the engine: environment variables and the results layout."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

# Environment of the Airflow processes: which executor the generated DAGs use.
EXECUTOR_ENV = "BACKTEST_EXECUTOR"
EXECUTOR_BATCH = "batch"
EXECUTOR_LOCAL = "local"
EXECUTORS = (EXECUTOR_BATCH, EXECUTOR_LOCAL)

# Airflow Variables read at run time (never at parse time).
VAR_JOB_QUEUE = "batch_job_queue"
VAR_JOB_DEFINITION = "batch_job_definition"
VAR_DB_HOST = "db_host"
VAR_RESULTS_URI = "backtest_results_uri"
VAR_DATA_SOURCE = "backtest_data_source"

# Environment variables the engine reads (Batch container overrides or the local subprocess).
ENV_SPEC = "BACKTEST_SPEC"
ENV_SPEC_URI = "BACKTEST_SPEC_URI"
ENV_STRATEGY = "BACKTEST_STRATEGY"
ENV_CHUNK_START = "BACKTEST_CHUNK_START"
ENV_CHUNK_COUNT = "BACKTEST_CHUNK_COUNT"
ENV_RESULTS_URI = "BACKTEST_RESULTS_URI"
ENV_DAG_ID = "BACKTEST_DAG_ID"
ENV_RUN_ID = "BACKTEST_RUN_ID"
ENV_DB_HOST = "DB_HOST"
ENV_DATA_SOURCE = "BACKTEST_DATA_SOURCE"
ENV_FAIL_POINTS = "BACKTEST_FAIL_POINTS"  # test hook: grid indices that raise on purpose

# Fault injection for failure handling and "retry failed" (local executor): a run triggered with
# conf {"fail_points": "3,7"} makes those grid indices fail on the chunk's first
# `fail_attempts` attempts (default 1), so clearing the failed chunks lets them succeed.
CONF_FAIL_POINTS = "fail_points"
CONF_FAIL_ATTEMPTS = "fail_attempts"

# AWS Batch limits container overrides to a few KiB: larger specs travel as a file.
INLINE_SPEC_LIMIT = 4_096

# The metrics of every point's result file, in display order.
METRIC_NAMES = (
    "total_return",
    "cagr",
    "annual_volatility",
    "sharpe",
    "sortino",
    "max_drawdown",
    "trades",
    "win_rate",
    "turnover",
)

POINTS_DIR = "points"
EQUITY_DIR = "equity"
SPEC_FILE = "spec.json"
SUMMARY_FILE = "summary.json"
TABLE_FILE = "results.csv"


def run_prefix(dag_id: str, run_id: str) -> str:
    """`<dag_id>/<run_id>`: where one run's results live below the results root."""
    return f"{dag_id}/{run_id}"


def point_key(dag_id: str, run_id: str, index: int) -> str:
    return f"{run_prefix(dag_id, run_id)}/{POINTS_DIR}/{index}.json"


def join_uri(root: str, key: str) -> str:
    """Join a results root (local path, file:// or s3://bucket/prefix) and a relative key."""
    return root.rstrip("/") + "/" + key.lstrip("/")


def engine_environment(
    *,
    spec_json: str,
    strategy: str,
    start: int,
    count: int,
    results_uri: str,
    dag_id: str,
    run_id: str,
    db_host: str = "",
    data_source: str = "",
    spec_uri: str | None = None,
) -> dict[str, str]:
    """The engine's environment for one chunk; the spec inline, or by URI when it is large."""
    env = {
        ENV_STRATEGY: strategy,
        ENV_CHUNK_START: str(start),
        ENV_CHUNK_COUNT: str(count),
        ENV_RESULTS_URI: results_uri,
        ENV_DAG_ID: dag_id,
        ENV_RUN_ID: run_id,
        ENV_DB_HOST: db_host,
    }
    if data_source:
        env[ENV_DATA_SOURCE] = data_source
    if spec_uri is not None:
        env[ENV_SPEC_URI] = spec_uri
    else:
        env[ENV_SPEC] = spec_json
    return env


def injected_failures(conf: Mapping[str, Any] | None, attempt: int) -> dict[str, str]:
    """The engine environment that injects the run conf's failures on this attempt ({} otherwise)."""
    conf = conf or {}
    points = conf.get(CONF_FAIL_POINTS)
    if not points:
        return {}
    if isinstance(points, list | tuple):
        points = ",".join(str(int(point)) for point in points)
    if attempt > int(conf.get(CONF_FAIL_ATTEMPTS, 1)):
        return {}
    return {ENV_FAIL_POINTS: str(points)}


def container_overrides(env: dict[str, str]) -> dict[str, list[dict[str, str]]]:
    """AWS Batch `containerOverrides` carrying the engine's environment."""
    return {"environment": [{"name": name, "value": value} for name, value in sorted(env.items())]}


def _local_path(uri: str) -> Path | None:
    parts = urlsplit(uri)
    if parts.scheme in ("", "file"):
        return Path(parts.path if parts.scheme == "file" else uri)
    return None


def write_text(uri: str, text: str) -> None:
    """Write a small text object to a local path (atomically) or to S3."""
    path = _local_path(uri)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
        return
    bucket, key = _s3_location(uri)
    _s3().put_object(Bucket=bucket, Key=key, Body=text.encode("utf-8"))


def read_text(uri: str) -> str:
    path = _local_path(uri)
    if path is not None:
        return path.read_text(encoding="utf-8")
    bucket, key = _s3_location(uri)
    return _s3().get_object(Bucket=bucket, Key=key)["Body"].read().decode("utf-8")


def list_names(uri: str) -> list[str]:
    """Names of the objects directly below a folder URI."""
    path = _local_path(uri)
    if path is not None:
        return sorted(p.name for p in path.iterdir() if p.is_file()) if path.is_dir() else []
    bucket, prefix = _s3_location(uri.rstrip("/") + "/")
    names: list[str] = []
    for page in _s3().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        names.extend(item["Key"][len(prefix) :] for item in page.get("Contents", []))
    return sorted(n for n in names if n and "/" not in n)


def _s3_location(uri: str) -> tuple[str, str]:
    parts = urlsplit(uri)
    if parts.scheme != "s3" or not parts.netloc:
        raise ValueError(
            f"results location must be a local path or s3://bucket/prefix, got {parts.scheme}://"
        )
    return parts.netloc, parts.path.lstrip("/")


def _s3():
    import boto3

    return boto3.client("s3")
