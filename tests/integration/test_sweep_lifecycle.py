"""A sweep from spec to results through the real local Airflow, driven by the services the pages call."""

from __future__ import annotations

import math
import time
from pathlib import Path

import pytest

from airflow_backtest_framework.catalog import STRATEGIES
from scripts import local_airflow
from services.bootstrap import build_services
from services.dag_generator import GENERATED_MARKER
from services.models import PointState, StepState, SweepStatus
from services.ports import Services
from services.settings import Settings
from tests.support.sweeps import small_sweep

RUN_TIMEOUT_S = 240
POLL_S = 1.0


@pytest.fixture(scope="module")
def services(airflow_stack: Settings, tmp_path_factory: pytest.TempPathFactory) -> Services:
    scratch = tmp_path_factory.mktemp("app")
    settings = airflow_stack.model_copy(
        update={"app_data_dir": scratch / "data", "cache_dir": scratch / "cache", "refresh_interval_s": 1.0}
    )
    return build_services(settings)


def wait_for_finish(services: Services, config, run_id: str) -> SweepStatus:
    deadline = time.monotonic() + RUN_TIMEOUT_S
    while time.monotonic() < deadline:
        status = services.monitor.status(config, run_id)
        if status.run is not None and status.run.state in ("success", "failed"):
            return status
        time.sleep(POLL_S)
    pytest.fail(f"{config.dag_id} run {run_id} did not finish within {RUN_TIMEOUT_S} s")


@pytest.mark.parametrize("strategy", sorted(STRATEGIES))
def test_sweep_runs_to_full_coverage(services: Services, strategy: str) -> None:
    # MeanReversion gets 1 point per task: more chunks than one, mapped over several task instances.
    per_task = 1 if strategy == "MeanReversionStrategy" else None
    config = small_sweep(strategy, name=f"it_{strategy[:-8].lower()}", points_per_task=per_task)
    assert all(check.ok for check in services.deployer.preflight(config)), services.deployer.preflight(config)
    progress = services.deployer.deploy(config)
    assert progress.ok, progress.error
    assert progress.fraction == 1.0

    run = services.runs.trigger(config)
    status = wait_for_finish(services, config, run.run_id)
    assert status.run.state == "success", status
    assert status.coverage == 1.0 and status.point_counts()[PointState.DONE] == config.grid_size
    assert status.summary is not None and status.summary.points_done == config.grid_size
    if per_task == 1:
        assert status.task_counts["success"] == config.grid_size + 3  # plan, every chunk, validate, summarize
    read = services.results.validation(config.dag_id, run.run_id)
    report = read.report
    assert report is not None, read.reason
    assert report.final and report.points_done == config.grid_size
    assert report.deflated_sharpe is not None and report.deflated_sharpe.trials == config.grid_size

    table = services.results.table(config, run.run_id)
    assert sorted(table["index"]) == list(range(config.grid_size))
    for index in range(config.grid_size):
        row = table[table["index"] == index].iloc[0]
        assert {name: row[name] for name in config.strategy_spec.param_names} == config.point(index)
    metrics = table[["total_return", "cagr", "sharpe", "sortino", "max_drawdown", "win_rate"]].to_numpy()
    assert all(math.isfinite(value) for value in metrics.ravel())
    assert table["sharpe"].nunique() > 1  # parameters change the outcome


def test_redeploying_an_unchanged_spec_uploads_nothing(services: Services) -> None:
    config = small_sweep("MomentumStrategy", name="it_redeploy")
    assert services.deployer.deploy(config).ok
    started = time.monotonic()
    again = services.deployer.deploy(config)
    assert again.ok and again.uploaded == []
    assert {s.key: s.state for s in again.steps}["dag"] == StepState.SKIPPED
    assert time.monotonic() - started < 5


def test_a_broken_dag_file_yields_its_import_error(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    broken = (
        f"# {GENERATED_MARKER} dag_id=backtest_it_broken\nimport airflow\nfrom nowhere_module import dag\n"
    )
    monkeypatch.setattr("services.deploy.render_dag", lambda config: broken)
    progress = services.deployer.deploy(small_sweep(name="it_broken"))
    assert not progress.ok
    assert "cannot import backtest_it_broken.py" in progress.error
    assert "nowhere_module" in progress.error + (progress.error_detail or "")
    assert str(services.settings.local_dags_folder) not in (progress.error_detail or "")
    assert progress.step("register").state == StepState.FAILED
    Path(services.settings.local_dags_folder, "backtest_it_broken.py").unlink()


def test_outage_during_monitoring_is_stale_then_recovers(services: Services, airflow_stack: Settings) -> None:
    config = small_sweep("LongShortEquityStrategy", name="it_outage")
    assert services.deployer.deploy(config).ok
    run = services.runs.trigger(config)
    fresh = wait_for_finish(services, config, run.run_id)
    assert not fresh.stale
    local_airflow.stop(airflow_stack)
    try:
        time.sleep(1.1)  # past the cache's TTL
        stale = services.monitor.status(config, run.run_id)
        assert stale.stale and stale.stale_reason
        assert stale.run == fresh.run and stale.coverage == 1.0  # the last known status, marked
    finally:
        local_airflow.start(airflow_stack)
    time.sleep(1.1)
    recovered = services.monitor.status(config, run.run_id)
    assert not recovered.stale and recovered.run.state == "success"
