"""The Monitor page's Batch jobs table (AWS mode): one row per job of the run, failures with their reason."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import dash_bootstrap_components as dbc
from dash import html

from components.formatting import format_time
from components.monitor_view import make_state_badge
from services.aws.batch import POINT_STATE_OF_JOB, BatchJob, BatchJobStatus

JOB_ID_CHARS = 8  # Batch job ids are UUIDs: the first block tells them apart in one run
COLUMNS = ("job", "chunk", "status", "reason", "started", "stopped", "logs")
FAILED_ROW_CLASS = "bt-batch-failed"


def short_job_id(job_id: str) -> str:
    """The first characters of a job id; an array child keeps its `:index`."""
    parent, sep, index = job_id.rpartition(":")
    head = (parent if sep else job_id)[:JOB_ID_CHARS]
    return f"{head}:{index}" if sep else head


def chunk_text(job: BatchJob) -> str:
    """`start–end` (inclusive grid indices) of the job's chunk; an em dash when the job carries none."""
    if job.chunk_start is None or job.chunk_count is None:
        return "—"
    if job.chunk_count <= 1:
        return str(job.chunk_start)
    return f"{job.chunk_start}–{job.chunk_start + job.chunk_count - 1}"


def make_job_status_badge(status: BatchJobStatus) -> html.Span:
    """The Batch status in the colour of the point state it means (RUNNABLE is queued, ...)."""
    return make_state_badge(status, shown=POINT_STATE_OF_JOB[status])


def _log_link(job: BatchJob) -> html.A | str:
    if not job.log_url:
        return "—"
    return html.A("log stream ↗", href=job.log_url, target="_blank", rel="noopener noreferrer")


def _row(job: BatchJob) -> html.Tr:
    failed = job.status is BatchJobStatus.FAILED
    reason = job.status_reason or ("" if not failed else "no reason given")
    return html.Tr(
        [
            html.Td(short_job_id(job.job_id), title=job.job_id, className="bt-mono"),
            html.Td(chunk_text(job), className="bt-num"),
            html.Td(make_job_status_badge(job.status)),
            html.Td(reason, className="bt-batch-reason"),
            html.Td(format_time(job.started_at)),
            html.Td(format_time(job.stopped_at)),
            html.Td(_log_link(job)),
        ],
        className=FAILED_ROW_CLASS if failed else None,
    )


def make_batch_counts(jobs: Sequence[BatchJob]) -> html.Div:
    """One line: how many jobs, and how many in each status (failed first)."""
    counts = Counter(job.status for job in jobs)
    order = sorted(counts, key=lambda s: (s is not BatchJobStatus.FAILED, list(BatchJobStatus).index(s)))
    parts = [f"{counts[status]:,} {status.value.lower()}" for status in order]
    noun = "job" if len(jobs) == 1 else "jobs"
    return html.Div(f"{len(jobs):,} Batch {noun}: " + ", ".join(parts) + ".", className="bt-help mb-2")


def in_grid_order(jobs: Sequence[BatchJob]) -> list[BatchJob]:
    """By chunk start; jobs of one chunk (retries, array children after their parent) keep their order."""
    return sorted(jobs, key=lambda job: (job.chunk_start is None, job.chunk_start or 0))


def make_batch_jobs_table(jobs: Sequence[BatchJob], run_id: str | None) -> html.Div:
    """The jobs of one run in grid order, with status, reason, times and the log stream link."""
    if run_id is None:
        return html.Div("No run yet: its Batch jobs show here once it starts.", className="bt-help")
    if not jobs:
        return html.Div("No Batch jobs submitted for this run yet.", className="bt-help")
    head = html.Thead(html.Tr([html.Th(name) for name in COLUMNS]))
    table = dbc.Table(
        [head, html.Tbody([_row(job) for job in in_grid_order(jobs)])],
        size="sm",
        hover=True,
        responsive=True,
        class_name="bt-table bt-batch-table mb-0",
    )
    return html.Div([make_batch_counts(jobs), table])
