"""An in-memory Airflow REST API (v2, or v1) for the AirflowClient's unit tests; records every request."""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

from services.airflow.transport import ApiRequest, ApiResponse


class FakeAirflowApi:
    """An in-memory Airflow answering like /api/v2 (or v1); records every request it gets."""

    def __init__(self, version: str = "v2", page_cap: int = 100) -> None:
        self.version = version
        self.page_cap = page_cap  # Airflow's maximum_page_limit
        self.dags: dict[str, dict[str, Any]] = {}
        self.runs: dict[tuple[str, str], dict[str, Any]] = {}
        self.tis: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self.import_errors: list[dict[str, Any]] = []
        self.requests: list[ApiRequest] = []

    # ---- state helpers ----
    def add_dag(self, dag_id: str, tags: tuple[str, ...] = (), paused: bool = True) -> None:
        dag = {
            "dag_id": dag_id,
            "is_paused": paused,
            "fileloc": f"/opt/airflow/dags/{dag_id}.py",
            "owners": ["a"],
        }
        dag["tags"] = [{"name": tag, "dag_id": dag_id} for tag in tags]
        if self.version == "v2":
            dag |= {"is_stale": False, "relative_fileloc": f"{dag_id}.py", "has_import_errors": False}
        else:
            dag |= {"is_active": True, "file_token": "tok", "schedule_interval": None}
        self.dags[dag_id] = dag

    def add_run(
        self, dag_id: str, run_id: str, state: str | None = "running", when: str = "2026-01-02"
    ) -> None:
        run: dict[str, Any] = {"dag_id": dag_id, "dag_run_id": run_id, "state": state, "run_type": "manual"}
        run |= {"start_date": f"{when}T00:00:01Z", "end_date": None, "conf": {"k": 1}}
        if self.version == "v2":
            run |= {"logical_date": None, "run_after": f"{when}T00:00:00Z", "queued_at": f"{when}T00:00:00Z"}
        else:
            run |= {"execution_date": f"{when}T00:00:00+00:00", "external_trigger": True}
        self.runs[(dag_id, run_id)] = run
        self.tis.setdefault((dag_id, run_id), [])

    def add_ti(
        self, dag_id: str, run_id: str, task_id: str, map_index: int = -1, state: str | None = None
    ) -> None:
        ti = {
            "task_id": task_id,
            "dag_id": dag_id,
            "dag_run_id": run_id,
            "map_index": map_index,
            "state": state,
        }
        ti |= {"try_number": 1, "max_tries": 0, "start_date": None, "end_date": None, "duration": None}
        ti |= {"execution_date" if self.version == "v1" else "logical_date": None, "hostname": ""}
        self.tis[(dag_id, run_id)].append(ti)

    # ---- the transport ----
    def __call__(self, request: ApiRequest) -> ApiResponse:
        self.requests.append(request)
        parts = [unquote(p) for p in request.path.strip("/").split("/")]
        route = f"{request.method} /" + "/".join(p if p in ROUTE_WORDS else "*" for p in parts)
        handler = ROUTES.get(route)
        if handler is None:
            return ApiResponse(404, {"detail": "Not Found"})
        return handler(self, request, [p for p in parts if p not in ROUTE_WORDS])

    def page(self, items: list[Any], key: str, request: ApiRequest) -> ApiResponse:
        limit = min(int(request.params.get("limit", 50)), self.page_cap)
        offset = int(request.params.get("offset", 0))
        return ApiResponse(200, {key: items[offset : offset + limit], "total_entries": len(items)})

    def not_found(self, what: str) -> ApiResponse:
        if self.version == "v1":
            return ApiResponse(404, {"title": f"{what} not found", "status": 404, "type": "about:blank"})
        return ApiResponse(404, {"detail": f"The {what} was not found"})


def _version(fake: FakeAirflowApi, request: ApiRequest, args: list[str]) -> ApiResponse:
    return ApiResponse(200, {"version": "3.3.2" if fake.version == "v2" else "2.10.3", "git_version": None})


def _health(fake: FakeAirflowApi, request: ApiRequest, args: list[str]) -> ApiResponse:
    heartbeat = "2026-01-01T00:00:00+00:00"
    return ApiResponse(
        200,
        {
            "metadatabase": {"status": "healthy"},
            "scheduler": {"status": "healthy", "latest_scheduler_heartbeat": heartbeat},
            "triggerer": {"status": None, "latest_triggerer_heartbeat": None},
        },
    )


def _dags(fake: FakeAirflowApi, request: ApiRequest, args: list[str]) -> ApiResponse:
    pattern = str(request.params.get("dag_id_pattern", ""))
    tags = set(request.params.get("tags") or ())  # type: ignore[arg-type]
    found = [
        dag
        for dag_id, dag in sorted(fake.dags.items())
        if pattern in dag_id and (not tags or tags & {t["name"] for t in dag["tags"]})
    ]
    return fake.page(found, "dags", request)


def _dag(fake: FakeAirflowApi, request: ApiRequest, args: list[str]) -> ApiResponse:
    dag = fake.dags.get(args[0])
    if dag is None:
        return fake.not_found(f"Dag with ID: `{args[0]}`")
    if request.method == "PATCH":
        assert request.params.get("update_mask") == "is_paused"
        dag["is_paused"] = request.json["is_paused"]
    return ApiResponse(200, dag)


def _runs(fake: FakeAirflowApi, request: ApiRequest, args: list[str]) -> ApiResponse:
    dag_id = args[0]
    if dag_id not in fake.dags:
        return fake.not_found(f"Dag with ID: `{dag_id}`")
    if request.method == "POST":
        body = request.json
        if fake.version == "v2" and "logical_date" not in body:
            return ApiResponse(
                422,
                {"detail": [{"type": "missing", "loc": ["body", "logical_date"], "msg": "Field required"}]},
            )
        run_id = body.get("dag_run_id") or f"manual__2026-02-0{len(fake.runs) + 1}T00:00:00+00:00"
        if (dag_id, run_id) in fake.runs:
            return ApiResponse(
                409, {"detail": {"reason": "Unique constraint violation", "statement": "hidden"}}
            )
        fake.add_run(dag_id, run_id, state="queued")
        fake.runs[(dag_id, run_id)]["conf"] = body.get("conf")
        return ApiResponse(200, fake.runs[(dag_id, run_id)])
    newest = "-run_after" if fake.version == "v2" else "-execution_date"
    assert request.params.get("order_by") == newest
    runs = sorted(
        (r for (d, _), r in fake.runs.items() if d == dag_id), key=lambda r: r["start_date"], reverse=True
    )
    return fake.page(runs, "dag_runs", request)


def _run(fake: FakeAirflowApi, request: ApiRequest, args: list[str]) -> ApiResponse:
    run = fake.runs.get((args[0], args[1]))
    if run is None:
        return fake.not_found(f"DagRun `{args[1]}`")
    if request.method == "PATCH":
        run["state"] = request.json["state"]
    return ApiResponse(200, run)


def _tis(fake: FakeAirflowApi, request: ApiRequest, args: list[str]) -> ApiResponse:
    if (args[0], args[1]) not in fake.runs:
        return fake.not_found(f"DagRun `{args[1]}`")
    return fake.page(fake.tis[(args[0], args[1])], "task_instances", request)


def _clear(fake: FakeAirflowApi, request: ApiRequest, args: list[str]) -> ApiResponse:
    body = request.json
    wanted = body.get("task_ids")
    hits = []
    for ti in fake.tis[(args[0], body["dag_run_id"])]:
        if body.get("only_failed", True) and ti["state"] not in ("failed", "upstream_failed"):
            continue
        if wanted is None or ti["task_id"] in wanted or [ti["task_id"], ti["map_index"]] in wanted:
            hits.append(ti)
    if not body.get("dry_run", True):
        for ti in hits:
            ti["state"] = None
    if fake.version == "v1":
        refs = [
            {"task_id": ti["task_id"], "dag_id": args[0], "dag_run_id": body["dag_run_id"]} for ti in hits
        ]
        return ApiResponse(200, {"task_instances": refs})
    return ApiResponse(200, {"task_instances": hits, "total_entries": len(hits)})


def _import_errors(fake: FakeAirflowApi, request: ApiRequest, args: list[str]) -> ApiResponse:
    return fake.page(fake.import_errors, "import_errors", request)


def _runs_batch(fake: FakeAirflowApi, request: ApiRequest, args: list[str]) -> ApiResponse:
    """`POST /dags/~/dagRuns/list`: runs of `dag_ids`, newest first, paged by page_offset/page_limit."""
    if args != ["~", "list"]:
        return ApiResponse(405, {"detail": "Method Not Allowed"})
    body = request.json or {}
    wanted = set(body.get("dag_ids") or fake.dags)
    runs = sorted(
        (r for (d, _), r in fake.runs.items() if d in wanted), key=lambda r: r["start_date"], reverse=True
    )
    limit = min(int(body.get("page_limit", 100)), fake.page_cap)
    offset = int(body.get("page_offset", 0))
    return ApiResponse(200, {"dag_runs": runs[offset : offset + limit], "total_entries": len(runs)})


ROUTE_WORDS = {
    "version",
    "monitor",
    "health",
    "dags",
    "dagRuns",
    "taskInstances",
    "clearTaskInstances",
    "importErrors",
    "parseDagFile",
}
ROUTES = {
    "GET /version": _version,
    "GET /monitor/health": _health,
    "GET /health": _health,
    "GET /dags": _dags,
    "GET /dags/*": _dag,
    "PATCH /dags/*": _dag,
    "GET /dags/*/dagRuns": _runs,
    "POST /dags/*/dagRuns": _runs,
    "GET /dags/*/dagRuns/*": _run,
    "PATCH /dags/*/dagRuns/*": _run,
    "POST /dags/*/dagRuns/*": _runs_batch,
    "GET /dags/*/dagRuns/*/taskInstances": _tis,
    "POST /dags/*/clearTaskInstances": _clear,
    "GET /importErrors": _import_errors,
    "PUT /parseDagFile/*": lambda fake, request, args: ApiResponse(201, None),
}
