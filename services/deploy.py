"""Deploy a sweep (render, upload framework, upload DAG, wait for Airflow, unpause) and trigger runs."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from pydantic import ValidationError

from airflow_backtest_framework.chunking import ExecutorProfile, describe_plan
from airflow_backtest_framework.config import (
    CONTEXT_MAX_GRID_POINTS,
    DAG_ID_PREFIX,
    SweepConfig,
    describe_validation_error,
)
from airflow_backtest_framework.dag_factory import dag_description
from services.airflow.client import AirflowClient, api_path
from services.airflow.models import DagInfo
from services.checks import failed_check, passed_check
from services.clock import SYSTEM_CLOCK, Clock
from services.connections import writable
from services.dag_generator import dag_filename, generated_by_us, render_dag
from services.deadline import deadline
from services.errors import BacktestError, DeployRefused, NotFound, StorageError, Unavailable
from services.framework_bundle import framework_files
from services.models import CheckResult, DeployProgress, StepState
from services.ports import CancelCheck, ProgressCallback
from services.runs import RUN_ID_MAX_CHARS
from services.storage import ArtifactStore, sha256_hex

log = logging.getLogger(__name__)

T = TypeVar("T")

REGISTER_TIMEOUT_S = 90.0
# A deploy runs in the background, not in a page: an Airflow too busy to answer one call within a
# page's deadline (running tasks, SQLite writes) is asked again for this long before the step fails.
BUSY_AIRFLOW_PATIENCE_S = 60.0
POLL_INTERVAL_S = 0.5
# An import error older than the upload (minus this slack for clock skew) is about an earlier version.
IMPORT_ERROR_SLACK = timedelta(seconds=5)
IMPORT_ERROR_MAX_CHARS = 1_500
_PATH_NOISE = re.compile(r"(?:/[\w.@+-]+)+/(?=(?:dags|site-packages)/)|(?:/[\w.@+-]+)+/site-packages/")


class DeployCancelled(BacktestError):
    """The user cancelled the deployment between two steps."""


def clean_import_error(text: str) -> str:
    """An import error's text without this machine's paths, at most IMPORT_ERROR_MAX_CHARS."""
    cleaned = _PATH_NOISE.sub("", text).strip()
    return cleaned if len(cleaned) <= IMPORT_ERROR_MAX_CHARS else "…" + cleaned[-IMPORT_ERROR_MAX_CHARS:]


@dataclass
class _Deployment:
    """The state of one deployment in progress (the service itself is shared by concurrent users)."""

    config: SweepConfig
    progress: DeployProgress
    started_at: datetime
    cancelled: CancelCheck
    report: ProgressCallback
    rendered: bytes = b""
    dag: DagInfo | None = None


class DeployService:
    """Deploys sweeps through an ArtifactStore (the dags location) and an AirflowClient.

    Idempotent: files whose content is already there are not uploaded again, a registered DAG
    with the same spec hash is not waited for, an unpaused DAG is not unpaused again.
    """

    def __init__(
        self,
        store: ArtifactStore,
        client: AirflowClient,
        *,
        max_grid_points: int | None,
        register_timeout_s: float = REGISTER_TIMEOUT_S,
        poll_interval_s: float = POLL_INTERVAL_S,
        clock: Clock = SYSTEM_CLOCK,
        profile: ExecutorProfile | None = None,
    ) -> None:
        self._store = store
        self._client = client
        self._profile = profile or ExecutorProfile.default("local")  # sizes the chunks preflight shows
        self._grid_limits = {CONTEXT_MAX_GRID_POINTS: max_grid_points}  # the validation context of preflight
        self._register_timeout_s = register_timeout_s
        self._poll_interval_s = poll_interval_s
        self._clock = clock
        self._steps: dict[str, Callable[[_Deployment], tuple[StepState, str]]] = {
            "render": self._step_render,
            "framework": self._step_framework,
            "dag": self._step_dag,
            "register": self._step_register,
            "unpause": self._step_unpause,
        }

    # ------------------------------------------------------------------------------- preflight

    def preflight(self, config: SweepConfig) -> list[CheckResult]:
        """Airflow reachable, dags location writable, DAG id free or ours, grid within limits."""
        with deadline():  # a slow Airflow answers the whole preflight within one deadline
            return [
                self._check_grid(config),
                self._check_airflow(),
                self._check_writable(),
                self._check_ownership(config),
                *self._check_api_paths(config),
            ]

    def _check_grid(self, config: SweepConfig) -> CheckResult:
        label = "Grid within limits"
        resource = describe_plan(config.grid_size, config.chunk_size(self._profile))
        try:
            SweepConfig.model_validate(config.model_dump(), context=self._grid_limits)
        except ValidationError as exc:
            return failed_check(
                "grid",
                label,
                describe_validation_error(exc),
                "Narrow the parameter ranges on the Configure page.",
                resource=resource,
            )
        return passed_check("grid", label, resource=resource)

    def _check_airflow(self) -> CheckResult:
        label = "Airflow reachable"
        try:
            version = self._client.version()
        except BacktestError as exc:
            return failed_check(
                "airflow",
                label,
                exc.message,
                (
                    exc.fix
                    or "Start Airflow (scripts/local_airflow.py start) or check the connection settings."
                ),
            )
        return passed_check("airflow", label, resource=f"Airflow {version.version}")

    def _check_api_paths(self, config: SweepConfig) -> list[CheckResult]:
        """Where the API limits path length (MWAA's InvokeRestApi: 64 characters), the longest path
        with no short alternative must fit: marking a run failed (cancel),
        `/dags/{dag_id}/dagRuns/{run_id}` with the longest run id the app gives a run."""
        limit = self._client.max_path_length
        if limit is None:
            return []
        path = _longest_run_path(config.dag_id)
        label, resource = "Sweep name fits the Airflow API", f"{len(path)} of {limit} characters"
        if self._client.fits(path):
            return [passed_check("api_paths", label, resource=resource)]
        too_long = len(path) - limit
        run_path = api_path("dags", config.dag_id, "dagRuns", "<run id>")
        return [
            failed_check(
                "api_paths",
                label,
                (
                    f"MWAA takes API paths of at most {limit} characters; cancelling a run calls {run_path} "
                    f"with a run id of up to {RUN_ID_MAX_CHARS} characters, {too_long} too many."
                ),
                f"Shorten the sweep name by at least {too_long} characters on the Configure page.",
                resource=resource,
            )
        ]

    @property
    def max_name_chars(self) -> int | None:
        """The longest sweep name whose runs the app can still cancel through this client's API
        (None: the API takes paths of any length). Configure checks names against it as they are typed."""
        limit = self._client.max_path_length
        return None if limit is None else limit - len(_longest_run_path(DAG_ID_PREFIX))

    def _check_writable(self) -> CheckResult:
        return writable("dags_location", "DAGs location writable", self._store)

    def _check_ownership(self, config: SweepConfig) -> CheckResult:
        label, resource = "DAG id free or ours", config.dag_id
        try:
            self._refuse_foreign(config)
        except DeployRefused as exc:
            return failed_check(
                "ownership",
                label,
                exc.message,
                "Choose another sweep name on the Configure page.",
                resource=resource,
            )
        except BacktestError as exc:
            return failed_check(
                "ownership",
                label,
                exc.message,
                "Check that Airflow and the DAGs location are reachable.",
                resource=resource,
            )
        return passed_check("ownership", label, resource=resource)

    def _refuse_foreign(self, config: SweepConfig) -> None:
        """DeployRefused when the DAG id or its file belongs to something this app did not generate."""
        filename = dag_filename(config)
        try:
            existing = self._store.get(filename)
        except NotFound:
            existing = None
        if existing is not None and not generated_by_us(existing.decode("utf-8", errors="replace")):
            raise DeployRefused(f"{filename} exists and was not generated by this app; it is left untouched")
        dag = self._client.find_dag(config.dag_id)
        if dag is not None and dag.fileloc and not dag.fileloc.replace("\\", "/").endswith("/" + filename):
            where = dag.relative_fileloc or dag.fileloc.rsplit("/", 1)[-1]
            raise DeployRefused(f"DAG id {config.dag_id} is already defined by {where}; it is left untouched")

    # ------------------------------------------------------------------------------- deploy

    def deploy(
        self,
        config: SweepConfig,
        on_progress: ProgressCallback | None = None,
        cancelled: CancelCheck | None = None,
    ) -> DeployProgress:
        """Run every step, reporting progress after each; errors end it with `ok=False` and a message."""
        progress = DeployProgress(dag_id=config.dag_id)
        report = on_progress or (lambda _progress: None)
        job = _Deployment(config, progress, datetime.now(UTC), cancelled or (lambda: False), report)
        current = progress.steps[0]
        try:
            for step in progress.steps:
                current = step
                if job.cancelled():
                    raise DeployCancelled("deployment cancelled; nothing after the last ticked step was done")
                step.state = StepState.RUNNING
                report(progress)
                step.state, step.detail = self._steps[step.key](job)
                report(progress)
            progress.ok = True
        except BacktestError as exc:
            current.state = StepState.FAILED
            current.detail = exc.message
            progress.error = exc.message
            log.info("deploy of %s failed at %s: %s", config.dag_id, current.key, exc.message)
        progress.finished = True
        report(progress)
        return progress

    def _step_render(self, job: _Deployment) -> tuple[StepState, str]:
        job.rendered = render_dag(job.config).encode("utf-8")
        self._patiently(job, lambda: self._refuse_foreign(job.config))
        return StepState.DONE, f"{dag_filename(job.config)}, {len(job.rendered):,} bytes"

    def _upload_if_changed(self, key: str, data: bytes, progress: DeployProgress) -> bool:
        current = self._store.head(key)
        if current is not None and current.sha256 == sha256_hex(data):
            return False
        stored = self._store.put(key, data)
        if stored.sha256 != sha256_hex(data):
            raise StorageError(f"{key} was stored with a different checksum; try again")
        progress.uploaded.append(key)
        return True

    def _step_framework(self, job: _Deployment) -> tuple[StepState, str]:
        files = framework_files()
        changed = [key for key, data in files.items() if self._upload_if_changed(key, data, job.progress)]
        if not changed:
            return StepState.SKIPPED, f"{len(files)} files unchanged"
        return StepState.DONE, f"{len(changed)} of {len(files)} files uploaded"

    def _step_dag(self, job: _Deployment) -> tuple[StepState, str]:
        key = dag_filename(job.config)
        if not self._upload_if_changed(key, job.rendered, job.progress):
            return StepState.SKIPPED, f"{key} unchanged"
        return StepState.DONE, f"{key} uploaded to {self._store.describe()}"

    def _step_register(self, job: _Deployment) -> tuple[StepState, str]:
        config = job.config
        filename, wanted = dag_filename(config), dag_description(config)
        give_up_at = self._clock.monotonic() + self._register_timeout_s
        while True:
            dag = self._patiently(job, lambda: self._client.find_dag(config.dag_id))
            if dag is not None and dag.description == wanted and not dag.is_stale:
                job.dag = dag
                return StepState.DONE, f"registered as {config.dag_id}"
            error = self._patiently(job, lambda: self._client.import_error_for(filename))
            if error is not None and (
                dag is None
                or error.timestamp is None
                or error.timestamp >= job.started_at - IMPORT_ERROR_SLACK
            ):
                job.progress.error_detail = clean_import_error(error.stack_trace)
                raise BacktestError(f"Airflow cannot import {filename}: {error.summary}")
            if self._clock.monotonic() > give_up_at:
                raise BacktestError(
                    f"Airflow did not register {config.dag_id} within {self._register_timeout_s:.0f} s; "
                    "check that its DAG processor is running"
                )
            if job.cancelled():
                raise DeployCancelled("deployment cancelled while waiting for Airflow")
            self._clock.sleep(self._poll_interval_s)

    def _step_unpause(self, job: _Deployment) -> tuple[StepState, str]:
        if job.dag is not None and not job.dag.is_paused:
            return StepState.SKIPPED, "already unpaused"
        # Unpausing twice is harmless: a call that timed out (and may have been applied) is sent again.
        self._patiently(job, lambda: self._client.set_paused(job.config.dag_id, False))
        return StepState.DONE, "unpaused"

    def _patiently(self, job: _Deployment, call: Callable[[], T]) -> T:
        """`call` (safe to repeat), asked again while Airflow is unavailable, for up to
        BUSY_AIRFLOW_PATIENCE_S; the last error once that is over or the user cancelled."""
        give_up_at = self._clock.monotonic() + BUSY_AIRFLOW_PATIENCE_S
        while True:
            try:
                return call()
            except Unavailable as exc:
                left_s = give_up_at - self._clock.monotonic()
                if job.cancelled() or left_s <= self._poll_interval_s:
                    raise
                log.info("deploy of %s: %s; asking again", job.config.dag_id, exc.message)
                for step in job.progress.steps:  # the page says why the step takes long
                    if step.state is StepState.RUNNING:
                        step.detail = f"{exc.message}; asking again for up to {left_s:.0f} s"
                job.report(job.progress)
            self._clock.sleep(self._poll_interval_s)


def _longest_run_path(dag_id: str) -> str:
    """`/dags/{dag_id}/dagRuns/{run_id}` with the longest run id the app gives a run."""
    return api_path("dags", dag_id, "dagRuns", "r" * RUN_ID_MAX_CHARS)
