"""The same sweep from the PostgreSQL database, a folder and the bundled sample: identical results.

The data is loaded with the real loader command, and the engine is run through its contract
(`main(environ)` in-process and `python -m backtest_engine` as Batch runs it).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from airflow_backtest_framework.config import SweepConfig
from airflow_backtest_framework.results_backends import open_backend
from airflow_backtest_framework.results_store import ResultsStore
from backtest_engine import main
from backtest_engine.sources import sample_frames
from services.settings import PROJECT_ROOT
from tests.support.engine_runs import RUN_ID, make_config, make_env, read_point
from tests.support.market_db import with_password

SAMPLE_UNIVERSE = ["AAPL", "FB", "GOOG", "IBM", "MSFT"]  # FB lists on 2012-05-18, inside the dates
SECRET = "pw-not-in-results"
LOADER = (sys.executable, "-m", "backtest_engine.load_market_data")
ENGINE = (sys.executable, "-m", "backtest_engine")


def sample_sweep(strategy: str) -> SweepConfig:
    return make_config(strategy, universe=SAMPLE_UNIVERSE, start_date="2011-06-01", end_date="2013-03-01")


def run_command(argv: tuple[str, ...] | list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        argv, env={**os.environ, **env}, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=180
    )


def run_sweep(config: SweepConfig, out: Path, **env: str) -> tuple[dict[int, dict], pd.DataFrame]:
    """Every point's metrics and the run's returns table, the sweep run in one chunk."""
    assert main(make_env(config, str(out), count=config.grid_size, **env)) == 0
    metrics = {i: read_point(out, config, i)["metrics"] for i in range(config.grid_size)}
    returns = ResultsStore(open_backend(str(out))).read_returns(config.dag_id, RUN_ID).to_pandas()
    return metrics, returns


def assert_identical(left: tuple[dict, pd.DataFrame], right: tuple[dict, pd.DataFrame]) -> None:
    assert left[0] == right[0]  # every metric of every point, exactly
    assert len(left[1]) > 0
    pd.testing.assert_frame_equal(left[1], right[1], check_exact=True)


@pytest.fixture
def sample_db(market_db: str) -> str:
    """The database holding the bundled sample, imported by the loader command as a user runs it."""
    done = run_command([*LOADER, "--sample"], {"DB_HOST": market_db})
    assert done.returncode == 0, done.stderr
    assert f"5 symbols in {market_db}: " in done.stdout
    return market_db


@pytest.mark.parametrize("strategy", ["MeanReversionStrategy", "MomentumStrategy", "LongShortEquityStrategy"])
def test_database_folder_and_sample_give_identical_results(
    sample_db: str, tmp_path: Path, strategy: str
) -> None:
    folder = tmp_path / "folder"
    folder.mkdir()
    for symbol, frame in sample_frames().items():
        frame.rename_axis("date").reset_index().to_parquet(folder / f"{symbol}.parquet", index=False)
    config = sample_sweep(strategy)

    sample = run_sweep(config, tmp_path / "sample", BACKTEST_DATA_SOURCE="sample")
    from_folder = run_sweep(config, tmp_path / "folder_out", BACKTEST_DATA_SOURCE=str(folder))
    database = run_sweep(config, tmp_path / "db", BACKTEST_DATA_SOURCE="database", DB_HOST=sample_db)

    assert sample[0][0]["trades"] > 0
    assert_identical(sample, from_folder)
    assert_identical(sample, database)


def test_factors_from_the_database_equal_the_folders(market_db: str, tmp_path: Path) -> None:
    from tests.unit.test_engine_folders import write_folder

    config = make_config(
        "LongShortEquityStrategy", factors=["DividendYield", "Beta"], factor_lags={"Beta": 2}
    )
    write_folder(tmp_path / "data", config, ".parquet")
    done = run_command([*LOADER, "--db", market_db, str(tmp_path / "data")], {})
    assert done.returncode == 0, done.stderr
    assert all(f"{symbol}: " in done.stdout for symbol in config.universe)

    from_folder = run_sweep(config, tmp_path / "folder_out", BACKTEST_DATA_SOURCE=str(tmp_path / "data"))
    database = run_sweep(config, tmp_path / "db", BACKTEST_DATA_SOURCE="database", DB_HOST=market_db)
    assert_identical(from_folder, database)


def test_the_engine_command_reads_the_database_at_db_host(sample_db: str, tmp_path: Path) -> None:
    config = sample_sweep("MomentumStrategy")
    env = make_env(config, str(tmp_path / "cli"), count=config.grid_size, BACKTEST_DATA_SOURCE="database")
    done = run_command(ENGINE, {**env, "DB_HOST": with_password(sample_db, SECRET)})
    assert done.returncode == 0, done.stderr
    assert SECRET not in done.stderr

    expected = run_sweep(config, tmp_path / "sample", BACKTEST_DATA_SOURCE="sample")
    for index in range(config.grid_size):
        record = read_point(tmp_path / "cli", config, index)
        assert record["metrics"] == expected[0][index]
        assert record["db_host"] == sample_db and record["data_source"] == "database"
        assert record["synthetic"] is False and SECRET not in json.dumps(record)
