"""Deploy in a real browser: the background job's progress, Cancel, a full deploy, then Trigger."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.helpers import choose_strategy, save_sweep

pytestmark = pytest.mark.e2e


def test_cancel_then_deploy_and_trigger(open_page, app_url):
    page = open_page()
    page.goto(app_url + "/")
    choose_strategy(page, "MomentumStrategy")
    save_sweep(page, "e2e_deploy")
    page.click("text=Go to Deploy")
    expect(page.locator("#deploy-summary")).to_contain_text("Not deployed")

    page.click("#deploy-button")
    expect(page.locator("#deploy-live")).to_contain_text(re.compile(r"[0-4] of 5"))  # still running
    page.click("#deploy-cancel")

    expect(page.locator("#deploy-alert")).to_contain_text("Deployment cancelled")
    expect(page.locator("#deploy-button")).to_be_enabled()
    expect(page.locator("#deploy-summary")).to_contain_text("Not deployed")
    expect(page.locator("#deploy-trigger")).to_be_disabled()

    page.click("#deploy-button")
    expect(page.locator("#deploy-panel")).to_contain_text("Deployed and unpaused.")
    expect(page.locator("#deploy-alert")).to_be_empty()
    expect(page.locator("#deploy-summary")).to_contain_text("Deployed")
    expect(page.locator("#shell-stepper")).to_contain_text("ready to run")

    page.click("#deploy-trigger")
    expect(page.locator("#deploy-trigger-result")).to_contain_text("Run started.")
    expect(page.locator("#shell-stepper")).to_contain_text("watch the latest run")
    page.click("text=Open in Monitor")
    expect(page).to_have_url(app_url + "/monitor/e2e_deploy")
    expect(page.locator("#monitor-run-header")).to_contain_text("manual__")
