"""What differs between Airflow 3's /api/v2 and Airflow 2's /api/v1 (paths, bodies, field names)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal

from services.airflow.models import (
    ComponentHealth,
    DagInfo,
    DagRun,
    HealthInfo,
    ImportErrorInfo,
    TaskInstance,
    TaskKey,
    VersionInfo,
)
from services.errors import BadRequest

ApiVersion = Literal["v1", "v2"]
Raw = Mapping[str, Any]


def _first(raw: Raw, *names: str) -> Any:
    """The value of the first of `names` present and not None in `raw`."""
    for name in names:
        if raw.get(name) is not None:
            return raw[name]
    return None


def _tags(raw: Raw) -> list[str]:
    return [tag["name"] if isinstance(tag, Mapping) else str(tag) for tag in raw.get("tags") or ()]


class ApiDialect:
    """Airflow 3 (`/api/v2`); `V1Dialect` overrides what Airflow 2 names or shapes differently."""

    version: ApiVersion = "v2"
    health_path = "/monitor/health"
    # run_after is set for every run; logical_date is null for runs triggered without one.
    runs_newest_first = "-run_after"
    can_clear_map_index = True
    # Batch endpoints with short paths (MWAA's InvokeRestApi takes paths of at most 64 characters).
    runs_batch_path = "/dags/~/dagRuns/list"
    task_instances_batch_path = "/dags/~/dagRuns/~/taskInstances/list"
    task_instances_batch_paged = True
    # `GET /dags` hides stale DAGs unless asked; `GET /dags/{dag_id}` returns them.
    every_dag_params: Mapping[str, bool] = {"exclude_stale": False}

    # ---- request bodies -------------------------------------------------------------------

    def runs_batch_body(self, dag_ids: Sequence[str], offset: int, limit: int) -> dict[str, Any]:
        """Body of `POST /dags/~/dagRuns/list`: these DAGs' runs, newest first, one page."""
        return {
            "dag_ids": list(dag_ids),
            "order_by": self.runs_newest_first,
            "page_offset": offset,
            "page_limit": limit,
        }

    def task_instances_batch_body(self, dag_id: str, run_id: str, offset: int, limit: int) -> dict[str, Any]:
        """Body of `POST /dags/~/dagRuns/~/taskInstances/list` (v2 sorts by primary key: stable pages)."""
        return {"dag_ids": [dag_id], "dag_run_ids": [run_id], "page_offset": offset, "page_limit": limit}

    def trigger_body(self, conf: Mapping[str, Any], run_id: str | None, note: str | None) -> dict[str, Any]:
        """Body of `POST /dags/{dag_id}/dagRuns`; v2 answers 422 unless `logical_date` is present."""
        body: dict[str, Any] = {"logical_date": None, "conf": dict(conf)}
        if run_id is not None:
            body["dag_run_id"] = run_id
        if note is not None:
            body["note"] = note
        return body

    def clear_body(
        self,
        run_id: str,
        tasks: Iterable[TaskKey] | None,
        *,
        only_failed: bool,
        include_downstream: bool,
        dry_run: bool,
    ) -> dict[str, Any]:
        """Body of `POST /dags/{dag_id}/clearTaskInstances`; `dry_run` defaults to True server-side."""
        body: dict[str, Any] = {
            "dag_run_id": run_id,
            "dry_run": dry_run,
            "only_failed": only_failed,
            "include_downstream": include_downstream,
            "reset_dag_runs": True,
        }
        if tasks is not None:
            body["task_ids"] = [self._task_ref(task) for task in tasks]
        return body

    def _task_ref(self, task: TaskKey) -> str | list[str | int]:
        return task.task_id if task.map_index is None else [task.task_id, task.map_index]

    # ---- responses -> models --------------------------------------------------------------

    def dag(self, raw: Raw) -> DagInfo:
        return DagInfo(
            dag_id=raw["dag_id"],
            is_paused=bool(raw.get("is_paused")),
            fileloc=raw.get("fileloc") or "",
            relative_fileloc=raw.get("relative_fileloc"),
            tags=_tags(raw),
            has_import_errors=bool(raw.get("has_import_errors")),
            is_stale=self._is_stale(raw),
            last_parsed_time=_first(raw, "last_parsed_time", "last_parsed"),
            file_token=raw.get("file_token"),
            description=raw.get("description"),
            owners=list(raw.get("owners") or ()),
        )

    def _is_stale(self, raw: Raw) -> bool:
        return bool(raw.get("is_stale"))

    def run(self, raw: Raw) -> DagRun:
        return DagRun(
            dag_id=raw["dag_id"],
            run_id=_first(raw, "dag_run_id", "run_id"),
            state=raw.get("state"),
            run_type=raw.get("run_type") or "",
            logical_date=self._logical_date(raw),
            run_after=raw.get("run_after"),
            queued_at=raw.get("queued_at"),
            start_date=raw.get("start_date"),
            end_date=raw.get("end_date"),
            conf=raw.get("conf"),
            note=raw.get("note"),
        )

    def _logical_date(self, raw: Raw) -> Any:
        return raw.get("logical_date")

    def task_instance(self, raw: Raw, *, dag_id: str = "", run_id: str = "") -> TaskInstance:
        """A task instance; `dag_id`/`run_id` fill in for old servers that leave them out."""
        map_index = raw.get("map_index")
        return TaskInstance(
            dag_id=raw.get("dag_id") or dag_id,
            run_id=_first(raw, "dag_run_id", "run_id") or run_id,
            task_id=raw["task_id"],
            map_index=-1 if map_index is None else map_index,
            state=raw.get("state"),
            try_number=raw.get("try_number") or 0,
            max_tries=raw.get("max_tries") or 0,
            start_date=raw.get("start_date"),
            end_date=raw.get("end_date"),
            duration=raw.get("duration"),
            rendered_map_index=raw.get("rendered_map_index"),
            operator=raw.get("operator"),
            hostname=raw.get("hostname") or None,
        )

    def cleared(self, raw: Raw) -> TaskKey:
        """One entry of the clearTaskInstances answer: v2 task instances, v1 references (no map index)."""
        return TaskKey(task_id=raw["task_id"], map_index=raw.get("map_index"))

    def import_error(self, raw: Raw) -> ImportErrorInfo:
        return ImportErrorInfo(
            id=raw.get("import_error_id"),
            filename=raw.get("filename") or "",
            bundle_name=raw.get("bundle_name"),
            stack_trace=raw.get("stack_trace") or "",
            timestamp=raw.get("timestamp"),
        )

    def version_info(self, raw: Raw) -> VersionInfo:
        return VersionInfo(version=str(raw.get("version") or ""), git_version=raw.get("git_version"))

    def health(self, raw: Raw) -> HealthInfo:
        components = {}
        for name, part in raw.items():
            if isinstance(part, Mapping):
                heartbeat = next((v for k, v in part.items() if k.startswith("latest_") and v), None)
                components[name] = ComponentHealth(status=part.get("status"), latest_heartbeat=heartbeat)
        return HealthInfo(components=components)


class V1Dialect(ApiDialect):
    """Airflow 2.x `/api/v1` (also what MWAA's Airflow 2 environments serve)."""

    version: ApiVersion = "v1"
    health_path = "/health"
    runs_newest_first = "-execution_date"
    # The documented v1 ClearTaskInstances body takes task ids only, not [task_id, map_index].
    can_clear_map_index = False
    # v1's ListTaskInstanceForm has no page_offset/page_limit (unknown keys are a 400): one answer.
    task_instances_batch_paged = False
    every_dag_params: Mapping[str, bool] = {"only_active": False}

    def task_instances_batch_body(self, dag_id: str, run_id: str, offset: int, limit: int) -> dict[str, Any]:
        """v1 body: filters only (`dag_run_ids` needs Airflow 2.7.1+)."""
        return {"dag_ids": [dag_id], "dag_run_ids": [run_id]}

    def trigger_body(self, conf: Mapping[str, Any], run_id: str | None, note: str | None) -> dict[str, Any]:
        """v1 generates the logical date itself when the key is absent."""
        body = super().trigger_body(conf, run_id, note)
        del body["logical_date"]
        return body

    def _task_ref(self, task: TaskKey) -> str:
        if task.map_index is not None:
            raise BadRequest(
                "Airflow 2 (/api/v1) cannot clear single mapped task instances: clear the whole task "
                f"'{task.task_id}' with only_failed=True instead"
            )
        return task.task_id

    def _is_stale(self, raw: Raw) -> bool:
        return raw.get("is_active") is False

    def _logical_date(self, raw: Raw) -> Any:
        return _first(raw, "logical_date", "execution_date")


DIALECTS: dict[str, ApiDialect] = {"v2": ApiDialect(), "v1": V1Dialect()}


def dialect_for(version: str) -> ApiDialect:
    """The dialect of an API version ("v2" for Airflow 3, "v1" for Airflow 2)."""
    try:
        return DIALECTS[version]
    except KeyError:
        raise ValueError(
            f"unknown Airflow API version {version!r}; expected one of {sorted(DIALECTS)}"
        ) from None
