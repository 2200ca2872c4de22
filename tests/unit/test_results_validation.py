"""The Results page's validation: reading `validation.json` (a missing or damaged one is a reason, never a
crash), keeping it per process, and the panel's callbacks over the fake services."""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path

import dash
import numpy as np
import pandas as pd
import pytest

from airflow_backtest_framework import engine_contract as ec
from airflow_backtest_framework.results_backends import LocalFolderBackend
from airflow_backtest_framework.results_store import ResultsStore
from airflow_backtest_framework.validation import validate_run, verdict
from services.models import ValidationRead
from services.results import ResultsService
from services.results_cache import REPORT_MAX_AGE_S, ResultsTables
from services.storage import LocalFolderStore
from tests.fakes import use_fake_services
from tests.support.fake_validation import fake_report
from tests.support.sweeps import small_sweep

RUN = "r"
BARS = 120
MR_GRID = {
    "lookback_period": "10:30:3",
    "entry_threshold": "1.0,2.0",
    "stop_loss_pct": "0.02,0.05",
    "cooldown_period": "3",
}


def write_returns(store: ResultsStore, config, seed: int = 7) -> None:
    """Every point's daily returns (noise), one chunk file, as the engine writes them."""
    rng = np.random.default_rng(seed)
    dates = np.arange(np.datetime64("2021-01-04"), np.datetime64("2021-01-04") + BARS).astype("datetime64[D]")
    points = np.repeat(np.arange(config.grid_size), BARS)
    net = rng.normal(0, 0.01, size=points.size)
    columns = {"point": points, "date": np.tile(dates, config.grid_size), "net_return": net}
    columns |= {"gross_return": net, "exposure": np.ones_like(net), "benchmark_return": np.zeros_like(net)}
    columns["traded"] = np.zeros(points.size, dtype=bool)
    store.write_returns(config.dag_id, RUN, 0, {name: columns[name] for name in ec.RETURNS_COLUMNS})


def test_the_report_summarize_writes_reads_back_whole(tmp_path: Path) -> None:
    config = small_sweep(params=MR_GRID)
    framework = ResultsStore(LocalFolderBackend(tmp_path))
    write_returns(framework, config)
    written = validate_run(framework, config, RUN, final=True, bars_per_year=252.0)
    read = ResultsService(LocalFolderStore(tmp_path)).validation(config.dag_id, RUN)
    assert read.report == written and read.reason == ""
    assert read.report.points_done == config.grid_size and read.report.overfitting is not None


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (None, "No validation report for this run yet"),
        (b"{not json", "damaged (not JSON)"),
        (json.dumps({"version": 99, "final": True}).encode(), "version 99; this app reads version 1"),
        (json.dumps({"version": 1, "final": "maybe"}).encode(), "damaged (fields missing or malformed)"),
    ],
)
def test_a_missing_or_damaged_report_is_a_reason(tmp_path: Path, content, reason) -> None:
    if content is not None:
        (tmp_path / "dag" / RUN).mkdir(parents=True)
        (tmp_path / "dag" / RUN / "validation.json").write_bytes(content)
    read = ResultsService(LocalFolderStore(tmp_path)).validation("dag", RUN)
    assert read.report is None and reason in read.reason


class CountingReads:
    """A Results port whose report and listing are set by the test; it counts the report's reads."""

    def __init__(self) -> None:
        self.reads, self.done, self.read = 0, set(), ValidationRead(reason="none yet")

    def done_indices(self, dag_id: str, run_id: str) -> set[int]:
        return set(self.done)

    def validation(self, dag_id: str, run_id: str) -> ValidationRead:
        self.reads += 1
        return self.read


def test_the_report_is_kept_per_row_count_and_re_read_while_not_final() -> None:
    config = small_sweep(params=MR_GRID)
    now = [0.0]
    results = CountingReads()
    tables = ResultsTables(results, clock=lambda: now[0])  # type: ignore[arg-type]
    partial = ValidationRead(report=fake_report(config, list(range(6)), final=False))
    results.read = partial
    assert tables.validation(config, RUN, rows=6) == partial
    assert tables.validation(config, RUN, rows=6) == partial and results.reads == 1
    tables.validation(config, RUN, rows=7)  # new points: read again
    assert results.reads == 2
    final = ValidationRead(report=fake_report(config, list(range(8)), final=True))
    results.read = final
    assert tables.validation(config, RUN, rows=7) == partial and results.reads == 2
    now[0] += REPORT_MAX_AGE_S + 1  # summarize rewrote it after the last point: a stale partial is re-read
    assert tables.validation(config, RUN, rows=7) == final and results.reads == 3
    now[0] += 10 * REPORT_MAX_AGE_S
    assert tables.validation(config, RUN, rows=7) == final and results.reads == 3  # final: kept
    results.done = set(range(8))
    tables.validation(config, RUN)  # no row count given: one listing decides
    assert results.reads == 4


# ----------------------------------------------------------------------------- the page's callbacks


@pytest.fixture
def services(tmp_path):
    services = use_fake_services(tmp_path)
    config = small_sweep(name="mr_a", owner="ann", params=MR_GRID)
    services.registry.save(config)
    services.deployer.deploy(config)
    services.registry.record_deploy("mr_a", config.spec_hash)
    services.registry.record_run("mr_a", services.runs.trigger(config).run_id)
    services.monitor.fraction = 1.0
    return services


def shown(services) -> tuple[dict, object]:
    from pages.results import load

    config = services.registry.get("mr_a").config
    run_id = services.runs.list_runs(config)[0].run_id
    data, _count, _metrics, _labels = load(run_id, 0, "mr_a", None)
    return data, services.results.validation(config.dag_id, run_id).report


def test_the_panel_leads_with_the_verdict_and_draws_the_report(services) -> None:
    from pages.results import show_validation

    data, report = shown(services)
    children, scatter, logits, importance = show_validation(data, "light", "mr_a")
    text = str([c.to_plotly_json() for c in children])
    for line in verdict(report):
        assert line in text
    assert "DSR 0.39" in text
    points = scatter.data[1]
    assert sorted(points.customdata) == sorted(report.segments.points)
    assert any(t.name.startswith("in-sample best") for t in scatter.data)
    assert len(logits.data[0].x) + len(logits.data[1].x) == len(report.overfitting.logits)
    assert set(importance.data[0].y) == set(report.importance.shares)


def test_a_running_sweep_says_partial_and_a_missing_report_says_why(services, monkeypatch) -> None:
    from pages.results import show_validation

    services.monitor.fraction = 0.5
    data, report = shown(services)
    assert not report.final
    children, *_ = show_validation(data, "light", "mr_a")
    assert f"partial: {report.points_done:,} of {report.points_total:,} points" in str(
        children[0].to_plotly_json()
    )

    missing = ValidationRead(
        reason="The summarize task has not written a validation report for this run yet."
    )
    monkeypatch.setattr(services.results, "validation", lambda dag_id, run_id: missing)
    services.results_tables._reports.clear()
    children, scatter, logits, importance = show_validation(data, "light", "mr_a")
    assert missing.reason in str(children[0].to_plotly_json())
    for fig in (scatter, logits, importance):
        assert not fig.data and fig.layout.annotations[0].text == missing.reason


def test_the_heatmap_switches_to_the_smoothed_metric(services) -> None:
    from pages.results import show_heatmap

    data, report = shown(services)
    x, y = "lookback_period", "entry_threshold"
    raw = show_heatmap(data, "sharpe", x, y, "best", [], "raw", [], "light", "mr_a")
    smoothed = show_heatmap(data, "sharpe", x, y, "best", [], "smoothed", [], "light", "mr_a")
    assert smoothed.data[0].colorbar.title.text == "Smoothed Sharpe<br>best (max)"
    assert raw.data[0].colorbar.title.text == "Sharpe<br>best (max)"
    assert not np.allclose(
        np.asarray(raw.data[0].z, float), np.asarray(smoothed.data[0].z, float), equal_nan=True
    )
    best = max(report.robustness.smoothed) * np.sqrt(report.bars_per_year)
    assert np.nanmax(np.asarray(smoothed.data[0].z, float)) == pytest.approx(best)


def test_the_top_table_ranks_out_of_sample_and_robust_and_says_when_it_cannot(services) -> None:
    from pages.results import show_points

    data, report = shown(services)
    scale = np.sqrt(report.bars_per_year)
    _fig, rows, columns, note = show_points(data, "sharpe", "sharpe_out_of_sample", "light", "mr_a")
    assert rows[0]["sharpe_out_of_sample"] == pytest.approx(max(report.segments.out_of_sample) * scale)
    assert "ranked by out-of-sample Sharpe" in note
    assert {"sharpe_in_sample", "sharpe_out_of_sample", "sharpe_smoothed"} <= {c["field"] for c in columns}
    _fig, rows, _columns, _note = show_points(data, "sharpe", "sharpe_smoothed", "light", "mr_a")
    assert rows[0]["index"] == report.robustness.best_point
    _fig, rows, _columns, _note = show_points(data, "sharpe", "full", "light", "mr_a")
    assert rows[0]["sharpe"] == max(r["sharpe"] for r in rows)


def test_exports_carry_the_validation_columns_and_the_report(services) -> None:
    from pages.results import export_file

    data, report = shown(services)
    csv = pd.read_csv(io.BytesIO(base64.b64decode(export_file("mr_a", data, "csv")["content"])))
    assert {"sharpe_in_sample", "sharpe_out_of_sample", "sharpe_smoothed"} <= set(csv.columns)
    by_index = csv.set_index("index")
    point = report.segments.points[0]
    expected = report.segments.out_of_sample[0] * np.sqrt(report.bars_per_year)
    assert by_index.loc[point, "sharpe_out_of_sample"] == pytest.approx(expected)
    exported = export_file("mr_a", data, "json")
    document = json.loads(base64.b64decode(exported["content"]))
    assert exported["filename"].endswith("_validation.json")
    assert document["overfitting"]["logits"] == report.overfitting.logits
    assert document["verdict"] == verdict(report)


def test_without_a_report_the_json_export_says_why_and_the_table_ranks_by_the_full_period(
    services, monkeypatch
) -> None:
    from pages.results import export, show_points
    from tests.unit.test_app_wall_sweeps_results import _triggered

    data, _report = shown(services)
    missing = ValidationRead(
        reason="No validation report for this run yet: the DAG writes one as chunks finish."
    )
    monkeypatch.setattr(services.results, "validation", lambda dag_id, run_id: missing)
    services.results_tables._reports.clear()
    with _triggered("results-json"):
        download, alert = export(None, None, 1, data, "mr_a")
    assert download is dash.no_update
    assert "Cannot export the JSON file" in str(alert.to_plotly_json()) and missing.reason in str(
        alert.to_plotly_json()
    )
    _fig, rows, columns, note = show_points(data, "sharpe", "sharpe_out_of_sample", "light", "mr_a")
    assert note == "this run has no out-of-sample Sharpe: ranked by Sharpe, full period"
    assert rows[0]["sharpe"] == max(r["sharpe"] for r in rows)
    assert "sharpe_out_of_sample" not in {c["field"] for c in columns}  # no empty columns


def test_a_walk_forward_report_lists_each_folds_choice_in_the_panel(tmp_path: Path) -> None:
    from components.validation_panel import make_verdict

    config = small_sweep(params=MR_GRID, validation={"scheme": "walk_forward", "folds": 3})
    framework = ResultsStore(LocalFolderBackend(tmp_path))
    write_returns(framework, config)
    report = validate_run(framework, config, RUN, final=True, bars_per_year=252.0)
    assert report.segments is not None and len(report.segments.folds) == 3
    text = str([c.to_plotly_json() for c in make_verdict(verdict(report), report)])
    for fold in report.segments.folds:
        assert (
            f"Walk-forward fold {fold.fold}: its in-sample window chose point {fold.best_in_sample_point}"
            in text
        )
