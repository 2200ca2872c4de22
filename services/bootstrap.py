"""The composition root: `build_services(settings)` picks the adapters and builds everything the app uses."""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from services.airflow.client import AirflowClient
from services.airflow.http import HttpTransport
from services.airflow.mwaa import MWAA_MAX_PATH_CHARS, MwaaTransport
from services.airflow.transport import RetryPolicy
from services.audit import SqlAuditTrail
from services.aws.batch import BatchJobsService, console_host
from services.aws.clients import AwsClients
from services.aws.connections import AwsConnections
from services.aws.s3_store import S3Store
from services.caches import RecoveringCache
from services.connection_status import CachedChecks
from services.connections import LocalConnections
from services.data_coverage import data_coverage
from services.database import Database, database_url
from services.deploy import DeployService
from services.deploy_records import DeployRecords
from services.errors import BacktestError
from services.flags import SharedFlags
from services.health import Readiness, cache_ping
from services.kiosk import KioskLinks
from services.monitoring import MonitorService
from services.pending import PendingActions
from services.ports import (
    AirflowLinks,
    AuditTrail,
    Connections,
    Deployer,
    Monitor,
    Results,
    Runs,
    Services,
    SweepStore,
)
from services.record_import import import_json_records, import_kiosk_links
from services.results import ResultsService
from services.results_cache import ResultsTables
from services.runs import RunService
from services.settings import Settings, SettingsError
from services.shared_cache import DiskSharedCache, RedisSharedCache, SharedCache, redis_client
from services.sql_registry import SqlSweepRegistry
from services.storage import ArtifactStore, LocalFolderStore
from services.sweep_actions import SweepActions
from services.wall import WallService

if TYPE_CHECKING:
    import redis

MONITOR_READ_TIMEOUT_S = 3.0
MONITOR_RETRY_BUDGET_S = 5.0
# scripts/local_airflow.py raises Airflow's [api] maximum_page_limit to this: big sweeps in few pages.
LOCAL_PAGE_SIZE = 1000
# A status lives a little less than one refresh interval: a viewer polling at that interval
# always finds it expired, so its data is never two intervals old.
STATUS_TTL_FRACTION = 0.8
MONITOR_CACHE_SIZE_LIMIT = 512 * 1024 * 1024
# Folders below the cache directory, shared by every worker process.
SHARED_CACHE_FOLDER = "shared"
FLAGS_FOLDER = "flags"
WALL_FOLDER = "wall"
PENDING_FOLDER = "pending"


def build_services(settings: Settings) -> Services:
    """The services of the settings' mode; no client is contacted (AWS ones are not even built)."""
    return _build_aws(settings) if settings.mode == "aws" else _build_local(settings)


def open_shared(settings: Settings, folder: str, **disk_settings: Any) -> SharedCache:
    """The cache named `folder` that every process shares: Redis (key prefix `backtest:<folder>:`) with
    REDIS_URL, else a diskcache folder below CACHE_DIR, rebuilt if it gets damaged."""
    if settings.redis_url is not None:
        return RedisSharedCache(_redis(settings.redis_url.get_secret_value()), folder)
    return DiskSharedCache(RecoveringCache(settings.cache_dir / folder, **disk_settings))


@functools.cache
def _redis(url: str) -> redis.Redis:
    """One client (one connection pool) per process for every cache in Redis."""
    return redis_client(url)


def shared_cache(settings: Settings) -> SharedCache:
    """The cache of status polls and best points, shared by every worker (and every host with Redis)."""
    return open_shared(settings, SHARED_CACHE_FOLDER, size_limit=MONITOR_CACHE_SIZE_LIMIT)


def open_database(settings: Settings) -> Database:
    """The settings' database (DATABASE_URL, or the SQLite file in APP_DATA_DIR); at its first use in a
    process it is migrated to head and the install's JSON sweep records are imported (once, ever)."""

    def import_records(engine) -> None:
        import_json_records(engine, settings.app_data_dir, settings.max_grid_points)
        import_kiosk_links(engine, settings.app_data_dir)

    return Database(database_url(settings), prepare=import_records)


@dataclass(frozen=True)
class _Adapters:
    """What differs between the modes: the Airflow clients, the stores, Batch and the checks."""

    client: AirflowClient
    monitor_client: AirflowClient
    dags: ArtifactStore
    results: ArtifactStore
    connections: Connections
    airflow_ui_url: AirflowLinks
    batch: BatchJobsService | None = None


def _build_local(settings: Settings) -> Services:
    # Writes from every worker go one at a time (SQLite answers bursts with "database is locked").
    settings.cache_dir.mkdir(parents=True, exist_ok=True)
    lock_file = settings.cache_dir / "airflow-writes.lock"
    client = AirflowClient(HttpTransport.from_settings(settings, write_lock_file=lock_file))
    # Status polls fail fast, so a page shows the last known status (stale) within seconds.
    monitor_client = AirflowClient(
        HttpTransport.from_settings(
            settings,
            write_lock_file=lock_file,
            read_timeout_s=MONITOR_READ_TIMEOUT_S,
            retry=RetryPolicy(attempts=2, budget_s=MONITOR_RETRY_BUDGET_S),
        ),
        page_size=LOCAL_PAGE_SIZE,
    )
    dags = LocalFolderStore(settings.local_dags_folder)
    results = LocalFolderStore(settings.results_root)

    def airflow_ui_url(dag_id: str, run_id: str | None = None) -> str:
        return airflow_run_link(settings.airflow_url, "v2", dag_id, run_id)

    connections = LocalConnections(settings, client, dags, results)
    return _compose(settings, _Adapters(client, monitor_client, dags, results, connections, airflow_ui_url))


def _build_aws(settings: Settings) -> Services:
    """MWAA through InvokeRestApi (API version asked from GetEnvironment at first use), S3, Batch."""
    clients = AwsClients(settings)
    name = settings.mwaa_environment_name or ""
    transport = MwaaTransport(clients.source("mwaa"), name)
    client = AirflowClient(transport, transport.api_version, max_path_length=MWAA_MAX_PATH_CHARS)
    monitor_transport = MwaaTransport(
        clients.source("mwaa"), name, retry=RetryPolicy(attempts=2, budget_s=MONITOR_RETRY_BUDGET_S)
    )
    monitor_client = AirflowClient(
        monitor_transport, transport.api_version, max_path_length=MWAA_MAX_PATH_CHARS
    )
    dags = S3Store(clients.source("s3"), settings.s3_dags_bucket or "", settings.s3_dags_prefix)
    try:
        results = S3Store.from_uri(clients.source("s3"), settings.results_uri or "")
    except ValueError:
        raise SettingsError("RESULTS_URI: MODE=aws needs s3://bucket/prefix") from None
    connections = AwsConnections(
        settings,
        sts=clients.source("sts"),
        s3=clients.source("s3"),
        mwaa=clients.source("mwaa"),
        batch=clients.source("batch"),
        client=client,
        dags=dags,
        results=results,
    )

    def airflow_ui_url(dag_id: str, run_id: str | None = None) -> str:
        try:
            base = settings.airflow_webserver_url or transport.webserver_url()
            version = transport.api_version()
        except BacktestError:  # no GetEnvironment now: the MWAA console still leads there
            region = settings.aws_region
            return f"{console_host(region)}/mwaa/home?region={region}#environments/{quote(name, safe='')}"
        return airflow_run_link(base, version, dag_id, run_id)

    batch = (
        BatchJobsService(clients.source("batch"), settings.batch_job_queue, region=settings.aws_region)
        if settings.batch_job_queue
        else None
    )
    adapters = _Adapters(client, monitor_client, dags, results, connections, airflow_ui_url, batch)
    return _compose(settings, adapters)


def _compose(settings: Settings, adapters: _Adapters) -> Services:
    """One code path above the adapters, the same in both modes."""
    database = open_database(settings)
    registry = SqlSweepRegistry(database, max_grid_points=settings.max_grid_points)
    results = ResultsService(adapters.results)
    monitor_cache = shared_cache(settings)
    monitor = MonitorService(
        adapters.monitor_client,
        results,
        monitor_cache,
        ttl_s=settings.refresh_interval_s * STATUS_TTL_FRACTION,
        batch=adapters.batch,
    )
    return compose(
        settings,
        registry=registry,
        deployer=DeployService(
            adapters.dags,
            adapters.client,
            max_grid_points=settings.max_grid_points,
            profile=settings.task_profile,
        ),
        runs=RunService(adapters.client, adapters.batch),
        monitor=monitor,
        results=results,
        connections=adapters.connections,
        airflow_ui_url=adapters.airflow_ui_url,
        database=database,
        readiness_checks={
            "database": database.ping,
            "cache": cache_ping(monitor_cache),
            "airflow": adapters.monitor_client.version,
        },
    )


def compose(
    settings: Settings,
    *,
    registry: SweepStore,
    deployer: Deployer,
    runs: Runs,
    monitor: Monitor,
    results: Results,
    connections: Connections,
    airflow_ui_url: AirflowLinks,
    readiness_checks: Mapping[str, Callable[[], object]],
    database: Database | None = None,
    audit: AuditTrail | None = None,
) -> Services:
    """The services every page uses, over the ports' implementations (tests pass fakes here): the audit
    trail and the kiosk links in `database` (the settings' one unless given), the audit trail there
    unless given. `readiness_checks`: /readyz's components."""
    database = database if database is not None else open_database(settings)
    audit = audit if audit is not None else SqlAuditTrail(database)
    flags = open_shared(settings, FLAGS_FOLDER)
    return Services(
        settings=settings,
        registry=registry,
        deployer=deployer,
        runs=runs,
        monitor=monitor,
        results=results,
        results_tables=ResultsTables(results),
        wall=WallService(registry, monitor, open_shared(settings, WALL_FOLDER), latest_runs=runs.latest_runs),
        connections=connections,
        connection_status=CachedChecks(connections),
        flags=SharedFlags(flags),
        actions=SweepActions(
            registry, deployer, runs, audit, DeployRecords(flags), data=data_coverage(settings)
        ),
        airflow_ui_url=airflow_ui_url,
        pending=PendingActions(open_shared(settings, PENDING_FOLDER)),
        kiosk=KioskLinks(database, audit),
        audit=audit,
        readiness=Readiness(readiness_checks),
    )


def airflow_run_link(base: str, api_version: str, dag_id: str, run_id: str | None = None) -> str:
    """The Airflow UI page of a DAG or one run: Airflow 3 `/dags/{d}/runs/{r}`, Airflow 2 the grid."""
    url = f"{base.rstrip('/')}/dags/{quote(dag_id, safe='')}"
    if run_id is None:
        return url if api_version == "v2" else f"{url}/grid"
    if api_version == "v2":
        return f"{url}/runs/{quote(run_id, safe='')}"
    return f"{url}/grid?dag_run_id={quote(run_id, safe='')}"
