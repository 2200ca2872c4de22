"""The sweep validation report in the results exports: per-point columns for the CSV/Parquet table, and the
whole report (every figure's data, the verdict) as a JSON file a researcher can recompute from."""

from __future__ import annotations

import json
import math

import pandas as pd

from airflow_backtest_framework.validation import verdict
from airflow_backtest_framework.validation_report import ValidationReport

# Columns added to the exported table, annualised like the table's `sharpe` (the report keeps per-bar ratios).
IN_SAMPLE_COLUMN = "sharpe_in_sample"
OUT_OF_SAMPLE_COLUMN = "sharpe_out_of_sample"
SMOOTHED_COLUMN = "sharpe_smoothed"
VALIDATION_COLUMNS = (IN_SAMPLE_COLUMN, OUT_OF_SAMPLE_COLUMN, SMOOTHED_COLUMN)


def with_validation(table: pd.DataFrame, report: ValidationReport | None) -> pd.DataFrame:
    """`table` (one row per point, an `index` column) with the report's per-point Sharpe ratios:
    in-sample, out-of-sample and smoothed over grid neighbours; NaN where the report has none."""
    frame = table.copy()
    scale = math.sqrt(report.bars_per_year) if report is not None else 1.0
    columns: dict[str, dict[int, float]] = {name: {} for name in VALIDATION_COLUMNS}
    if report is not None and report.segments is not None:
        points = report.segments.points
        columns[IN_SAMPLE_COLUMN] = dict(zip(points, report.segments.in_sample, strict=True))
        columns[OUT_OF_SAMPLE_COLUMN] = dict(zip(points, report.segments.out_of_sample, strict=True))
    if report is not None and report.robustness is not None:
        columns[SMOOTHED_COLUMN] = dict(
            zip(report.robustness.points, report.robustness.smoothed, strict=True)
        )
    for name, values in columns.items():
        frame[name] = frame["index"].map(values).astype(float) * scale
    return frame


def validation_json_bytes(report: ValidationReport) -> bytes:
    """The report as indented JSON, with the plain verdict the page shows (`verdict`)."""
    document = {**report.model_dump(mode="json"), "verdict": verdict(report)}
    return json.dumps(document, indent=2, ensure_ascii=False, allow_nan=False).encode("utf-8")
