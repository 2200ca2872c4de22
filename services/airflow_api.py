"""Airflow REST client over a transport: one set of typed models from /api/v2 (Airflow 3) and /api/v1."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, TypeVar
from urllib.parse import quote

from pydantic import ValidationError

from services.airflow_dialect import ApiVersion, Raw, dialect_for
from services.airflow_models import (
    UNMAPPED,
    ComponentHealth,
    DagInfo,
    DagRun,
    HealthInfo,
    ImportErrorInfo,
    RunState,
    TaskInstance,
    TaskKey,
    TaskState,
    VersionInfo,
)
from services.airflow_transport import AirflowTransport, ApiRequest, ApiResponse, QueryValue
from services.errors import BacktestError, BadRequest, NotFound, http_error

__all__ = [
    "UNMAPPED",
    "AirflowClient",
    "AirflowTransport",
    "ApiRequest",
    "ApiResponse",
    "ComponentHealth",
    "DagInfo",
    "DagRun",
    "HealthInfo",
    "ImportErrorInfo",
    "RunState",
    "TaskInstance",
    "TaskKey",
    "TaskState",
    "VersionInfo",
    "api_path",
]

log = logging.getLogger(__name__)

# Small pages: MWAA's InvokeRestApi gives each call 10 s, and Airflow caps `limit` at 100 by default.
DAG_PAGE_SIZE = 100
TASK_INSTANCE_PAGE_SIZE = 100
IMPORT_ERROR_PAGE_SIZE = 50
DEFAULT_RUN_LIMIT = 20
MAX_PAGES = 1000  # a guard against a server whose paging never ends
SETTABLE_RUN_STATES = frozenset({RunState.QUEUED, RunState.SUCCESS, RunState.FAILED})

M = TypeVar("M")
TaskRef = str | TaskKey | tuple[str, int]


def api_path(*parts: object) -> str:
    """A path relative to the API root, each part percent-encoded (run ids hold `:` and `+`)."""
    return "".join("/" + quote(str(part), safe="") for part in parts)


def _task_key(ref: TaskRef) -> TaskKey:
    if isinstance(ref, TaskKey):
        return ref
    if isinstance(ref, str):
        return TaskKey(task_id=ref)
    task_id, map_index = ref
    return TaskKey(task_id=task_id, map_index=map_index)


class AirflowClient:
    """Typed calls to Airflow's REST API through any `AirflowTransport` (HTTP, MWAA, a test function).

    Non-2xx answers become the project's errors: 404 NotFound, 409 Conflict, 401/403 AuthError,
    429/5xx Unavailable, other 4xx BadRequest. Version differences live in `services.airflow_dialect`.
    """

    def __init__(
        self,
        transport: AirflowTransport,
        api_version: ApiVersion = "v2",
        *,
        page_size: int = TASK_INSTANCE_PAGE_SIZE,
    ) -> None:
        self._transport = transport
        self._dialect = dialect_for(api_version)
        self._page_size = page_size

    def __repr__(self) -> str:
        return f"AirflowClient({self._transport!r}, api_version={self.api_version!r})"

    @property
    def api_version(self) -> ApiVersion:
        return self._dialect.version

    # ---- plumbing ---------------------------------------------------------------------------

    def _call(
        self, method: str, path: str, params: Mapping[str, QueryValue] | None = None, body: Any = None
    ) -> Any:
        request = ApiRequest(method=method, path=path, params=dict(params or {}), json=body)
        response = self._transport(request)
        if not response.ok:
            raise http_error(response.status, response.body, f"Airflow {request.describe()}")
        return response.json

    def _parse(self, build: Callable[[Raw], M], raw: Any, what: str) -> M:
        try:
            return build(raw)
        except (ValidationError, KeyError, TypeError) as exc:
            raise BacktestError(f"unexpected answer from Airflow to {what}: {exc}") from None

    def _pages(
        self, path: str, key: str, page_size: int, params: Mapping[str, QueryValue] | None = None
    ) -> Iterator[Raw]:
        """Every item of a `limit`/`offset` collection, page by page (robust to a server-side cap)."""
        offset = 0
        for _ in range(MAX_PAGES):
            body = self._call("GET", path, {**(params or {}), "limit": page_size, "offset": offset}) or {}
            items = body.get(key) or []
            yield from items
            offset += len(items)
            total = body.get("total_entries")
            if (
                not items
                or (total is not None and offset >= total)
                or (total is None and len(items) < page_size)
            ):
                return
        log.warning("GET %s: stopped after %d pages", path, MAX_PAGES)

    # ---- server -----------------------------------------------------------------------------

    def version(self) -> VersionInfo:
        """Airflow's version: `GET /version`."""
        return self._parse(self._dialect.version_info, self._call("GET", "/version"), "GET /version")

    def health(self) -> HealthInfo:
        """Component health: `GET /monitor/health` (v2) or `GET /health` (v1)."""
        path = self._dialect.health_path
        return self._parse(self._dialect.health, self._call("GET", path), f"GET {path}")

    # ---- DAGs -------------------------------------------------------------------------------

    def get_dag(self, dag_id: str) -> DagInfo:
        """One DAG: `GET /dags/{dag_id}`; NotFound when Airflow has not registered it."""
        path = api_path("dags", dag_id)
        return self._parse(self._dialect.dag, self._call("GET", path), f"GET {path}")

    def find_dag(self, dag_id: str) -> DagInfo | None:
        """`get_dag`, but None instead of NotFound (for polling until a DAG registers)."""
        try:
            return self.get_dag(dag_id)
        except NotFound:
            return None

    def list_dags(
        self, prefix: str | None = None, tags: Iterable[str] | None = None, paused: bool | None = None
    ) -> list[DagInfo]:
        """DAGs whose id starts with `prefix` and that carry any of `tags`: `GET /dags`, all pages."""
        params: dict[str, QueryValue] = {}
        if prefix:
            params["dag_id_pattern"] = prefix  # a substring match server-side; narrowed below
        if tags:
            params["tags"] = list(tags)
        if paused is not None:
            params["paused"] = paused
        dags = [
            self._parse(self._dialect.dag, raw, "GET /dags")
            for raw in self._pages("/dags", "dags", DAG_PAGE_SIZE, params)
        ]
        return [dag for dag in dags if not prefix or dag.dag_id.startswith(prefix)]

    def set_paused(self, dag_id: str, paused: bool) -> DagInfo:
        """Pause or unpause: `PATCH /dags/{dag_id}?update_mask=is_paused` with `{"is_paused": ...}`."""
        path = api_path("dags", dag_id)
        raw = self._call("PATCH", path, {"update_mask": "is_paused"}, {"is_paused": paused})
        return self._parse(self._dialect.dag, raw, f"PATCH {path}")

    def reparse_file(self, file_token: str) -> None:
        """Ask the DAG processor to parse a file now: `PUT /parseDagFile/{file_token}` (v2 only)."""
        if not self._dialect.can_reparse:
            raise BadRequest(f"Airflow API {self.api_version} has no parseDagFile endpoint")
        self._call("PUT", api_path("parseDagFile", file_token))

    # ---- runs -------------------------------------------------------------------------------

    def trigger(
        self,
        dag_id: str,
        conf: Mapping[str, Any] | None = None,
        *,
        run_id: str | None = None,
        note: str | None = None,
    ) -> DagRun:
        """Start a run: `POST /dags/{dag_id}/dagRuns` (v2 body carries `"logical_date": null`)."""
        path = api_path("dags", dag_id, "dagRuns")
        raw = self._call("POST", path, body=self._dialect.trigger_body(conf or {}, run_id, note))
        return self._parse(self._dialect.run, raw, f"POST {path}")

    def list_runs(self, dag_id: str, limit: int = DEFAULT_RUN_LIMIT) -> list[DagRun]:
        """The newest `limit` runs, newest first: `GET /dags/{dag_id}/dagRuns?order_by=-run_after`."""
        path = api_path("dags", dag_id, "dagRuns")
        body = self._call(
            "GET", path, {"limit": limit, "offset": 0, "order_by": self._dialect.runs_newest_first}
        )
        return [
            self._parse(self._dialect.run, raw, f"GET {path}") for raw in (body or {}).get("dag_runs") or []
        ]

    def get_run(self, dag_id: str, run_id: str) -> DagRun:
        """One run: `GET /dags/{dag_id}/dagRuns/{run_id}`; NotFound when missing."""
        path = api_path("dags", dag_id, "dagRuns", run_id)
        return self._parse(self._dialect.run, self._call("GET", path), f"GET {path}")

    def set_run_state(self, dag_id: str, run_id: str, state: RunState | str) -> DagRun:
        """Mark a run queued/success/failed (failed = cancel): `PATCH /dags/{dag_id}/dagRuns/{run_id}`."""
        wanted = RunState.parse(state)
        if wanted not in SETTABLE_RUN_STATES:
            raise BadRequest(
                f"a run can only be set to {', '.join(sorted(SETTABLE_RUN_STATES))}, not '{state}'"
            )
        path = api_path("dags", dag_id, "dagRuns", run_id)
        raw = self._call("PATCH", path, body={"state": wanted.value})
        return self._parse(self._dialect.run, raw, f"PATCH {path}")

    # ---- task instances -----------------------------------------------------------------------

    def list_task_instances(self, dag_id: str, run_id: str) -> list[TaskInstance]:
        """Every task instance of a run, each mapped one with its map_index, sorted by (task_id, map_index):
        `GET /dags/{dag_id}/dagRuns/{run_id}/taskInstances`, paged with limit/offset."""
        path = api_path("dags", dag_id, "dagRuns", run_id, "taskInstances")
        build = self._dialect.task_instance
        found: dict[tuple[str, int], TaskInstance] = {}
        for raw in self._pages(path, "task_instances", self._page_size):
            ti = self._parse(lambda r: build(r, dag_id=dag_id, run_id=run_id), raw, f"GET {path}")
            found[(ti.task_id, ti.map_index)] = ti  # a run that expands while we page can repeat items
        return [found[key] for key in sorted(found)]

    def clear_task_instances(
        self,
        dag_id: str,
        run_id: str,
        tasks: Iterable[TaskRef] | None = None,
        *,
        only_failed: bool = True,
        include_downstream: bool = False,
        dry_run: bool = False,
    ) -> list[TaskKey]:
        """Re-run task instances of one run: `POST /dags/{dag_id}/clearTaskInstances`.

        `tasks`: task ids (every map index) or (task_id, map_index) pairs; None = the whole run.
        Airflow's own default is a dry run; this sends `dry_run=False` unless asked. Returns what
        was (or, dry, would be) cleared.
        """
        keys = None if tasks is None else [_task_key(ref) for ref in tasks]
        if keys is not None and not keys:
            return []
        body = self._dialect.clear_body(
            run_id, keys, only_failed=only_failed, include_downstream=include_downstream, dry_run=dry_run
        )
        path = api_path("dags", dag_id, "clearTaskInstances")
        raw = self._call("POST", path, body=body) or {}
        return [
            self._parse(self._dialect.cleared, item, f"POST {path}")
            for item in raw.get("task_instances") or []
        ]

    # ---- import errors ------------------------------------------------------------------------

    def import_errors(self) -> list[ImportErrorInfo]:
        """Files Airflow could not import: `GET /importErrors`, all pages."""
        return [
            self._parse(self._dialect.import_error, raw, "GET /importErrors")
            for raw in self._pages("/importErrors", "import_errors", IMPORT_ERROR_PAGE_SIZE)
        ]

    def import_error_for(self, filename: str) -> ImportErrorInfo | None:
        """The import error about `filename` (absolute or relative to the dags folder), if any."""
        return next((error for error in self.import_errors() if error.refers_to(filename)), None)
