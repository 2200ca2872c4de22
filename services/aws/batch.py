"""AWS Batch jobs of a sweep run (found by the tags the DAG's BatchOperator sets), their states and logs."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any
from urllib.parse import quote

from botocore.exceptions import BotoCoreError, ClientError
from pydantic import BaseModel, BeforeValidator, ConfigDict

from airflow_backtest_framework import engine_contract as ec
from airflow_backtest_framework.config import SweepConfig
from services.aws.clients import ClientSource, resolve_client
from services.aws.errors import map_aws_error, safe_text
from services.errors import BacktestError
from services.models import PointState

log = logging.getLogger(__name__)

DESCRIBE_BATCH = 100  # DescribeJobs takes at most 100 job ids
LIST_PAGE_SIZE = 100
DEFAULT_LOG_GROUP = "/aws/batch/job"
MAX_REASON_CHARS = 300


class BatchJobStatus(StrEnum):
    """A Batch job's status; UNKNOWN for anything this code does not know."""

    SUBMITTED = "SUBMITTED"
    PENDING = "PENDING"
    RUNNABLE = "RUNNABLE"
    STARTING = "STARTING"
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    UNKNOWN = "UNKNOWN"

    @classmethod
    def parse(cls, value: object) -> BatchJobStatus:
        """The one mapping from Batch's status strings; never raises."""
        try:
            return cls(str(value).strip().upper())
        except ValueError:
            return cls.UNKNOWN

    @property
    def finished(self) -> bool:
        return self in (BatchJobStatus.SUCCEEDED, BatchJobStatus.FAILED)


LISTED_STATUSES = tuple(status for status in BatchJobStatus if status is not BatchJobStatus.UNKNOWN)

POINT_STATE_OF_JOB = {
    BatchJobStatus.SUBMITTED: PointState.QUEUED,
    BatchJobStatus.PENDING: PointState.QUEUED,
    BatchJobStatus.RUNNABLE: PointState.QUEUED,
    BatchJobStatus.STARTING: PointState.RUNNING,
    BatchJobStatus.RUNNING: PointState.RUNNING,
    BatchJobStatus.SUCCEEDED: PointState.DONE,
    BatchJobStatus.FAILED: PointState.FAILED,
    BatchJobStatus.UNKNOWN: PointState.NOT_STARTED,
}


class BatchJob(BaseModel):
    """One Batch job of a sweep run, as the Monitor page's jobs table shows it."""

    model_config = ConfigDict(frozen=True)

    job_id: str
    name: str
    status: Annotated[BatchJobStatus, BeforeValidator(BatchJobStatus.parse)]
    status_reason: str | None = None
    created_at: datetime | None = None
    started_at: datetime | None = None
    stopped_at: datetime | None = None
    chunk_start: int | None = None
    chunk_count: int | None = None
    log_stream_name: str | None = None
    log_url: str | None = None
    array_size: int | None = None  # an array parent: how many children
    array_index: int | None = None  # an array child: its index
    parent_job_id: str | None = None


def console_host(region: str) -> str:
    """The AWS console's host for a region (commercial, China, GovCloud partitions)."""
    if region.startswith("cn-"):
        return f"https://{region}.console.amazonaws.cn"
    if region.startswith("us-gov-"):
        return "https://console.amazonaws-us-gov.com"
    return f"https://{region}.console.aws.amazon.com"


def _console_escape(text: str) -> str:
    # The CloudWatch console reads names percent-encoded twice, with '$' in place of '%'.
    return quote(quote(text, safe=""), safe="").replace("%", "$")


def log_stream_url(region: str, log_group: str, log_stream: str) -> str:
    """The CloudWatch console page of one log stream."""
    return (
        f"{console_host(region)}/cloudwatch/home?region={region}#logsV2:log-groups/log-group/"
        f"{_console_escape(log_group)}/log-events/{_console_escape(log_stream)}"
    )


def _when(millis: Any) -> datetime | None:
    return datetime.fromtimestamp(millis / 1000, tz=UTC) if isinstance(millis, int | float) else None


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def job_from_description(raw: dict[str, Any], region: str) -> BatchJob:
    """A BatchJob from one DescribeJobs entry (boto3's CamelCase stays here)."""
    container = raw.get("container") or {}
    env = {item.get("name"): item.get("value") for item in container.get("environment") or ()}
    stream = container.get("logStreamName") or None
    options = (container.get("logConfiguration") or {}).get("options") or {}
    group = options.get("awslogs-group") or DEFAULT_LOG_GROUP
    array = raw.get("arrayProperties") or {}
    job_id = str(raw["jobId"])
    parent, _, index = job_id.rpartition(":")
    reason = raw.get("statusReason") or container.get("reason") or None
    return BatchJob(
        job_id=job_id,
        name=str(raw.get("jobName") or ""),
        status=BatchJobStatus.parse(raw.get("status")),
        status_reason=safe_text(reason)[:MAX_REASON_CHARS] if reason else None,
        created_at=_when(raw.get("createdAt")),
        started_at=_when(raw.get("startedAt")),
        stopped_at=_when(raw.get("stoppedAt")),
        chunk_start=_int(env.get(ec.ENV_CHUNK_START)),
        chunk_count=_int(env.get(ec.ENV_CHUNK_COUNT)),
        log_stream_name=stream,
        log_url=log_stream_url(region, group, stream) if stream else None,
        array_size=_int(array.get("size")),
        array_index=_int(array.get("index")) if "index" in array else (_int(index) if parent else None),
        parent_job_id=parent or None,
    )


def point_states_from_jobs(
    config: SweepConfig, jobs: Iterable[BatchJob], space_filling: bool | None = None
) -> list[PointState]:
    """Each grid point's state from the Batch job that ran its chunk (BACKTEST_CHUNK_START/COUNT, positions
    of the sweep's run order).

    Jobs apply oldest first, so a retried chunk shows its newest job. An array parent counts only
    when none of its children is in `jobs`.
    """
    states = [PointState.NOT_STARTED] * config.grid_size
    order = config.run_order(space_filling).tolist()  # a job's chunk is positions of the run order
    jobs = list(jobs)
    parents_with_children = {job.parent_job_id for job in jobs if job.parent_job_id}
    oldest_first = sorted(jobs, key=lambda job: job.created_at or datetime.min.replace(tzinfo=UTC))
    for job in oldest_first:
        if job.chunk_start is None or job.chunk_count is None or job.job_id in parents_with_children:
            continue
        start = max(0, job.chunk_start)
        stop = min(config.grid_size, job.chunk_start + job.chunk_count)
        state = POINT_STATE_OF_JOB[job.status]
        for index in order[start:stop]:
            states[index] = state
    return states


class BatchJobsService:
    """The Batch jobs of a sweep run on one job queue: ListJobs, DescribeJobs and TerminateJob.

    Jobs are found by listing the queue (by job name when known — the DAG names its jobs after
    the DAG id — else status by status), describing them 100 at a time and keeping those carrying
    the contract's run tags (`ec.BATCH_TAG_DAG_ID` / `ec.BATCH_TAG_RUN_ID`); array jobs bring
    their children (`<id>:<index>`).
    """

    def __init__(self, client: ClientSource, job_queue: str, *, region: str | None = None) -> None:
        self._client_source = client
        self.job_queue = job_queue
        self._region = region

    def __repr__(self) -> str:
        return f"BatchJobsService(job_queue={self.job_queue!r})"

    @property
    def _client(self) -> Any:
        return resolve_client(self._client_source)

    @property
    def region(self) -> str:
        return self._region or self._client.meta.region_name

    def _error(self, exc: ClientError | BotoCoreError, operation: str) -> BacktestError:
        return map_aws_error(
            exc,
            f"Batch {operation} on queue {self.job_queue}",
            service="batch",
            resource=f"queue {self.job_queue}",
        )

    def jobs_of_run(self, dag_id: str, run_id: str, *, job_name: str | None = None) -> list[BatchJob]:
        """The run's jobs (array children after their parent), oldest first.

        `job_name` narrows the listing to jobs of that name (the DAG uses its dag id), which is
        far cheaper on a busy queue; without it every status of the queue is listed."""
        summaries = self._list(job_name)
        ids = [item["jobId"] for item in summaries if ":" not in str(item.get("jobId", ""))]
        tagged = [
            raw
            for raw in self._describe(ids)
            if (raw.get("tags") or {}).get(ec.BATCH_TAG_DAG_ID) == dag_id
            and (raw.get("tags") or {}).get(ec.BATCH_TAG_RUN_ID) == run_id
        ]
        child_ids = [
            f"{raw['jobId']}:{index}"
            for raw in tagged
            for index in range(_int((raw.get("arrayProperties") or {}).get("size")) or 0)
        ]
        children = {raw["jobId"]: raw for raw in self._describe(child_ids)}
        jobs: list[BatchJob] = []
        for raw in sorted(tagged, key=lambda r: (r.get("createdAt") or 0, r["jobId"])):
            jobs.append(job_from_description(raw, self.region))
            for child_id in sorted(
                (cid for cid in children if cid.startswith(f"{raw['jobId']}:")),
                key=lambda cid: _int(cid.rpartition(":")[2]) or 0,
            ):
                jobs.append(job_from_description(children[child_id], self.region))
        return jobs

    def _list(self, job_name: str | None) -> list[dict[str, Any]]:
        """ListJobs summaries of the queue: by job name (any status), else one listing per status."""
        listings: list[dict[str, Any]] = (
            [{"filters": [{"name": "JOB_NAME", "values": [job_name]}]}]
            if job_name
            else [{"jobStatus": status.value} for status in LISTED_STATUSES]
        )
        seen: dict[str, dict[str, Any]] = {}
        try:
            paginator = self._client.get_paginator("list_jobs")
            for listing in listings:
                pages = paginator.paginate(
                    jobQueue=self.job_queue, PaginationConfig={"PageSize": LIST_PAGE_SIZE}, **listing
                )
                for page in pages:
                    for item in page.get("jobSummaryList") or ():
                        seen.setdefault(item["jobId"], item)
        except (ClientError, BotoCoreError) as exc:
            raise self._error(exc, "ListJobs") from None
        return list(seen.values())

    def _describe(self, job_ids: Sequence[str]) -> list[dict[str, Any]]:
        """DescribeJobs in batches of 100."""
        found: list[dict[str, Any]] = []
        try:
            for start in range(0, len(job_ids), DESCRIBE_BATCH):
                batch = list(job_ids[start : start + DESCRIBE_BATCH])
                found.extend(self._client.describe_jobs(jobs=batch).get("jobs") or ())
        except (ClientError, BotoCoreError) as exc:
            raise self._error(exc, "DescribeJobs") from None
        return found

    def terminate(self, job_ids: Iterable[str], reason: str) -> list[str]:
        """Cancel jobs (TerminateJob: also stops RUNNING ones; an array parent takes its children along).

        Returns the ids asked to terminate, in order; finished jobs are left as they are by Batch."""
        terminated = []
        for job_id in job_ids:
            try:
                self._client.terminate_job(jobId=job_id, reason=reason)
            except (ClientError, BotoCoreError) as exc:
                raise self._error(exc, f"TerminateJob {job_id}") from None
            terminated.append(job_id)
            log.info("asked Batch to terminate job %s", job_id)
        return terminated
