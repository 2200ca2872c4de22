"""The engine contract end to end: environment in, one JSON per grid point out (a folder, a file URL, S3)."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from airflow_backtest_framework.config import SweepConfig
from backtest_engine import ENGINE_VERSION, load_market_data, main, run_point
from backtest_engine.metrics import METRIC_NAMES
from tests.support.engine_runs import RUN_ID, make_config, make_env, read_point, run_dir
from tests.support.processes import run_module

EQUITY_MAX_POINTS = 260


def check_record(record: dict, config: SweepConfig, index: int) -> None:
    assert record["index"] == index
    assert record["params"] == config.point(index)
    assert record["strategy"] == config.strategy
    assert record["dag_id"] == config.dag_id
    assert record["run_id"] == RUN_ID
    assert record["engine_version"] == ENGINE_VERSION
    assert record["db_host"] == "marketdata.internal"
    assert record["started_at"].endswith("Z") and record["started_at"] <= record["finished_at"]
    assert list(record["metrics"]) == list(METRIC_NAMES)
    for name, value in record["metrics"].items():
        assert isinstance(value, int | float) and math.isfinite(value), name
    assert record["metrics"]["max_drawdown"] <= 0
    assert 0 <= record["metrics"]["win_rate"] <= 1


# --------------------------------------------------------------------------- success


@pytest.mark.parametrize("strategy", ["MeanReversionStrategy", "MomentumStrategy", "LongShortEquityStrategy"])
def test_chunk_writes_one_result_and_one_equity_curve_per_point(tmp_path: Path, strategy: str) -> None:
    config = make_config(strategy)
    assert main(make_env(config, str(tmp_path), start=1, count=3)) == 0

    points = run_dir(tmp_path, config) / "points"
    assert sorted(p.name for p in points.iterdir()) == ["1.json", "2.json", "3.json"]
    for index in (1, 2, 3):
        check_record(read_point(tmp_path, config, index), config, index)
        curve = json.loads((run_dir(tmp_path, config) / "equity" / f"{index}.json").read_text())
        assert 2 <= len(curve["dates"]) == len(curve["equity"]) <= EQUITY_MAX_POINTS
        assert curve["dates"] == sorted(curve["dates"])
        assert curve["dates"][0] >= "2022-01-01" and curve["dates"][-1] <= "2023-12-31"
        assert curve["equity"][0] == pytest.approx(config.initial_capital, rel=0.01)
    assert not list(run_dir(tmp_path, config).rglob(".*.tmp")), "temporary files left behind"
    assert (points / "1.json").stat().st_mode & 0o777 == 0o644


def test_metrics_match_the_python_api_and_the_equity_curve(tmp_path: Path) -> None:
    config = make_config()
    assert main(make_env(config, str(tmp_path), count=1)) == 0
    record = read_point(tmp_path, config, 0)
    expected = run_point(config, 0, load_market_data(config))
    assert record["metrics"] == expected.metrics
    curve = json.loads((run_dir(tmp_path, config) / "equity" / "0.json").read_text())
    final = curve["equity"][-1] / config.initial_capital - 1
    assert final == pytest.approx(record["metrics"]["total_return"], abs=1e-6)


def test_same_chunk_twice_gives_identical_metrics(tmp_path: Path) -> None:
    config = make_config("LongShortEquityStrategy", factors=["PriceToBook", "NewsSentiment"])
    for run in ("a", "b"):
        assert main(make_env(config, str(tmp_path / run), count=4)) == 0
    for index in range(4):
        first, second = (read_point(tmp_path / run, config, index) for run in ("a", "b"))
        assert first["metrics"] == second["metrics"]
        assert first["params"] == second["params"]


def test_different_parameters_give_different_metrics(tmp_path: Path) -> None:
    config = make_config("MomentumStrategy")
    assert main(make_env(config, str(tmp_path), count=config.grid_size)) == 0
    metrics = [tuple(read_point(tmp_path, config, i)["metrics"].values()) for i in range(config.grid_size)]
    assert len(set(metrics)) == config.grid_size


def test_results_root_may_be_a_file_url_and_spec_a_file(tmp_path: Path) -> None:
    config = make_config()
    spec = tmp_path / "spec.json"
    spec.write_text(config.to_json())
    env = make_env(config, (tmp_path / "out").as_uri(), count=2, BACKTEST_SPEC_URI=str(spec))
    del env["BACKTEST_SPEC"]
    assert main(env) == 0
    check_record(read_point(tmp_path / "out", config, 1), config, 1)


def test_subprocess_entry_point_runs_a_chunk(tmp_path: Path) -> None:
    config = make_config()
    env = {**os.environ, **make_env(config, str(tmp_path), start=2, count=2)}
    done = run_module("backtest_engine", env)
    assert done.returncode == 0, done.stderr
    check_record(read_point(tmp_path, config, 3), config, 3)
    assert "point 2 done" in done.stderr and "point 3 done" in done.stderr


# --------------------------------------------------------------------------- S3


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch):
    for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws():
        client = boto3.client("s3")
        client.create_bucket(Bucket="results-bucket")
        yield client


def test_s3_spec_and_results(aws, tmp_path: Path) -> None:
    config = make_config()
    aws.put_object(Bucket="results-bucket", Key="specs/engine_test.json", Body=config.to_json().encode())
    env = make_env(
        config,
        "s3://results-bucket/sweeps/",
        count=2,
        BACKTEST_SPEC_URI="s3://results-bucket/specs/engine_test.json",
    )
    del env["BACKTEST_SPEC"]
    assert main(env) == 0

    listing = aws.list_objects_v2(Bucket="results-bucket", Prefix=f"sweeps/{config.dag_id}/{RUN_ID}/")
    keys = sorted(item["Key"] for item in listing["Contents"])
    base = f"sweeps/{config.dag_id}/{RUN_ID}"
    assert keys == [
        f"{base}/equity/0.json",
        f"{base}/equity/1.json",
        f"{base}/points/0.json",
        f"{base}/points/1.json",
        f"{base}/progress/0.json",  # the chunk's progress record
        f"{base}/returns/0.parquet",  # the chunk's daily returns
    ]
    body = aws.get_object(Bucket="results-bucket", Key=f"{base}/points/1.json")["Body"].read()
    check_record(json.loads(body), config, 1)


def test_s3_missing_bucket_fails_the_points(aws, capsys: pytest.CaptureFixture) -> None:
    config = make_config()
    assert main(make_env(config, "s3://no-such-bucket/x", count=2)) == 1
    assert "NoSuchBucket" in capsys.readouterr().err


def test_s3_missing_spec_object_exits_2(aws, capsys: pytest.CaptureFixture) -> None:
    config = make_config()
    env = make_env(config, "s3://results-bucket", BACKTEST_SPEC_URI="s3://results-bucket/missing.json")
    del env["BACKTEST_SPEC"]
    assert main(env) == 2
    assert "BACKTEST_SPEC_URI" in capsys.readouterr().err
