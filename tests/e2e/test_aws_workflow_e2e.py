"""The whole AWS-mode workflow in headless Chromium, without an AWS account: `python app.py` with MODE=aws
against moto (S3, STS, Batch), an MWAA-compatible endpoint forwarding to a real local Airflow whose dags
folder is synced from the moto bucket, and Batch jobs whose container (the engine) really runs.

Configure -> Deploy (S3 upload, MWAA registration, unpause) -> Trigger -> Monitor until success, through the
same pages as local mode; then the Batch jobs as moto recorded them, the results in S3, the Connections page,
and a second run started and cancelled from the history page.
"""

from __future__ import annotations

import re
import sys
import time
from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from airflow_backtest_framework import engine_contract as ec
from airflow_backtest_framework.config import DAG_ID_PREFIX
from airflow_backtest_framework.results_uri import parse_results_uri
from tests.e2e.conftest import app_env, free_port, serve
from tests.e2e.helpers import (
    cancel_run_from_history,
    choose_factor,
    choose_strategy,
    deploy_and_wait,
    kpi_value,
    param_input,
    record_texts,
    recorded_texts,
    save_sweep,
    snap,
    start_run_from_history,
    type_into,
)
from tests.support.aws_stack import (
    DAGS_BUCKET,
    DAGS_PREFIX,
    DB_HOST,
    FAKE_KEY_ID,
    FAKE_SECRET,
    JOB_DEFINITION,
    JOB_QUEUE,
    RESULTS_URI,
    AwsStack,
    aws_stack,
)
from tests.support.live_airflow import patient_client

pytestmark = pytest.mark.e2e

MR = "MeanReversionStrategy"
PARAMS = {
    "lookback_period": "10,20",
    "entry_threshold": "1.5,2.5",
    "stop_loss_pct": "0.05",
    "cooldown_period": "5",
}
POINTS, POINTS_PER_TASK = 4, 2
CHUNKS = [(0, 2), (2, 2)]
DEPLOY_TIMEOUT_MS = (
    90_000  # S3 upload, sync (1 s), Airflow's parse (refresh 2 s), unpause, over InvokeRestApi
)
# plan, two BatchOperators (each waits 3 random 1-10 s delays before it reads SUCCEEDED), summarize
RUN_TIMEOUT_MS = 150_000
REFRESH_INTERVAL_S = 2
FIRST_POLL_TIMEOUT_MS = 30_000  # the first status poll builds its boto3 clients; 2 cores shared with others
ENGINE_ENV_NAMES = {
    ec.ENV_SPEC,
    ec.ENV_STRATEGY,
    ec.ENV_CHUNK_START,
    ec.ENV_CHUNK_COUNT,
    ec.ENV_RESULTS_URI,
    ec.ENV_DAG_ID,
    ec.ENV_RUN_ID,
    ec.ENV_DB_HOST,
}


@pytest.fixture(scope="module")
def stack() -> Iterator[AwsStack]:
    with aws_stack() as world:
        yield world


@pytest.fixture
def aws_app_url(stack: AwsStack, tmp_path) -> Iterator[str]:
    base = app_env(tmp_path, free_port(), REFRESH_INTERVAL_S=str(REFRESH_INTERVAL_S))
    with serve([sys.executable, "app.py"], stack.app_env(base), tmp_path) as served:
        yield served.url


def configure(page: Page, url: str, name: str) -> None:
    page.goto(url + "/")
    choose_strategy(page, MR)
    for param, expression in PARAMS.items():
        type_into(page, param_input(page, MR, param), expression)
    type_into(page, page.locator("#configure-universe"), "AAPL, MSFT, GOOGL")
    page.select_option("#configure-data-source", "synthetic")  # a plumbing run: GOOGL and a factor
    type_into(page, page.locator("#configure-points-per-task"), str(POINTS_PER_TASK))
    choose_factor(page, "Volatility60D")
    expect(page.locator("#configure-grid-summary")).to_have_text(
        f"{POINTS} points in {len(CHUNKS)} tasks of ~{POINTS_PER_TASK}"
    )
    # A name too long for MWAA's API paths is refused as it is typed, with the length to aim for.
    type_into(page, page.locator("#configure-name"), "a_name_far_too_long_for_mwaa")
    feedback = page.locator("#configure-name-feedback")
    expect(feedback).to_contain_text("use at most 23 characters here (28 now)")
    expect(page.locator("#configure-save")).to_be_disabled()
    save_sweep(page, name)


def deploy_and_trigger(page: Page, url: str) -> str:
    page.click("text=Go to Deploy")
    expect(page).to_have_url(url + "/deploy")
    expect(page.locator("#deploy-summary")).to_contain_text("Not deployed")
    expect(page.locator("#deploy-preflight")).to_contain_text("checks pass", timeout=30_000)
    expect(page.locator("#deploy-preflight .bt-check-row-bad")).to_have_count(0)
    deploy_and_wait(page, DEPLOY_TIMEOUT_MS)
    expect(page.locator("#deploy-summary")).to_contain_text("Deployed")
    page.click("#deploy-trigger")
    result = page.locator("#deploy-trigger-result")
    expect(result).to_contain_text("Run started.")
    run_id = result.locator(".bt-mono").inner_text()
    assert re.fullmatch(r"bt_\d{6}_\d{6}[b-e]?", run_id), run_id  # the app's short run id
    return run_id


def assert_jobs_in_moto(stack: AwsStack, dag_id: str, run_id: str) -> None:
    """The Batch jobs as moto recorded them: queue, definition, container-override environment, tags."""
    batch = stack.client("batch")
    summaries = batch.list_jobs(jobQueue=JOB_QUEUE, filters=[{"name": "JOB_NAME", "values": [dag_id]}])
    jobs = batch.describe_jobs(jobs=[s["jobId"] for s in summaries["jobSummaryList"]])["jobs"]
    assert len(jobs) == len(CHUNKS), jobs
    chunks = []
    for job in jobs:
        assert job["jobQueue"].endswith(f":job-queue/{JOB_QUEUE}")
        assert re.search(rf":job-definition/{JOB_DEFINITION}:\d+$", job["jobDefinition"]), job[
            "jobDefinition"
        ]
        assert job["tags"] == ec.batch_job_tags(dag_id, run_id)
        env = {item["name"]: item["value"] for item in job["container"]["environment"]}
        assert set(env) >= ENGINE_ENV_NAMES, sorted(env)
        assert env[ec.ENV_DB_HOST] == DB_HOST
        assert env[ec.ENV_RESULTS_URI] == RESULTS_URI
        assert (env[ec.ENV_DAG_ID], env[ec.ENV_RUN_ID], env[ec.ENV_STRATEGY]) == (dag_id, run_id, MR)
        chunks.append((int(env[ec.ENV_CHUNK_START]), int(env[ec.ENV_CHUNK_COUNT])))
    assert sorted(chunks) == CHUNKS
    # ...and the stand-in ran each job's container to a clean exit before Batch reported it finished.
    ran = [run for run in stack.runner.runs.values() if run.job_name == dag_id]
    assert sorted(run.job_id for run in ran) == sorted(job["jobId"] for job in jobs)
    assert all(run.exit_code == 0 for run in ran), [run.stderr_tail for run in ran]


def assert_results_in_s3(stack: AwsStack, dag_id: str, run_id: str) -> None:
    s3 = stack.client("s3")
    location = parse_results_uri(RESULTS_URI)
    root = f"{location.prefix}/"
    listed = s3.list_objects_v2(Bucket=location.bucket, Prefix=root + ec.run_prefix(dag_id, run_id))
    keys = {item["Key"].removeprefix(root) for item in listed["Contents"]}
    assert {ec.point_key(dag_id, run_id, index) for index in range(POINTS)} <= keys
    assert {ec.table_key(dag_id, run_id), ec.summary_key(dag_id, run_id)} <= keys  # summarize read them all


def assert_deployed_as_on_mwaa(stack: AwsStack, dag_id: str) -> None:
    """Deployed the way MWAA takes DAGs: the file in the versioned bucket, synced into Airflow's folder."""
    dag_key = f"{DAGS_PREFIX}{dag_id}.py"
    versions = stack.client("s3").list_object_versions(Bucket=DAGS_BUCKET, Prefix=dag_key)["Versions"]
    assert len(versions) == 1 and versions[0]["VersionId"] != "null"
    assert (stack.airflow.local_dags_folder / f"{dag_id}.py").is_file()
    assert any(call["Path"].startswith(f"/dags/{dag_id}") for call in stack.endpoint.calls)


def watch_the_run_on_batch(page: Page, url: str, name: str, run_id: str) -> list[str]:
    """Monitor the run to success, then the Batch jobs card; the Batch table states seen on the way."""
    page.click("text=Open in Monitor")
    expect(page).to_have_url(url + f"/monitor/{name}")
    header = page.locator("#monitor-run-header")
    expect(header).to_contain_text(run_id, timeout=FIRST_POLL_TIMEOUT_MS)
    record_texts(page, "batchStates", "#monitor-batch", "#monitor-batch .bt-batch-table tbody")
    expect(header.locator(".bt-state-badge")).to_have_text("success", timeout=RUN_TIMEOUT_MS)
    expect(kpi_value(page, "Points")).to_have_text(str(POINTS))
    expect(kpi_value(page, "Done")).to_have_text(str(POINTS))
    expect(kpi_value(page, "Failed")).to_have_text("0")
    expect(page.locator("#monitor-kpis")).to_contain_text("100.0% of the grid")
    expect(page.locator("#monitor-summary")).to_contain_text(f"{POINTS} points done, 0 failed.")

    # The Batch jobs card: one row per chunk, SUCCEEDED, with its chunk and a CloudWatch log link.
    batch = page.locator("#monitor-batch")
    expect(batch).to_contain_text(f"{len(CHUNKS)} Batch jobs: {len(CHUNKS)} succeeded.")
    rows = batch.locator("tbody tr")
    expect(rows).to_have_count(len(CHUNKS))
    expect(rows.locator("td:nth-child(2)")).to_have_text(["0–1", "2–3"])
    expect(rows.locator(".bt-state-badge")).to_have_text(["succeeded"] * len(CHUNKS))
    expect(rows.locator(".bt-batch-failed")).to_have_count(0)
    links = rows.locator("a", has_text="log stream")
    expect(links).to_have_count(len(CHUNKS))
    assert all(
        "console.aws.amazon.com/cloudwatch" in (links.nth(i).get_attribute("href") or "") for i in range(2)
    )
    return recorded_texts(page, "batchStates")


def assert_connections_page(page: Page, url: str) -> None:
    """Every check passes, naming the resources it checked, and no fake secret shows."""
    page.goto(url + "/connections")
    checks = page.locator("#connections-checks")
    expect(checks).to_contain_text("checks pass", timeout=30_000)
    expect(checks.locator(".bt-check-row-bad")).to_have_count(0)
    for resource in (f"s3://{DAGS_BUCKET}/{DAGS_PREFIX}", JOB_QUEUE, JOB_DEFINITION, f"{RESULTS_URI}/"):
        expect(checks).to_contain_text(resource)
    expect(checks).to_contain_text("Airflow 3.3.2")
    for secret in (FAKE_KEY_ID, FAKE_SECRET):
        assert secret not in page.content()


def cancel_a_new_run_from_history(stack: AwsStack, page: Page, url: str, name: str) -> None:
    """Start another run from the history page and cancel it: the run is marked failed through
    InvokeRestApi (its path fits MWAA's 64 characters with the app's run ids)."""
    dag_id = f"{DAG_ID_PREFIX}{name}"
    page.goto(url + "/sweeps")
    run_id = start_run_from_history(page, name)
    cancel_run_from_history(page, name, run_id)
    patches = [c for c in stack.endpoint.calls if c["Method"] == "PATCH" and run_id in c["Path"]]
    assert patches and all(len(c["Path"]) <= 64 for c in patches), patches
    client = patient_client(stack.airflow)
    assert client.get_run(dag_id, run_id).state == "failed"


def test_aws_mode_from_configure_to_a_finished_sweep_on_batch(stack: AwsStack, aws_app_url, watched_page):
    began = time.monotonic()
    name = f"aws_{int(time.time())}"
    dag_id = f"{DAG_ID_PREFIX}{name}"
    page, watch = watched_page(aws_app_url)
    url = aws_app_url

    configure(page, url, name)
    expect(page.locator("#shell-connection")).to_contain_text("Connected")
    snap(page, "aws-configure")
    watch.check()

    run_id = deploy_and_trigger(page, url)
    assert_deployed_as_on_mwaa(stack, dag_id)
    snap(page, "aws-deploy")
    watch.check()

    batch_views = watch_the_run_on_batch(page, url, name, run_id)
    snap(page, "aws-monitor-sweep")
    watch.check()

    assert_jobs_in_moto(stack, dag_id, run_id)
    assert_results_in_s3(stack, dag_id, run_id)

    assert_connections_page(page, url)
    snap(page, "aws-connections")
    watch.check()

    cancel_a_new_run_from_history(stack, page, url, name)
    watch.check()
    print(
        f"\nAWS e2e: {time.monotonic() - began:.0f} s in the browser; Batch table states seen: {batch_views}"
    )
