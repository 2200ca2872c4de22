"""Each sweep's last deployment, as its progress after every step: what any page load on any host shows."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from pydantic import BaseModel, ValidationError

from services.auth import Principal
from services.errors import BacktestError
from services.models import DeployProgress
from services.shared_cache import SharedCache

RECORD_TTL_S = 7 * 24 * 3600.0
# Longer than any one step (registration waits at most deploy.REGISTER_TIMEOUT_S): a deployment that
# reported nothing for this long has lost the process that ran it.
SILENT_AFTER = timedelta(minutes=5)
KEY_PREFIX = "deploy-progress:"
CANCELLED = "cancelled"  # the deployer's own word when it stops at a cancel flag
UNEXPECTED_STOP = "The deployment stopped on an unexpected error: deploy again."


class DeployRecord(BaseModel):
    """A deployment's latest progress, who started it and when it last reported."""

    name: str
    by: str
    started_at: datetime
    reported_at: datetime
    progress: DeployProgress


class DeployRecords:
    """The last deployment per sweep in the shared cache (Redis across hosts, else diskcache)."""

    def __init__(self, cache: SharedCache, now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self._cache = cache
        self._now = now

    def reporter(self, name: str, by: str) -> Callable[[DeployProgress], None]:
        """What a deployment of `name` calls after each step: it replaces the sweep's last record."""
        started_at = self._now()

        def report(progress: DeployProgress) -> None:
            record = DeployRecord(
                name=name, by=by, started_at=started_at, reported_at=self._now(), progress=progress
            )
            self._cache.set(KEY_PREFIX + name, record.model_dump_json(), expire=RECORD_TTL_S)

        return report

    def mark_cancelled(self, name: str) -> None:
        """The sweep's running deployment ends as cancelled (its job may be stopped before it can say so)."""
        raw = self._cache.get(KEY_PREFIX + name)
        if raw is None:
            return
        try:
            record = DeployRecord.model_validate_json(raw)
        except ValidationError:
            return
        if record.progress.finished:
            return
        progress = record.progress.model_copy(update={"finished": True, "ok": False, "error": CANCELLED})
        stopped = record.model_copy(update={"progress": progress, "reported_at": self._now()})
        self._cache.set(KEY_PREFIX + name, stopped.model_dump_json(), expire=RECORD_TTL_S)

    def last(self, name: str) -> DeployRecord | None:
        """The sweep's last deployment; one unfinished that went silent is shown as interrupted."""
        raw = self._cache.get(KEY_PREFIX + name)
        if raw is None:
            return None
        try:
            record = DeployRecord.model_validate_json(raw)
        except ValidationError:
            return None
        if record.progress.finished or self._now() - record.reported_at <= SILENT_AFTER:
            return record
        stopped = record.progress.model_copy(
            update={
                "finished": True,
                "ok": False,
                "error": (
                    f"This deployment stopped reporting at {record.reported_at:%H:%M:%S} UTC (the process "
                    "running it ended). Deploy again: steps already done are skipped."
                ),
            }
        )
        return record.model_copy(update={"progress": stopped})


class DeployTracker:
    """One deployment's reports: every step to the caller's callback and, while unfinished, to the sweep's
    record; the outcome once it is known (an exception included: a record never stays "in progress")."""

    def __init__(
        self,
        records: DeployRecords | None,
        dag_id: str,
        name: str,
        principal: Principal | None,
        on_progress: Callable[[DeployProgress], None] | None,
    ) -> None:
        self._record = records.reporter(name, principal.name if principal else "") if records else None
        self._on_progress = on_progress
        self._last = DeployProgress(dag_id=dag_id)

    def report(self, progress: DeployProgress) -> None:
        self._last = progress
        if self._record is not None and not progress.finished:
            self._record(progress)
        if self._on_progress is not None:
            self._on_progress(progress)

    def finished(self, result: DeployProgress) -> None:
        if self._record is not None:
            self._record(result)

    def failed(self, exc: Exception) -> None:
        message = exc.message if isinstance(exc, BacktestError) else UNEXPECTED_STOP
        self.finished(self._last.model_copy(update={"finished": True, "ok": False, "error": message}))
