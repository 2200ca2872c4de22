"""Two app instances (gunicorn on two ports, as two hosts) over one PostgreSQL, one Redis and a Celery
worker: what one host does, the other shows; a host killed mid-deploy loses nothing; saves race fairly;
many viewers on both hosts cost Airflow one status poll per sweep per interval."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from bench.app_support import UPDATE_PATH, callback_specs, find_callback, http_json
from bench.cluster import Cluster, two_instances
from tests.e2e.helpers import DEPLOY_STEPS, choose_strategy, history_row, save_sweep, snap, type_into
from tests.support.sweeps import small_sweep

pytestmark = pytest.mark.e2e

MR = "MeanReversionStrategy"
HOLD_S = 45.0  # the DAG stays unregistered this long (or until released): the deploy waits at step 4 of 5
REFRESH_S = 2.0
VIEWERS = 20
INTERVALS = 3


@pytest.fixture(scope="module")
def cluster(tmp_path_factory, redis_url: str, postgres_url: str) -> Iterator[Cluster]:
    workspace = tmp_path_factory.mktemp("two-instances")
    with two_instances(workspace, redis_url, postgres_url, REFRESH_INTERVAL_S=str(REFRESH_S)) as running:
        yield running


def open_on(watched_page, instance_url: str) -> Page:
    page, _watch = watched_page(instance_url)
    return page


def pick_on_deploy(page: Page, url: str, name: str) -> None:
    page.goto(url + "/deploy")
    expect(page.locator("#deploy-pick option", has_text=name)).to_have_count(1)
    page.select_option("#deploy-pick", name)


def test_a_sweep_saved_through_a_is_on_bs_history(cluster: Cluster, watched_page) -> None:
    page_a = open_on(watched_page, cluster.a.url)
    page_a.goto(cluster.a.url + "/")
    choose_strategy(page_a, MR)
    save_sweep(page_a, "two_saved_on_a")

    page_b = open_on(watched_page, cluster.b.url)
    page_b.goto(cluster.b.url + "/sweeps")
    expect(history_row(page_b, "two_saved_on_a")).to_be_visible()
    assert cluster.registry().get("two_saved_on_a").config.strategy == MR


def test_a_deploy_started_on_a_shows_its_progress_reloaded_from_b(cluster: Cluster, watched_page) -> None:
    name = "two_deploy_seen"
    cluster.registry().save(small_sweep(name=name))
    page_a = open_on(watched_page, cluster.a.url)
    pick_on_deploy(page_a, cluster.a.url, name)
    cluster.held.hold(f"backtest_{name}", HOLD_S)
    try:
        page_a.click("#deploy-button")
        expect(page_a.locator("#deploy-live")).to_contain_text("3 of 5")

        page_b = open_on(watched_page, cluster.b.url)
        pick_on_deploy(page_b, cluster.b.url, name)
        panel_b = page_b.locator("#deploy-panel")
        expect(panel_b).to_contain_text("Deployment in progress, started by")
        expect(panel_b.locator(".progress-bar")).to_have_text("3 of 5")
        expect(page_b.locator("#deploy-button")).to_be_disabled()  # one deployment at a time, any host
        expect(page_b.locator("#deploy-trigger-hint")).to_contain_text("deployment of this sweep is running")
        snap(page_b, "deploy-followed-from-another-instance")
    finally:
        cluster.held.release()
    # B follows it to the end without a reload, as A's own page does
    expect(panel_b).to_contain_text("Deployed and unpaused.", timeout=30_000)
    expect(panel_b.locator(".progress-bar")).to_have_text(f"{DEPLOY_STEPS} of {DEPLOY_STEPS}")
    expect(page_a.locator("#deploy-panel")).to_contain_text("Deployed and unpaused.", timeout=30_000)
    expect(page_b.locator("#deploy-button")).to_be_enabled()
    expect(page_b.locator("#deploy-trigger")).to_be_enabled()
    page_b.reload()
    page_b.select_option("#deploy-pick", name)
    expect(panel_b).to_contain_text("Last deployment, started by")
    expect(page_b.locator("#deploy-summary")).to_contain_text("Deployed")


def test_concurrent_saves_on_a_and_b_give_one_success_and_one_refusal(cluster: Cluster, watched_page) -> None:
    pages = []
    for instance in (cluster.a, cluster.b):
        page = open_on(watched_page, instance.url)
        page.goto(instance.url + "/")
        choose_strategy(page, MR)
        type_into(page, page.locator("#configure-name"), "two_race")
        expect(page.locator("#configure-save")).to_be_enabled()
        pages.append(page)
    at = time.time() * 1000 + 500  # both clicks at the same moment, in two browsers on two hosts
    for page in pages:
        page.evaluate(
            "at => setTimeout(() => document.querySelector('#configure-save').click(), at - Date.now())", at
        )
    saved = refused = 0
    for page in pages:
        outcome = page.locator(".bt-toast, #configure-alert .alert")
        expect(outcome.first).to_be_visible()
        text = outcome.first.inner_text()
        saved += "two_race" in text and "Not saved" not in text
        refused += "Not saved" in text
    assert (saved, refused) == (1, 1)
    assert cluster.registry().get("two_race").version == 1


def deployed_with_a_run(cluster: Cluster, name: str) -> None:
    """A saved, deployed sweep with a running run, through the services the instances use."""
    from services.bootstrap import build_services

    services = build_services(cluster.settings())
    config = small_sweep(name=name)
    services.registry.save(config)
    assert services.deployer.deploy(config).ok
    services.registry.record_deploy(name, config.spec_hash)
    run = services.runs.trigger(config)
    services.registry.record_run(name, run.run_id)
    cluster.airflow.fake.set_states(config.dag_id, run.run_id, "running", {0: "success", 1: "running"})


def test_twenty_viewers_on_both_hosts_cost_one_poll_per_sweep_per_interval(cluster: Cluster) -> None:
    name = "two_polled"
    deployed_with_a_run(cluster, name)
    specs = {}
    for instance in (cluster.a, cluster.b):
        status, dependencies = http_json(instance.url + "/_dash-dependencies")
        assert status == 200
        specs[instance.url] = find_callback(callback_specs(dependencies), "monitor-kpis.children")
    cluster.airflow.reset_count()
    started = time.monotonic()
    for tick in range(1, INTERVALS + 1):
        for viewer in range(VIEWERS):
            url = (cluster.a.url, cluster.b.url)[viewer % 2]
            values = {
                "monitor-run.value": "latest",
                "shell-theme.data": "light",
                "monitor-name.data": name,
                "monitor-interval.n_intervals": tick,
            }
            status, _body = http_json(url + UPDATE_PATH, specs[url].payload(values))
            assert status == 200
        time.sleep(max(0.0, started + tick * REFRESH_S - time.monotonic()))
    elapsed_intervals = (time.monotonic() - started) / REFRESH_S
    run_lists = cluster.airflow.paths[f"GET /dags/backtest_{name}/dagRuns"]
    assert 1 <= run_lists <= elapsed_intervals + 1  # one poll per interval, not one per viewer or host
    assert run_lists < VIEWERS


def test_a_killed_mid_deploy_leaves_b_serving_and_the_outcome_recorded(
    tmp_path: Path, redis_url: str, postgres_url: str, watched_page
) -> None:
    name = "two_killed"
    with two_instances(tmp_path, redis_url, postgres_url) as cluster:
        cluster.registry().save(small_sweep(name=name))
        page_a, watch_a = watched_page(cluster.a.url)
        pick_on_deploy(page_a, cluster.a.url, name)
        cluster.held.hold(f"backtest_{name}", HOLD_S)
        page_a.click("#deploy-button")
        expect(page_a.locator("#deploy-live")).to_contain_text("3 of 5")
        cluster.a.kill()
        page_a.close()  # the page lost its server: its failed requests are the point, not a defect
        watch_a.errors.clear()
        cluster.held.release()

        assert cluster.b.serving()
        page_b = open_on(watched_page, cluster.b.url)
        pick_on_deploy(page_b, cluster.b.url, name)
        expect(page_b.locator("#deploy-panel")).to_contain_text("Deployed and unpaused.", timeout=30_000)
        expect(page_b.locator("#deploy-summary")).to_contain_text("Deployed")
        record = cluster.registry().get(name)
        assert record.deployed_hash == record.config.spec_hash
