"""Connection checks of the local mode, for the Connections page, the shell's indicator and the CLI."""

from __future__ import annotations

from services.airflow.client import AirflowClient
from services.checks import failed_check, passed_check
from services.deadline import deadline
from services.errors import TRANSPORT_FAULTS, AuthError, BacktestError, NotFound
from services.models import CheckResult
from services.redaction import without_userinfo
from services.settings import Settings
from services.storage import ArtifactStore

WRITE_CHECK_KEY = ".backtest-frontend-write-check"
AUTH_PROBE_DAG = "backtest_frontend_auth_probe"
CREDENTIALS_FIX = "Check AIRFLOW_USERNAME and AIRFLOW_PASSWORD in .env"
REACH_FIX = "Check AIRFLOW_URL and that the local Airflow is running"
RESTART_FIX = "Restart the local Airflow: .venv/bin/python scripts/local_airflow.py stop, then start"


class LocalConnections:
    """Checks of local mode: settings, Airflow API and auth, health, dags folder, results folder."""

    def __init__(
        self, settings: Settings, client: AirflowClient, dags: ArtifactStore, results: ArtifactStore
    ):
        self._settings = settings
        self._client = client
        self._dags = dags
        self._results = results

    def check_all(self) -> list[CheckResult]:
        with deadline():  # a slow Airflow answers the page within one deadline, not one per check
            airflow = self._check_airflow()
            checks = [
                passed_check("settings", "Settings valid", resource=f"MODE={self._settings.mode}"),
                airflow,
            ]
            if airflow.ok:
                checks += [self._check_auth(), self._check_health()]
        checks += [
            writable("dags_location", "DAGs folder writable", self._dags),
            writable("results_location", "Results folder writable", self._results),
        ]
        return checks

    def _check_airflow(self) -> CheckResult:
        resource = without_userinfo(self._settings.airflow_url)
        try:
            version = self._client.version()
        except AuthError:
            return passed_check(
                "airflow", "Airflow API reachable", "reachable; see the auth check", resource=resource
            )
        except BacktestError as exc:
            return failed_check(
                "airflow", "Airflow API reachable", exc.message, exc.fix or REACH_FIX, resource=resource
            )
        return passed_check(
            "airflow", "Airflow API reachable", f"Airflow {version.version}", resource=resource
        )

    def _check_auth(self) -> CheckResult:
        resource = f"user {self._settings.airflow_username}"
        try:
            self._client.get_dag(AUTH_PROBE_DAG)
        except NotFound:
            pass
        except AuthError as exc:
            return failed_check("auth", "Airflow login", exc.message, CREDENTIALS_FIX, resource=resource)
        except BacktestError as exc:
            return failed_check("auth", "Airflow login", exc.message, exc.fix or REACH_FIX, resource=resource)
        return passed_check("auth", "Airflow login", resource=resource)

    def _check_health(self) -> CheckResult:
        try:
            health = self._client.health()
        except BacktestError as exc:
            return failed_check("health", "Scheduler and DAG processor", exc.message, exc.fix or RESTART_FIX)
        bad = health.unhealthy()
        if bad:
            return failed_check(
                "health", "Scheduler and DAG processor", "unhealthy: " + ", ".join(bad), RESTART_FIX
            )
        return passed_check("health", "Scheduler and DAG processor", "healthy")


def writable(key: str, label: str, store: ArtifactStore) -> CheckResult:
    """Write and delete a small marker object to prove a location is writable."""
    try:
        store.put(WRITE_CHECK_KEY, b"ok")
        store.delete(WRITE_CHECK_KEY)
    except BacktestError as exc:
        return failed_check(
            key,
            label,
            exc.message,
            (
                exc.fix
                if exc.fault in TRANSPORT_FAULTS and exc.fix
                else "Give the app write access to this location, or fix its setting in .env"
            ),
            resource=store.describe(),
        )
    return passed_check(key, label, resource=store.describe())
