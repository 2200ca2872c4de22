"""Monitor page, AWS mode: the Batch jobs table (rows, state colours, failures with their reason, log links),
the page's callback over a fake Batch, and Batch states refining the coverage of running chunks."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from components.batch_jobs_view import (
    FAILED_ROW_CLASS,
    chunk_text,
    make_batch_jobs_table,
    make_job_status_badge,
    short_job_id,
)
from components.states import state_color
from services.airflow.models import RunState
from services.aws.batch import BatchJob, BatchJobStatus
from services.errors import BacktestError
from services.models import PointState, RunSummary, SweepStatus
from services.monitoring import refine_with_batch
from tests.fakes import use_fake_services
from tests.support.sweeps import small_sweep

RUN_ID = "manual__2026-01-05T10:00:00+00:00"
LOG_URL = "https://us-east-1.console.aws.amazon.com/cloudwatch/home?region=us-east-1#logsV2:x"


def job(
    job_id: str, status: BatchJobStatus, start: int | None, count: int | None = 2, **extra: Any
) -> BatchJob:
    return BatchJob(
        job_id=job_id,
        name="backtest_mr_spy",
        status=status,
        chunk_start=start,
        chunk_count=count,
        created_at=datetime(2026, 1, 5, 10, 0, tzinfo=UTC),
        **extra,
    )


def walk(node: Any):
    """Every component dict below a to_plotly_json() tree."""
    if isinstance(node, dict):
        if "props" in node:
            yield node
            yield from walk(node["props"].get("children"))
    elif isinstance(node, list | tuple):
        for child in node:
            yield from walk(child)


def tree(component: Any) -> list[dict]:
    import json

    import plotly

    return list(walk(json.loads(json.dumps(component, cls=plotly.utils.PlotlyJSONEncoder))))


def text_of(node: dict) -> str:
    children = node["props"].get("children")
    if isinstance(children, str | int | float):
        return str(children)
    parts = []
    for child in children if isinstance(children, list) else [children]:
        if isinstance(child, str | int | float):
            parts.append(str(child))
        elif isinstance(child, dict):
            parts.append(text_of(child))
    return "".join(parts)


def rows_of(component: Any) -> list[dict]:
    return [n for n in tree(component) if n["type"] == "Tr" and n["namespace"] == "dash_html_components"][1:]


def cells(row: dict) -> list[dict]:
    return [child for child in row["props"]["children"] if isinstance(child, dict) and child["type"] == "Td"]


# ---- the view ------------------------------------------------------------------------------------------


def test_one_row_per_job_in_grid_order_with_status_colour_times_and_log_link():
    jobs = [
        job("bbbbbbbb-2222-4000-8000-000000000002", BatchJobStatus.RUNNING, 2, started_at=datetime.now(UTC)),
        job(
            "aaaaaaaa-1111-4000-8000-000000000001",
            BatchJobStatus.SUCCEEDED,
            0,
            started_at=datetime(2026, 1, 5, 10, 0, 5, tzinfo=UTC),
            stopped_at=datetime(2026, 1, 5, 10, 0, 9, tzinfo=UTC),
            log_url=LOG_URL,
        ),
        job("cccccccc-3333-4000-8000-000000000003", BatchJobStatus.RUNNABLE, 4, count=1),
    ]

    view = make_batch_jobs_table(jobs, RUN_ID)

    texts = [text_of(n) for n in tree(view)]
    # Failed first, then Batch's own order of statuses.
    assert "3 Batch jobs: 1 runnable, 1 running, 1 succeeded." in texts
    rows = rows_of(view)
    assert [text_of(cells(row)[0]) for row in rows] == ["aaaaaaaa", "bbbbbbbb", "cccccccc"]
    assert cells(rows[0])[0]["props"]["title"] == jobs[1].job_id  # the full id on hover
    assert [text_of(cells(row)[1]) for row in rows] == ["0–1", "2–3", "4"]
    badges = [n for row in rows for n in walk(row) if n["props"].get("className") == "bt-state-badge"]
    assert [text_of(b) for b in badges] == ["succeeded", "running", "runnable"]
    assert [b["props"]["style"]["backgroundColor"] for b in badges] == [
        state_color(PointState.DONE),
        state_color(PointState.RUNNING),
        state_color(PointState.QUEUED),
    ]
    done = cells(rows[0])
    assert text_of(done[4]) == datetime(2026, 1, 5, 10, 0, 5, tzinfo=UTC).astimezone().strftime(
        "%Y-%m-%d %H:%M:%S"
    )
    links = [n for n in walk(done[6]) if n["type"] == "A"]
    assert links and links[0]["props"]["href"] == LOG_URL and links[0]["props"]["target"] == "_blank"
    assert text_of(cells(rows[2])[6]) == "—"  # no log stream before the container starts
    assert all(row["props"].get("className") != FAILED_ROW_CLASS for row in rows)


def test_a_failed_job_is_highlighted_with_its_reason():
    failed = job(
        "dddddddd-4444-4000-8000-000000000004",
        BatchJobStatus.FAILED,
        0,
        status_reason="Essential container in task exited",
    )
    quiet = job("eeeeeeee-5555-4000-8000-000000000005", BatchJobStatus.FAILED, 2)

    view = make_batch_jobs_table([failed, quiet], RUN_ID)

    rows = rows_of(view)
    assert [row["props"]["className"] for row in rows] == [FAILED_ROW_CLASS, FAILED_ROW_CLASS]
    assert text_of(cells(rows[0])[3]) == "Essential container in task exited"
    assert text_of(cells(rows[1])[3]) == "no reason given"
    badge = next(n for n in walk(rows[0]) if n["props"].get("className") == "bt-state-badge")
    assert badge["props"]["style"]["backgroundColor"] == state_color(PointState.FAILED)
    assert "2 Batch jobs: 2 failed." in [text_of(n) for n in tree(view)]


def test_no_run_and_no_jobs_say_so():
    assert "No run yet" in text_of(tree(make_batch_jobs_table([], None))[0])
    assert "No Batch jobs submitted" in text_of(tree(make_batch_jobs_table([], RUN_ID))[0])


def test_short_ids_and_chunks():
    assert short_job_id("aaaaaaaa-1111-4000-8000-000000000001") == "aaaaaaaa"
    assert short_job_id("aaaaaaaa-1111-4000-8000-000000000001:7") == "aaaaaaaa:7"  # an array child
    assert chunk_text(job("x", BatchJobStatus.SUBMITTED, None, None)) == "—"
    assert chunk_text(job("x", BatchJobStatus.SUBMITTED, 10, 5)) == "10–14"


# ---- the page ------------------------------------------------------------------------------------------


class FakeBatchJobs:
    """The BatchJobsService calls the Monitor page makes; records the runs asked for."""

    def __init__(self, jobs: list[BatchJob], error: BacktestError | None = None) -> None:
        self.jobs, self.error = jobs, error
        self.asked: list[tuple[str, str, str | None]] = []

    def jobs_of_run(self, dag_id: str, run_id: str, *, job_name: str | None = None) -> list[BatchJob]:
        self.asked.append((dag_id, run_id, job_name))
        if self.error:
            raise self.error
        return self.jobs


def status_data(run_id: str) -> dict:
    """What the Monitor page's status store holds for a running run."""
    run = RunSummary(run_id=run_id, state=RunState.RUNNING)
    status = SweepStatus(dag_id="backtest_mr_spy", run=run, fetched_at=datetime.now(UTC))
    return status.model_dump(mode="json", exclude={"point_states"})


@pytest.fixture
def aws_page(tmp_path):
    """The fake services plus a fake Batch, as the composition root adds it in AWS mode."""
    services = use_fake_services(tmp_path)
    services.registry.save(small_sweep(name="mr_spy"))
    batch = FakeBatchJobs([job("aaaaaaaa-1111", BatchJobStatus.SUCCEEDED, 0)])
    services.monitor.batch = batch
    return batch


def test_the_monitor_page_shows_the_runs_batch_jobs(aws_page):
    from pages.monitor import layout, show_batch_jobs

    assert any(n["props"].get("id") == "monitor-batch" for n in tree(layout(sweep="mr_spy")))
    view = show_batch_jobs(status_data(RUN_ID), "mr_spy")
    assert aws_page.asked == [("backtest_mr_spy", RUN_ID, "backtest_mr_spy")]
    assert [text_of(cells(row)[1]) for row in rows_of(view)] == ["0–1"]


def test_batch_errors_show_as_an_alert(aws_page):
    from pages.monitor import show_batch_jobs

    aws_page.error = BacktestError("Batch ListJobs on queue q: access denied (batch:ListJobs)")
    view = show_batch_jobs(status_data("manual__other"), "mr_spy")
    assert "access denied (batch:ListJobs)" in str(view.to_plotly_json())


def test_local_mode_has_no_batch_card(tmp_path):
    from pages.monitor import layout

    services = use_fake_services(tmp_path)
    services.registry.save(small_sweep(name="mr_spy"))
    assert not any(n["props"].get("id") == "monitor-batch" for n in tree(layout(sweep="mr_spy")))


# ---- coverage: Batch states where Airflow says running ---------------------------------------------------


def test_running_points_take_their_batch_state_results_win():
    running, queued, done = PointState.RUNNING, PointState.QUEUED, PointState.DONE
    states = [running, running, running, running, PointState.FAILED]
    batch = [queued, queued, done, PointState.NOT_STARTED, done]

    refined = refine_with_batch(states, batch, done={1})

    # 0: Batch RUNNABLE -> queued; 1: has a result, left alone; 2: job finished; 3: no job; 4: not running
    assert refined == [queued, running, done, running, PointState.FAILED]


def test_batch_jobs_come_from_the_shared_cache_one_aws_call_per_interval(tmp_path):
    import diskcache

    from services.monitoring import MonitorService
    from services.shared_cache import DiskSharedCache

    batch = FakeBatchJobs([job("aaaaaaaa-1111", BatchJobStatus.RUNNING, 0)])
    cache = DiskSharedCache(diskcache.Cache(str(tmp_path / "cache")))
    config = small_sweep(name="mr_spy")

    def monitor() -> MonitorService:  # one per worker process, all on the same cache folder
        return MonitorService(None, None, cache, ttl_s=60, batch=batch)  # type: ignore[arg-type]

    first, second = monitor().batch_jobs(config, RUN_ID), monitor().batch_jobs(config, RUN_ID)
    assert first == second and [j.status for j in second] == [BatchJobStatus.RUNNING]
    assert batch.asked == [("backtest_mr_spy", RUN_ID, "backtest_mr_spy")]
    assert MonitorService(None, None, cache, ttl_s=60).batch_jobs(config, RUN_ID) == []  # type: ignore[arg-type]


def test_an_unknown_batch_status_is_unknown_not_a_crash():
    odd = BatchJob(job_id="x", name="backtest_mr_spy", status="HIBERNATING")

    assert odd.status is BatchJobStatus.UNKNOWN
    assert BatchJob.model_validate_json(odd.model_dump_json()).status is BatchJobStatus.UNKNOWN
    badge = make_job_status_badge(odd.status)
    assert badge.children == "unknown"
    assert badge.style["backgroundColor"] == state_color(PointState.NOT_STARTED)  # POINT_STATE_OF_JOB's view
