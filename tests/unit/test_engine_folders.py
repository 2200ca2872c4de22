"""The engine on a folder of CSV/Parquet files: the results of the data it holds, aligned dates, errors."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from airflow_backtest_framework.config import SweepConfig
from backtest_engine import load_market_data, main, run_point
from tests.support.engine_runs import make_config, make_env, read_point


def write_folder(folder: Path, config: SweepConfig, suffix: str) -> None:
    """Prices and factors of the synthetic source, written one file per symbol."""
    synthetic = load_market_data(config)
    folder.mkdir()
    for column, symbol in enumerate(synthetic.symbols):
        frame = pd.DataFrame({"date": pd.to_datetime(synthetic.dates), "close": synthetic.close[:, column]})
        for name in ("open", "high", "low"):  # the synthetic source has bars, so the folder does too
            frame[name] = getattr(synthetic, name)[:, column]
        for name, values in synthetic.factors.items():
            frame[name] = values[:, column]
        if suffix == ".csv":
            frame.to_csv(folder / f"{symbol}.csv", index=False)
        else:
            frame.to_parquet(folder / f"{symbol}.parquet", index=False)


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_data_folder_source_gives_the_same_results_as_its_data(tmp_path: Path, suffix: str) -> None:
    config = make_config("LongShortEquityStrategy", factors=["DividendYield"])
    write_folder(tmp_path / "data", config, suffix)
    env = make_env(config, str(tmp_path / "out"), count=2, BACKTEST_DATA_SOURCE=str(tmp_path / "data"))
    assert main(env) == 0
    record = read_point(tmp_path / "out", config, 1)
    assert record["data_source"] == str(tmp_path / "data")
    expected = run_point(config, 1, load_market_data(config))
    for name, value in expected.metrics.items():
        assert record["metrics"][name] == pytest.approx(value, rel=1e-9, abs=1e-12), name


def test_data_folder_aligns_dates_and_marks_late_listings(tmp_path: Path) -> None:
    config = make_config(universe=["AAA", "BBB"], start_date="2023-01-01", end_date="2023-03-31")
    folder = tmp_path / "data"
    folder.mkdir()
    days = pd.bdate_range("2023-01-02", "2023-03-31")
    pd.DataFrame({"date": days, "close": np.linspace(10, 12, days.size)}).to_csv(
        folder / "AAA.csv", index=False
    )
    late = days[20:]
    pd.DataFrame({"Date": late, "Close": np.linspace(50, 40, late.size)}).to_csv(
        folder / "BBB.csv", index=False
    )

    data = load_market_data(config, str(folder))
    assert data.symbols == ("AAA", "BBB") and data.n_days == days.size
    assert np.isfinite(data.close).all()
    assert not data.tradable[:20, 1].any() and data.tradable[20:, 1].all() and data.tradable[:, 0].all()
    result = run_point(config, 0, data)
    assert all(math.isfinite(v) for v in result.metrics.values())


def test_data_folder_missing_symbol_or_column_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    config = make_config(factors=["Beta"])
    folder = tmp_path / "data"
    write_folder(folder, config, ".csv")
    (folder / "XOM.csv").unlink()
    assert main(make_env(config, str(tmp_path / "out"), BACKTEST_DATA_SOURCE=str(folder))) == 2
    assert "XOM" in capsys.readouterr().err
    pd.DataFrame({"date": ["2022-01-03"], "close": [1.0]}).to_csv(folder / "XOM.csv", index=False)
    assert main(make_env(config, str(tmp_path / "out"), BACKTEST_DATA_SOURCE=str(folder))) == 2
    assert "Beta" in capsys.readouterr().err
