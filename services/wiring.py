"""Build the services of one mode from the settings: the only place that picks adapters."""

from __future__ import annotations

from urllib.parse import quote

import diskcache

from services.airflow_api import AirflowClient
from services.airflow_transport import RetryPolicy
from services.bootstrap import Services
from services.connections import LocalConnections
from services.deploy import DeployService, RunService
from services.http_transport import HttpTransport
from services.monitoring import MonitorService
from services.registry import SweepRegistry
from services.results import ResultsService
from services.settings import Settings
from services.storage import LocalFolderStore

MONITOR_READ_TIMEOUT_S = 3.0
MONITOR_RETRY_BUDGET_S = 5.0
MONITOR_CACHE_SIZE_LIMIT = 512 * 1024 * 1024


def shared_cache(settings: Settings) -> diskcache.Cache:
    """The diskcache shared by every worker (status polls, best points)."""
    return diskcache.Cache(str(settings.cache_dir / "shared"), size_limit=MONITOR_CACHE_SIZE_LIMIT)


def wire(settings: Settings) -> Services:
    if settings.mode != "local":
        raise NotImplementedError("MODE=aws is not available yet; use MODE=local")
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
        )
    )
    dags = LocalFolderStore(settings.local_dags_folder)
    results_store = LocalFolderStore(settings.results_root)
    results = ResultsService(results_store)
    base = settings.airflow_url

    def airflow_ui_url(dag_id: str, run_id: str | None = None) -> str:
        url = f"{base}/dags/{quote(dag_id, safe='')}"
        return f"{url}/runs/{quote(run_id, safe='')}" if run_id else url

    return Services(
        settings=settings,
        registry=SweepRegistry(settings.app_data_dir, max_grid_points=settings.max_grid_points),
        deployer=DeployService(dags, client, max_grid_points=settings.max_grid_points),
        runs=RunService(client),
        monitor=MonitorService(
            monitor_client, results, shared_cache(settings), ttl_s=settings.refresh_interval_s
        ),
        results=results,
        connections=LocalConnections(settings, client, dags, results_store),
        airflow_ui_url=airflow_ui_url,
    )
