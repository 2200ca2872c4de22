"""The validation report in the results exports, and the Results service reading it back."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd

from airflow_backtest_framework.results_store import open_results_store
from airflow_backtest_framework.validation import validate_run, verdict
from airflow_backtest_framework.validation_report import ValidationReport
from bench.bench_validation import business_days, validation_sweep, write_run
from services.results import ResultsService
from services.storage import LocalFolderStore
from services.validation_export import validation_json_bytes, with_validation


def written_report(root: Path) -> tuple[ValidationReport, np.ndarray]:
    config = validation_sweep("export_test", side=4)
    returns = np.random.default_rng(4).normal(0.0003, 0.01, size=(config.grid_size, 400))
    store = open_results_store(str(root))
    write_run(store, config, "r", returns, business_days(400))
    return validate_run(store, config, "r", final=True, bars_per_year=252), returns


def test_the_exported_table_gains_annualised_in_sample_out_of_sample_and_smoothed_sharpe(
    tmp_path: Path,
) -> None:
    report, returns = written_report(tmp_path)
    table = pd.DataFrame({"index": [0, 5, 99], "sharpe": [1.0, 2.0, 3.0]})
    exported = with_validation(table, report)
    inside = returns[5, :280]  # holdout: the first 70 % of 400 bars
    expected = inside.mean() / inside.std(ddof=1) * math.sqrt(252)
    assert math.isclose(exported.loc[1, "sharpe_in_sample"], expected, rel_tol=1e-12)
    outside = returns[5, 280:]
    assert math.isclose(
        exported.loc[1, "sharpe_out_of_sample"], outside.mean() / outside.std(ddof=1) * math.sqrt(252)
    )
    assert math.isnan(exported.loc[2, "sharpe_smoothed"])  # no point 99 in a 16-point grid
    assert not math.isnan(exported.loc[0, "sharpe_smoothed"])
    assert list(table.columns) == ["index", "sharpe"]  # the caller's table is left alone
    assert with_validation(table, None)["sharpe_in_sample"].isna().all()


def test_the_json_export_is_the_report_plus_its_verdict_and_the_service_reads_it_back(tmp_path: Path) -> None:
    report, _ = written_report(tmp_path)
    document = json.loads(validation_json_bytes(report))
    assert document.pop("verdict") == verdict(report)
    assert ValidationReport.model_validate(document) == report
    service = ResultsService(LocalFolderStore(tmp_path))
    assert service.validation("backtest_export_test", "r").report == report
    assert service.validation("backtest_export_test", "other").report is None
    (tmp_path / "backtest_export_test" / "r" / "validation.json").write_text('{"final": "maybe"}')
    assert service.validation("backtest_export_test", "r").report is None
