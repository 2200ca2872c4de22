"""An in-memory Airflow 3 REST API over a real dags folder, for the benchmarks and the services' tests."""

from __future__ import annotations

import ast
import threading
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import unquote

from airflow_backtest_framework import engine_contract as ec
from airflow_backtest_framework.config import SweepConfig
from airflow_backtest_framework.dag_factory import dag_description
from services.airflow.transport import ApiRequest, ApiResponse
from services.errors import Unavailable

# CPython 3.11's ast.parse is not thread-safe (gh-106905: a spurious "AST constructor recursion depth
# mismatch"), and the fake answers concurrent requests (an HTTP server's threads, parallel polls).
_PARSE_LOCK = threading.Lock()
STARTED_STATES = frozenset({"running", "success", "failed", "up_for_retry"})


def _now() -> str:
    return datetime.now(UTC).isoformat()


@dataclass
class FakeDagRun:
    run_id: str
    conf: dict
    state: str = "queued"
    start_date: str | None = None
    end_date: str | None = None
    chunk_states: dict[int, str | None] = field(default_factory=dict)
    chunk_ends: dict[int, str] = field(default_factory=dict)  # map index -> end_date of a finished chunk
    other_states: dict[str, str | None] = field(
        default_factory=lambda: {ec.PLAN_TASK_ID: None, ec.SUMMARY_TASK_ID: None}
    )


class FakeDagsFolderAirflow:
    """Call it with an ApiRequest; inspect `requests`, set `down`, drive runs with `set_states`.

    It "parses" the dags folder the way Airflow would, as far as the services can tell: a file named
    `<dag_id>.py` holding a generated spec registers that DAG with the factory's description; a file
    that does not compile becomes an import error. Runs and task instances are driven by the caller.
    """

    def __init__(self, dags_folder: Path, version: str = "3.3.2") -> None:
        self.dags_folder = dags_folder
        self.version = version
        self.down = False
        self.paused: dict[str, bool] = {}
        self.runs: dict[str, list[FakeDagRun]] = {}
        self.requests: Counter[str] = Counter()
        self.pages_served = 0

    # ------------------------------------------------------------------------------- parsing

    def _parse(self, dag_id: str) -> tuple[dict | None, dict | None]:
        path = self.dags_folder / f"{dag_id}.py"
        if not path.is_file():
            return None, None
        text = path.read_text()
        try:
            with _PARSE_LOCK:
                tree = ast.parse(text)
        except SyntaxError as exc:
            error = {
                "id": 1,
                "filename": str(path),
                "bundle_name": "dags-folder",
                "timestamp": _now(),
                "stack_trace": f'  File "{path}", line {exc.lineno}\nSyntaxError: {exc.msg}',
            }
            return None, error
        spec = next(
            (
                node.value.value
                for node in tree.body
                if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "SPEC_JSON"
            ),
            None,
        )
        description = (
            dag_description(SweepConfig.from_json(spec, max_grid_points=None)) if spec else "hand-written"
        )
        dag = {
            "dag_id": dag_id,
            "is_paused": self.paused.setdefault(dag_id, True),
            "fileloc": str(path),
            "relative_fileloc": path.name,
            "tags": [],
            "description": description,
            "is_stale": False,
        }
        return dag, None

    # ------------------------------------------------------------------------------- driving

    def set_states(self, dag_id: str, run_id: str, run_state: str, chunks: dict[int, str | None]) -> None:
        run = self._run(dag_id, run_id)
        run.state = run_state
        run.start_date = run.start_date or _now()
        if run_state in ("success", "failed"):
            run.end_date = _now()
        run.chunk_states.update(chunks)
        for index, state in chunks.items():
            if state in ("success", "failed"):
                run.chunk_ends.setdefault(index, _now())
            else:
                run.chunk_ends.pop(index, None)

    def _run(self, dag_id: str, run_id: str) -> FakeDagRun:
        return next(run for run in self.runs.get(dag_id, []) if run.run_id == run_id)

    # ------------------------------------------------------------------------------- transport

    def __call__(self, request: ApiRequest) -> ApiResponse:
        if self.down:
            raise Unavailable("Airflow at 127.0.0.1:9 is unreachable: connection refused", not_sent=True)
        parts = [unquote(p) for p in request.path.strip("/").split("/")]
        self.requests[f"{request.method} /{parts[0]}"] += 1
        handler = getattr(self, f"_{request.method.lower()}_{parts[0]}", None)
        if handler is None:
            return ApiResponse(404, {"detail": f"no route {request.path}"})
        return handler(request, parts[1:])

    def _get_version(self, request: ApiRequest, rest: list[str]) -> ApiResponse:
        return ApiResponse(200, {"version": self.version, "git_version": None})

    def _get_monitor(self, request: ApiRequest, rest: list[str]) -> ApiResponse:
        healthy = {"status": "healthy", "latest_heartbeat": _now()}
        return ApiResponse(
            200, {"metadatabase": {"status": "healthy"}, "scheduler": healthy, "dag_processor": healthy}
        )

    def _get_importErrors(self, request: ApiRequest, rest: list[str]) -> ApiResponse:
        errors = []
        for path in sorted(self.dags_folder.glob("*.py")):
            _, error = self._parse(path.stem)
            if error:
                errors.append(error)
        return ApiResponse(200, {"import_errors": errors, "total_entries": len(errors)})

    def _get_dags(self, request: ApiRequest, rest: list[str]) -> ApiResponse:
        dag, _ = self._parse(rest[0])
        if dag is None:
            return ApiResponse(404, {"detail": f"The Dag with ID: `{rest[0]}` was not found"})
        if len(rest) == 1:
            return ApiResponse(200, dag)
        if rest[1] == "dagRuns" and len(rest) == 2:
            runs = list(reversed(self.runs.get(rest[0], [])))[: int(request.params.get("limit", 100))]
            return ApiResponse(
                200, {"dag_runs": [self._run_json(rest[0], r) for r in runs], "total_entries": len(runs)}
            )
        try:
            run = self._run(rest[0], rest[2])
        except StopIteration:
            return ApiResponse(404, {"detail": "DagRun not found"})
        if len(rest) == 3:
            return ApiResponse(200, self._run_json(rest[0], run))
        return self._task_instances(request, rest[0], run)

    def _task_instances(self, request: ApiRequest, dag_id: str, run: FakeDagRun) -> ApiResponse:
        items = [self._ti(dag_id, run, ec.PLAN_TASK_ID, -1, run.other_states[ec.PLAN_TASK_ID])]
        items += [
            self._ti(dag_id, run, ec.CHUNK_TASK_ID, i, s, run.chunk_ends.get(i))
            for i, s in sorted(run.chunk_states.items())
        ]
        items.append(self._ti(dag_id, run, ec.SUMMARY_TASK_ID, -1, run.other_states[ec.SUMMARY_TASK_ID]))
        offset, limit = int(request.params.get("offset", 0)), int(request.params.get("limit", 100))
        self.pages_served += 1
        return ApiResponse(
            200, {"task_instances": items[offset : offset + limit], "total_entries": len(items)}
        )

    @staticmethod
    def _ti(
        dag_id: str,
        run: FakeDagRun,
        task_id: str,
        map_index: int,
        state: str | None,
        end_date: str | None = None,
    ) -> dict:
        return {
            "dag_id": dag_id,
            "dag_run_id": run.run_id,
            "task_id": task_id,
            "map_index": map_index,
            "state": state,
            "try_number": 1,
            # A task that ran has a start: here the run's (the fake does not time its tasks).
            "start_date": run.start_date if state in STARTED_STATES else None,
            "end_date": end_date,
        }

    @staticmethod
    def _run_json(dag_id: str, run: FakeDagRun) -> dict:
        return {
            "dag_id": dag_id,
            "dag_run_id": run.run_id,
            "state": run.state,
            "run_type": "manual",
            "logical_date": None,
            "start_date": run.start_date,
            "end_date": run.end_date,
            "conf": run.conf,
        }

    def _patch_dags(self, request: ApiRequest, rest: list[str]) -> ApiResponse:
        dag, _ = self._parse(rest[0])
        if dag is None:
            return ApiResponse(404, {"detail": "not found"})
        if len(rest) == 3 and rest[1] == "dagRuns":
            return self._patch_run(rest[0], rest[2], request.json or {})
        self.paused[rest[0]] = bool(request.json["is_paused"])
        return ApiResponse(200, {**dag, "is_paused": self.paused[rest[0]]})

    def _post_dags(self, request: ApiRequest, rest: list[str]) -> ApiResponse:
        if rest == ["~", "dagRuns", "list"]:  # the runs of many DAGs, newest first (one page is enough here)
            wanted = (request.json or {}).get("dag_ids") or list(self.runs)
            found = [(i, d, r) for d in wanted for i, r in enumerate(self.runs.get(d, []))]
            newest = [self._run_json(d, r) for _, d, r in sorted(found, key=lambda item: -item[0])]
            return ApiResponse(200, {"dag_runs": newest, "total_entries": len(newest)})
        dag, _ = self._parse(rest[0])
        if dag is None:
            return ApiResponse(404, {"detail": "not found"})
        if rest[1:] == ["clearTaskInstances"]:
            return self._clear(rest[0], request.json or {})
        runs = self.runs.setdefault(rest[0], [])
        run_id = request.json.get("dag_run_id") or f"manual__fake_{len(runs) + 1}"
        if any(run.run_id == run_id for run in runs):
            return ApiResponse(409, {"detail": f"DagRun with run_id: `{run_id}` already exists"})
        run = FakeDagRun(run_id=run_id, conf=request.json.get("conf") or {})
        runs.append(run)
        return ApiResponse(200, self._run_json(rest[0], run))

    def _patch_run(self, dag_id: str, run_id: str, body: dict) -> ApiResponse:
        """`PATCH .../dagRuns/{run_id}` with a state: as Airflow, marking it failed ends the run."""
        try:
            run = self._run(dag_id, run_id)
        except StopIteration:
            return ApiResponse(404, {"detail": "DagRun not found"})
        run.state = body["state"]
        if run.state in ("success", "failed"):
            run.end_date = run.end_date or _now()
        return ApiResponse(200, self._run_json(dag_id, run))

    def _clear(self, dag_id: str, body: dict) -> ApiResponse:
        """`POST /dags/{id}/clearTaskInstances`: resets the named task instances (their state to None)
        and, with `reset_dag_runs`, the run to queued; `only_failed` keeps the others as they are."""
        try:
            run = self._run(dag_id, body["dag_run_id"])
        except StopIteration:
            return ApiResponse(404, {"detail": "DagRun not found"})
        failed = {"failed", "upstream_failed"}
        cleared: list[dict] = []
        for ref in body.get("task_ids") or []:
            task_id, map_index = (ref, None) if isinstance(ref, str) else (ref[0], ref[1])
            if task_id == ec.CHUNK_TASK_ID:
                targets = [map_index] if map_index is not None else list(run.chunk_states)
                for index in targets:
                    state = run.chunk_states.get(index)
                    if index in run.chunk_states and (not body.get("only_failed") or state in failed):
                        cleared.append(self._ti(dag_id, run, task_id, index, state))
                        if not body.get("dry_run", True):
                            run.chunk_states[index] = None
                            run.chunk_ends.pop(index, None)
            elif task_id in run.other_states:
                state = run.other_states[task_id]
                if not body.get("only_failed") or state in failed:
                    cleared.append(self._ti(dag_id, run, task_id, -1, state))
                    if not body.get("dry_run", True):
                        run.other_states[task_id] = None
        if cleared and not body.get("dry_run", True) and body.get("reset_dag_runs"):
            run.state, run.end_date = "queued", None
        return ApiResponse(200, {"task_instances": cleared, "total_entries": len(cleared)})
