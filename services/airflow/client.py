"""Airflow REST client over a transport: one set of typed models from /api/v2 (Airflow 3) and /api/v1."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, TypeVar
from urllib.parse import quote

from pydantic import ValidationError

from services.airflow.dialect import ApiDialect, ApiVersion, Raw, dialect_for
from services.airflow.models import (
    DagInfo,
    DagRun,
    HealthInfo,
    ImportErrorInfo,
    RunState,
    TaskInstance,
    TaskKey,
    VersionInfo,
)
from services.airflow.transport import AirflowTransport, ApiRequest, QueryValue
from services.errors import BacktestError, BadRequest, NotFound, http_error

log = logging.getLogger(__name__)

# Small pages: MWAA's InvokeRestApi gives each call 10 s, and Airflow caps `limit` at 100 by default.
DAG_PAGE_SIZE = 100
TASK_INSTANCE_PAGE_SIZE = 100
IMPORT_ERROR_PAGE_SIZE = 50
DEFAULT_RUN_LIMIT = 20
MAX_PAGES = 1000  # a guard against a server whose paging never ends
LATEST_RUNS_MAX_PAGES = 10
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
    429/5xx Unavailable, other 4xx BadRequest. Version differences live in `services.airflow.dialect`.

    `api_version` may be a function (e.g. asking MWAA's GetEnvironment): it is called at the first
    request, not here. With a `max_path_length` (MWAA's InvokeRestApi: 64) the same answers come through
    short-path endpoints where a path would be longer (`/dags/~/dagRuns/list`, `GET /dags?dag_id_pattern`,
    `/dags/~/dagRuns/~/taskInstances/list`); calls with no such alternative raise BadRequest.
    """

    def __init__(
        self,
        transport: AirflowTransport,
        api_version: ApiVersion | Callable[[], ApiVersion] = "v2",
        *,
        page_size: int = TASK_INSTANCE_PAGE_SIZE,
        max_path_length: int | None = None,
    ) -> None:
        self._transport = transport
        self._version_source = api_version
        self._resolved: ApiDialect | None = None if callable(api_version) else dialect_for(api_version)
        self._version_lock = threading.Lock()
        self._page_size = page_size
        self.max_path_length = max_path_length

    def __repr__(self) -> str:
        version = self._resolved.version if self._resolved is not None else "detect"
        return f"AirflowClient({self._transport!r}, api_version={version!r})"

    @property
    def _dialect(self) -> ApiDialect:
        if self._resolved is None:
            with self._version_lock:
                if self._resolved is None:
                    source = self._version_source
                    self._resolved = dialect_for(source() if callable(source) else source)
        return self._resolved

    @property
    def api_version(self) -> ApiVersion:
        return self._dialect.version

    def fits(self, path: str) -> bool:
        """Whether the API accepts `path` (always, unless the client has a `max_path_length`)."""
        return self.max_path_length is None or len(path) <= self.max_path_length

    # ---- plumbing ---------------------------------------------------------------------------

    def _call(
        self, method: str, path: str, params: Mapping[str, QueryValue] | None = None, body: Any = None
    ) -> Any:
        request = ApiRequest(method=method, path=path, params=dict(params or {}), json=body)
        if not self.fits(path):
            raise BadRequest(
                f"Airflow {request.describe()}: the path has {len(path)} characters and this connection "
                f"(MWAA InvokeRestApi) accepts at most {self.max_path_length}; use a shorter sweep name"
            )
        response = self._transport(request)
        if not response.ok:
            raise http_error(response.status, response.body, f"Airflow {request.describe()}")
        return response.json

    def _parse(self, build: Callable[[Raw], M], raw: Any, what: str) -> M:
        try:
            return build(raw)
        except (ValidationError, KeyError, TypeError) as exc:
            raise BacktestError(f"unexpected answer from Airflow to {what}: {exc}") from None

    def _paged(
        self,
        method: str,
        path: str,
        key: str,
        page_size: int,
        page: Callable[[int, int], tuple[Mapping[str, QueryValue] | None, Any]],
    ) -> Iterator[Raw]:
        """Every item of a paged collection; `page(offset, limit)` gives one request's (params, body).
        Robust to a server-side cap on the page size; stops after MAX_PAGES."""
        offset = 0
        for _ in range(MAX_PAGES):
            params, body = page(offset, page_size)
            answer = self._call(method, path, params, body=body) or {}
            items = answer.get(key) or []
            yield from items
            offset += len(items)
            total = answer.get("total_entries")
            if (
                not items
                or (total is not None and offset >= total)
                or (total is None and len(items) < page_size)
            ):
                return
        log.warning("%s %s: stopped after %d pages", method, path, MAX_PAGES)

    def _pages(
        self, path: str, key: str, page_size: int, params: Mapping[str, QueryValue] | None = None
    ) -> Iterator[Raw]:
        """Every item of a `GET` collection paged with limit/offset."""
        return self._paged(
            "GET",
            path,
            key,
            page_size,
            lambda offset, limit: ({**(params or {}), "limit": limit, "offset": offset}, None),
        )

    def _post_pages(
        self, path: str, key: str, body_for: Callable[[int, int], dict[str, Any]], page_size: int
    ) -> Iterator[Raw]:
        """Every item of a batch (`POST .../list`) collection, paged with page_offset/page_limit."""
        return self._paged(
            "POST", path, key, page_size, lambda offset, limit: (None, body_for(offset, limit))
        )

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
        if not self.fits(path):
            return self._get_dag_by_pattern(dag_id)
        return self._parse(self._dialect.dag, self._call("GET", path), f"GET {path}")

    def _dags_matching(self, dag_id: str, params: Mapping[str, QueryValue]) -> list[Raw]:
        """Raw DAGs `GET /dags?dag_id_pattern=` finds for `dag_id` (a substring/LIKE match: a superset)."""
        return list(self._pages("/dags", "dags", DAG_PAGE_SIZE, {**params, "dag_id_pattern": dag_id}))

    def _get_dag_by_pattern(self, dag_id: str) -> DagInfo:
        for raw in self._dags_matching(dag_id, self._dialect.every_dag_params):
            if raw.get("dag_id") == dag_id:
                return self._parse(self._dialect.dag, raw, "GET /dags")
        raise NotFound(f"Airflow has no DAG {dag_id}", status=404)

    def find_dag(self, dag_id: str) -> DagInfo | None:
        """`get_dag`, but None instead of NotFound (for polling until a DAG registers)."""
        try:
            return self.get_dag(dag_id)
        except NotFound:
            return None

    def set_paused(self, dag_id: str, paused: bool) -> DagInfo:
        """Pause or unpause: `PATCH /dags/{dag_id}?update_mask=is_paused` with `{"is_paused": ...}`."""
        path = api_path("dags", dag_id)
        if not self.fits(path):
            return self._set_paused_by_pattern(dag_id, paused)
        raw = self._call("PATCH", path, {"update_mask": "is_paused"}, {"is_paused": paused})
        return self._parse(self._dialect.dag, raw, f"PATCH {path}")

    def _set_paused_by_pattern(self, dag_id: str, paused: bool) -> DagInfo:
        """`PATCH /dags?dag_id_pattern=...`, sent only when the pattern matches this DAG alone."""
        matches = sorted(str(raw.get("dag_id")) for raw in self._dags_matching(dag_id, {}))
        if dag_id not in matches:
            raise NotFound(f"Airflow has no DAG {dag_id}", status=404)
        if matches != [dag_id]:
            others = ", ".join(m for m in matches if m != dag_id)
            raise BadRequest(
                f"cannot {'pause' if paused else 'unpause'} {dag_id} through a connection that limits paths "
                f"to {self.max_path_length} characters: its id pattern also matches {others}; "
                "use a shorter sweep name"
            )
        params = {"dag_id_pattern": dag_id, "update_mask": "is_paused", "limit": DAG_PAGE_SIZE}
        body = self._call("PATCH", "/dags", params, {"is_paused": paused}) or {}
        for raw in body.get("dags") or []:
            if raw.get("dag_id") == dag_id:
                return self._parse(self._dialect.dag, raw, "PATCH /dags")
        raise NotFound(f"Airflow has no DAG {dag_id}", status=404)

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
        if self.fits(path):
            what = f"GET {path}"
            body = self._call(
                "GET", path, {"limit": limit, "offset": 0, "order_by": self._dialect.runs_newest_first}
            )
        else:  # a DAG id too long for MWAA's path limit: the batch endpoint filters by body
            what = f"POST {self._dialect.runs_batch_path}"
            batch_body = self._dialect.runs_batch_body([dag_id], 0, limit)
            body = self._call("POST", self._dialect.runs_batch_path, body=batch_body)
        return [self._parse(self._dialect.run, raw, what) for raw in (body or {}).get("dag_runs") or []]

    def latest_runs(
        self, dag_ids: Sequence[str], max_pages: int = LATEST_RUNS_MAX_PAGES
    ) -> dict[str, DagRun]:
        """The newest run of each DAG in `dag_ids`; DAGs without runs are absent.

        Pages `POST /dags/~/dagRuns/list` (every DAG at once, newest first) until each DAG has
        its run or the runs end: a few requests for thousands of sweeps. Past `max_pages` (DAGs
        with long histories crowd the pages), the DAGs still missing are asked one by one."""
        wanted = set(dag_ids)
        latest: dict[str, DagRun] = {}
        if not wanted:
            return latest
        batch, dialect, ids = self._dialect.runs_batch_path, self._dialect, sorted(wanted)

        def body_for(offset: int, limit: int) -> dict[str, Any]:
            return dialect.runs_batch_body(ids, offset, limit)

        capped = False
        pages = self._post_pages(batch, "dag_runs", body_for, self._page_size)
        for read, raw in enumerate(pages, start=1):
            if raw.get("dag_id") in wanted and raw["dag_id"] not in latest:
                latest[raw["dag_id"]] = self._parse(dialect.run, raw, f"POST {batch}")
                if len(latest) == len(wanted):
                    break
            if read >= max_pages * self._page_size:
                capped = True
                break
        if capped:
            for dag_id in sorted(wanted - set(latest)):
                runs = self.list_runs(dag_id, limit=1)
                if runs:
                    latest[dag_id] = runs[0]
        return latest

    def get_run(self, dag_id: str, run_id: str) -> DagRun:
        """One run: `GET /dags/{dag_id}/dagRuns/{run_id}`; NotFound when missing.

        Where that path is too long (MWAA, any manual run id), the DAG's runs are paged newest
        first through `POST /dags/~/dagRuns/list` until the run turns up."""
        path = api_path("dags", dag_id, "dagRuns", run_id)
        if self.fits(path):
            return self._parse(self._dialect.run, self._call("GET", path), f"GET {path}")
        batch, dialect = self._dialect.runs_batch_path, self._dialect

        def body_for(offset: int, limit: int) -> dict[str, Any]:
            return dialect.runs_batch_body([dag_id], offset, limit)

        for raw in self._post_pages(batch, "dag_runs", body_for, DEFAULT_RUN_LIMIT):
            if raw.get("dag_run_id", raw.get("run_id")) == run_id:
                return self._parse(self._dialect.run, raw, f"POST {batch}")
        raise NotFound(f"Airflow has no run {run_id} of DAG {dag_id}", status=404)

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
        for raw in self._task_instance_pages(path, dag_id, run_id):
            ti = self._parse(lambda r: build(r, dag_id=dag_id, run_id=run_id), raw, f"GET {path}")
            if ti.dag_id == dag_id and ti.run_id == run_id:
                found[(ti.task_id, ti.map_index)] = ti  # a run that expands while we page can repeat items
        return [found[key] for key in sorted(found)]

    def _task_instance_pages(self, path: str, dag_id: str, run_id: str) -> Iterator[Raw]:
        if self.fits(path):
            return self._pages(path, "task_instances", self._page_size)
        # The run id alone makes the path too long for MWAA: ask the batch endpoint instead.
        batch, dialect = self._dialect.task_instances_batch_path, self._dialect

        def body_for(offset: int, limit: int) -> dict[str, Any]:
            return dialect.task_instances_batch_body(dag_id, run_id, offset, limit)

        if dialect.task_instances_batch_paged:
            return self._post_pages(batch, "task_instances", body_for, self._page_size)
        body = self._call("POST", batch, body=body_for(0, self._page_size)) or {}
        return iter(body.get("task_instances") or [])

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
