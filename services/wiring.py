"""Build the services of one mode from the settings: the only place that picks adapters."""

from __future__ import annotations

from urllib.parse import quote

import diskcache

from services.airflow_api import AirflowClient
from services.bootstrap import Services
from services.connections import LocalConnections
from services.deploy import DeployService, RunService
from services.http_transport import HttpTransport
from services.monitoring import MonitorService
from services.registry import SweepRegistry
from services.results import ResultsService
from services.settings import Settings
from services.storage import LocalFolderStore

# A monitoring poll must fail fast when Airflow is down, so the page shows stale data quickly.
MONITOR_CACHE_SIZE_LIMIT = 512 * 1024 * 1024


def shared_cache(settings: Settings) -> diskcache.Cache:
    """The diskcache shared by every worker (status polls, best points)."""
    return diskcache.Cache(str(settings.cache_dir / "shared"), size_limit=MONITOR_CACHE_SIZE_LIMIT)


def wire(settings: Settings) -> Services:
    if settings.mode != "local":
        raise NotImplementedError("MODE=aws is not available yet; use MODE=local")
    transport = HttpTransport(settings.airflow_url, settings.airflow_username, settings.airflow_password)
    client = AirflowClient(transport)
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
        monitor=MonitorService(client, results, shared_cache(settings), ttl_s=settings.refresh_interval_s),
        results=results,
        connections=LocalConnections(settings, client, dags, results_store),
        airflow_ui_url=airflow_ui_url,
    )
