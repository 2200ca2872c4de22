"""The contract between the app, the DAGs and the engine: names, task ids, tags and the results layout."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# Environment of the Airflow processes: which executor the generated DAGs use.
EXECUTOR_ENV = "BACKTEST_EXECUTOR"
EXECUTOR_BATCH = "batch"
EXECUTOR_LOCAL = "local"
EXECUTORS = (EXECUTOR_BATCH, EXECUTOR_LOCAL)

# Task ids of every sweep DAG: the app monitors, retries and clears tasks by these names.
PLAN_TASK_ID = "plan"
CHUNK_TASK_ID = "run_chunk"
SUMMARY_TASK_ID = "summarize"
VALIDATE_TASK_ID = "validate"  # rewrites the partial validation report while the chunks run

# Tags the DAG's BatchOperator puts on every Batch job; the app finds a run's jobs by them.
BATCH_TAG_DAG_ID = "backtest_dag_id"
BATCH_TAG_RUN_ID = "backtest_run_id"

# Airflow Variables read at run time (never at parse time).
VAR_JOB_QUEUE = "batch_job_queue"
VAR_JOB_DEFINITION = "batch_job_definition"
VAR_DB_HOST = "db_host"
VAR_RESULTS_URI = "backtest_results_uri"
VAR_DATA_SOURCE = "backtest_data_source"
# How many chunk tasks run at once (local: Airflow's core.parallelism; Batch: the queue's capacity in
# jobs); unset, chunking.py's defaults. It sizes the chunks of sweeps without points_per_task.
VAR_TASK_SLOTS = "backtest_task_slots"

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
    "calmar",
    "max_drawdown_days",
    "exposure",
    "alpha",
    "beta",
    "information_ratio",
)

# The results layout below a results root; every reader and writer builds keys with these functions.
POINTS_DIR = "points"
EQUITY_DIR = "equity"
RETURNS_DIR = "returns"
RETURNS_SUFFIX = ".parquet"
# Columns of a chunk's returns file (long format: one row per grid point and bar).
RETURNS_COLUMNS = ("point", "date", "net_return", "gross_return", "exposure", "benchmark_return", "traded")
SPEC_FILE = "spec.json"
PLAN_FILE = "plan.json"
PROGRESS_DIR = "progress"
SUMMARY_FILE = "summary.json"
TABLE_FILE = "results.csv"
RESULT_SUFFIX = ".json"


def run_prefix(dag_id: str, run_id: str) -> str:
    """`<dag_id>/<run_id>`: where one run's results live below the results root."""
    return f"{dag_id}/{run_id}"


def points_prefix(dag_id: str, run_id: str) -> str:
    """`<dag_id>/<run_id>/points/`: the prefix that lists a run's point results."""
    return f"{run_prefix(dag_id, run_id)}/{POINTS_DIR}/"


def point_key(dag_id: str, run_id: str, index: int) -> str:
    """`<dag_id>/<run_id>/points/<index>.json`: one grid point's parameters and metrics."""
    return f"{points_prefix(dag_id, run_id)}{index}{RESULT_SUFFIX}"


def point_index(name: str) -> int | None:
    """The grid index of a name below `points_prefix` (`<index>.json`); None for anything else."""
    stem = name.removesuffix(RESULT_SUFFIX)
    return int(stem) if stem != name and stem.isdigit() else None


def equity_key(dag_id: str, run_id: str, index: int) -> str:
    """`<dag_id>/<run_id>/equity/<index>.json`: one grid point's equity curve."""
    return f"{run_prefix(dag_id, run_id)}/{EQUITY_DIR}/{index}{RESULT_SUFFIX}"


def returns_prefix(dag_id: str, run_id: str) -> str:
    """`<dag_id>/<run_id>/returns/`: the prefix that lists a run's daily-returns files."""
    return f"{run_prefix(dag_id, run_id)}/{RETURNS_DIR}/"


def returns_key(dag_id: str, run_id: str, chunk_start: int) -> str:
    """`<dag_id>/<run_id>/returns/<chunk start>.parquet`: the daily returns of every point of one chunk."""
    return f"{returns_prefix(dag_id, run_id)}{chunk_start}{RETURNS_SUFFIX}"


def spec_key(dag_id: str, run_id: str) -> str:
    """`<dag_id>/<run_id>/spec.json`: the run's spec, written by `plan` for large specs."""
    return f"{run_prefix(dag_id, run_id)}/{SPEC_FILE}"


def plan_key(dag_id: str, run_id: str) -> str:
    """`<dag_id>/<run_id>/plan.json`: `plan`'s chunks ({"chunks": [[start, count], ...], "space_filling"})."""
    return f"{run_prefix(dag_id, run_id)}/{PLAN_FILE}"


def progress_prefix(dag_id: str, run_id: str) -> str:
    """`<dag_id>/<run_id>/progress/`: the prefix that lists a run's chunk progress records."""
    return f"{run_prefix(dag_id, run_id)}/{PROGRESS_DIR}/"


def progress_key(dag_id: str, run_id: str, chunk_start: int) -> str:
    """`<dag_id>/<run_id>/progress/<chunk start>.json`: a chunk's points done so far, rewritten as it runs:
    {"start", "count", "done": number of positions passed, "ranges": [[first index, count], ...] written,
    "failed": [index, ...]}."""
    return f"{progress_prefix(dag_id, run_id)}{chunk_start}{RESULT_SUFFIX}"


def summary_key(dag_id: str, run_id: str) -> str:
    """`<dag_id>/<run_id>/summary.json`: `summarize`'s counts and best points."""
    return f"{run_prefix(dag_id, run_id)}/{SUMMARY_FILE}"


def validation_key(dag_id: str, run_id: str) -> str:
    """`<dag_id>/<run_id>/validation.json`: `summarize`'s sweep validation report (validation_report.py)."""
    return f"{run_prefix(dag_id, run_id)}/validation.json"


def table_key(dag_id: str, run_id: str) -> str:
    """`<dag_id>/<run_id>/results.csv`: `summarize`'s table of every point written."""
    return f"{run_prefix(dag_id, run_id)}/{TABLE_FILE}"


def batch_job_tags(dag_id: str, run_id: str) -> dict[str, str]:
    """The tags of a run's Batch jobs (`run_id` may be a template such as `{{ run_id }}`)."""
    return {BATCH_TAG_DAG_ID: dag_id, BATCH_TAG_RUN_ID: run_id}


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
