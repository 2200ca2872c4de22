"""The engine's failures: failing points exit 1, bad input exits 2 with one clear line."""

from __future__ import annotations

from pathlib import Path

import pytest

from airflow_backtest_framework import engine_contract as ec
from backtest_engine import main
from tests.support.engine_runs import make_config, make_env, run_dir


def test_failing_points_exit_1_and_the_others_are_written(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    config = make_config()
    assert main(make_env(config, str(tmp_path), count=4, BACKTEST_FAIL_POINTS="1, 3,99")) == 1
    points = run_dir(tmp_path, config) / "points"
    assert sorted(p.name for p in points.iterdir()) == ["0.json", "2.json"]
    assert not (run_dir(tmp_path, config) / "equity" / "1.json").exists()
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("backtest_engine: 2 of 4 points failed: 1, 3 ")


@pytest.mark.parametrize(
    ("conf", "attempt", "expected"),
    [
        (None, 1, {}),
        ({}, 1, {}),
        ({"fail_points": "3,7"}, 1, {"BACKTEST_FAIL_POINTS": "3,7"}),
        ({"fail_points": [3, 7]}, 1, {"BACKTEST_FAIL_POINTS": "3,7"}),
        ({"fail_points": "3,7"}, 2, {}),  # cleared and run again: the point succeeds
        ({"fail_points": "3", "fail_attempts": 2}, 2, {"BACKTEST_FAIL_POINTS": "3"}),
        ({"fail_points": "3", "fail_attempts": 2}, 3, {}),
    ],
)
def test_run_conf_injects_failures_only_on_the_first_attempts(conf, attempt, expected) -> None:
    assert ec.injected_failures(conf, attempt) == expected


def bad_inputs(tmp_path: Path) -> dict[str, tuple[dict[str, str], str]]:
    config = make_config()
    good = make_env(config, str(tmp_path))
    no_spec = {k: v for k, v in good.items() if k != "BACKTEST_SPEC"}
    other = make_config("MomentumStrategy").strategy
    return {
        "missing spec": (no_spec, "BACKTEST_SPEC"),
        "bad json": ({**good, "BACKTEST_SPEC": "{not json"}, "not a valid sweep spec"),
        "invalid spec": (
            {**good, "BACKTEST_SPEC": config.to_json().replace("engine_test", "Bad Name")},
            "name",
        ),
        "missing spec file": (
            {**no_spec, "BACKTEST_SPEC_URI": str(tmp_path / "nope.json")},
            "BACKTEST_SPEC_URI",
        ),
        "spec uri of another scheme": (
            {**no_spec, "BACKTEST_SPEC_URI": "gs://bucket/spec.json"},
            "BACKTEST_SPEC_URI",
        ),
        "results uri of another scheme": (
            {**good, "BACKTEST_RESULTS_URI": "gs://bucket/results"},
            "BACKTEST_RESULTS_URI",
        ),
        "results uri without a bucket": (
            {**good, "BACKTEST_RESULTS_URI": "s3:///results"},
            "names no bucket",
        ),
        "chunk out of range": (
            {**good, "BACKTEST_CHUNK_START": "3", "BACKTEST_CHUNK_COUNT": "2"},
            "outside the grid",
        ),
        "negative start": ({**good, "BACKTEST_CHUNK_START": "-1"}, "BACKTEST_CHUNK_START"),
        "zero count": ({**good, "BACKTEST_CHUNK_COUNT": "0"}, "BACKTEST_CHUNK_COUNT"),
        "count not a number": ({**good, "BACKTEST_CHUNK_COUNT": "ten"}, "not a whole number"),
        "strategy mismatch": (
            {**good, "BACKTEST_STRATEGY": other},
            "spec's strategy is 'MeanReversionStrategy'",
        ),
        "unknown strategy": ({**good, "BACKTEST_STRATEGY": "Astrology"}, "not a strategy of this engine"),
        "missing strategy": ({**good, "BACKTEST_STRATEGY": ""}, "BACKTEST_STRATEGY is not set"),
        "missing results": (
            {k: v for k, v in good.items() if k != "BACKTEST_RESULTS_URI"},
            "BACKTEST_RESULTS_URI",
        ),
        "unsafe run id": ({**good, "BACKTEST_RUN_ID": "../escape"}, "BACKTEST_RUN_ID"),
        "missing dag id": ({**good, "BACKTEST_DAG_ID": ""}, "BACKTEST_DAG_ID"),
        "bad fail points": ({**good, "BACKTEST_FAIL_POINTS": "one"}, "BACKTEST_FAIL_POINTS"),
        "missing data folder": (
            {**good, "BACKTEST_DATA_SOURCE": str(tmp_path / "absent")},
            "BACKTEST_DATA_SOURCE",
        ),
        "results root is a file": (
            {**good, "BACKTEST_RESULTS_URI": str(make_file(tmp_path))},
            "cannot create",
        ),
    }


def make_file(tmp_path: Path) -> Path:
    path = tmp_path / "a_file"
    path.write_text("x")
    return path


BAD_INPUT_CASES = [
    "missing spec",
    "bad json",
    "invalid spec",
    "missing spec file",
    "spec uri of another scheme",
    "results uri of another scheme",
    "results uri without a bucket",
    "chunk out of range",
    "negative start",
    "zero count",
    "count not a number",
    "strategy mismatch",
    "unknown strategy",
    "missing strategy",
    "missing results",
    "unsafe run id",
    "missing dag id",
    "bad fail points",
    "missing data folder",
    "results root is a file",
]


@pytest.mark.parametrize("case", BAD_INPUT_CASES)
def test_bad_input_exits_2_with_one_clear_line(
    tmp_path: Path, capsys: pytest.CaptureFixture, case: str
) -> None:
    environ, expected = bad_inputs(tmp_path)[case]
    assert main(environ) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("backtest_engine: error: ")
    assert expected in lines[0]
    assert "Traceback" not in captured.err
    assert not list(tmp_path.rglob("points/*.json"))


def test_bad_input_case_list_is_complete(tmp_path: Path) -> None:
    assert sorted(BAD_INPUT_CASES) == sorted(bad_inputs(tmp_path))
