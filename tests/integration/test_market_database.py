"""The market-data database on a real PostgreSQL: schema, loader command, coverage and error messages."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pandas as pd
import psycopg
import pytest

from backtest_engine import DataSourceError, main
from backtest_engine.database import database_coverage, load_database
from backtest_engine.db_connection import database_dsn
from backtest_engine.db_loader import main as load_main
from backtest_engine.sources import sample_frames
from tests.support.engine_runs import make_config, make_env, read_point
from tests.support.market_db import with_password
from tests.support.moto_server import free_port

SECRET = "s3cr3t-pw"


def columns_of(url: str, table: str) -> list[tuple[str, str]]:
    with psycopg.connect(url) as connection:
        return connection.execute(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_name = %s ORDER BY ordinal_position",
            (table,),
        ).fetchall()


def count(url: str, table: str, symbol: str) -> int:
    with psycopg.connect(url) as connection:
        return connection.execute(f"SELECT count(*) FROM {table} WHERE symbol = %s", (symbol,)).fetchone()[0]


def write_csv(folder: Path, symbol: str, **columns: object) -> None:
    folder.mkdir(exist_ok=True)
    pd.DataFrame(columns).to_csv(folder / f"{symbol}.csv", index=False)


def test_create_schema_makes_both_keyed_tables_and_can_run_twice(market_db: str, capsys) -> None:
    assert load_main(["--db", market_db, "--create-schema"]) == 0
    assert load_main(["--db", market_db, "--create-schema"]) == 0
    assert columns_of(market_db, "bars") == [
        ("symbol", "text"),
        ("date", "date"),
        *[(name, "double precision") for name in ("open", "high", "low", "close", "volume")],
    ]
    assert [name for name, _ in columns_of(market_db, "factor_values")] == [
        "symbol",
        "date",
        "factor",
        "value",
    ]
    with psycopg.connect(market_db) as connection:
        connection.execute("INSERT INTO bars (symbol, date, close) VALUES ('X', '2024-01-02', 10)")
        with pytest.raises(psycopg.errors.UniqueViolation):
            connection.execute("INSERT INTO bars (symbol, date, close) VALUES ('X', '2024-01-02', 11)")
    with psycopg.connect(market_db) as connection, pytest.raises(psycopg.errors.CheckViolation):
        connection.execute("INSERT INTO bars (symbol, date, close) VALUES ('X', '2024-01-03', 'NaN')")
    assert "0 symbols" in capsys.readouterr().out


def test_the_loader_imports_folders_and_the_sample_idempotently(
    market_db: str, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    days = pd.bdate_range("2024-01-02", periods=30)
    close = np.linspace(10.0, 13.0, days.size)
    write_csv(
        tmp_path / "data", "ZZZ", date=days, close=close, volume=1e6, Beta=np.r_[np.nan, close[1:] / 10]
    )
    argv = ["--db", market_db, "--sample", str(tmp_path / "data")]

    assert load_main(argv) == 0
    first = capsys.readouterr().out.splitlines()
    assert "ZZZ: 30 bars (30 new, 0 changed), 29 factor values (29 new, 0 changed)" in first
    assert "AAPL: 3270 bars (3270 new, 0 changed), 0 factor values (0 new, 0 changed)" in first
    assert first[-1].startswith("6 symbols in postgresql://backtest@127.0.0.1:")
    assert load_main(argv) == 0
    second = capsys.readouterr().out.splitlines()
    assert "ZZZ: 30 bars (0 new, 0 changed), 29 factor values (0 new, 0 changed)" in second
    assert second[-1] == first[-1]

    write_csv(tmp_path / "data", "ZZZ", date=days[:10], close=close[:10] * 2)
    assert load_main(["--db", market_db, str(tmp_path / "data")]) == 0
    assert "ZZZ: 30 bars (0 new, 10 changed)" in capsys.readouterr().out
    assert load_main(["--db", market_db, "--replace", str(tmp_path / "data")]) == 0
    assert count(market_db, "bars", "ZZZ") == 10 and count(market_db, "factor_values", "ZZZ") == 0

    with psycopg.connect(market_db) as connection:
        rows = connection.execute(
            "SELECT date, open, high, low, close FROM bars WHERE symbol = 'GOOG' ORDER BY date"
        ).fetchall()
    stored = pd.DataFrame(rows, columns=["date", "open", "high", "low", "close"]).set_index("date")
    expected = sample_frames()["GOOG"]
    assert stored.index.tolist() == [day.date() for day in expected.index]
    assert (stored.to_numpy() == expected[["open", "high", "low", "close"]].to_numpy()).all()  # exact


def test_bad_files_are_named_with_their_fix_and_nothing_is_written(
    market_db: str, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    folder = tmp_path / "data"
    write_csv(folder, "GOOD", date=["2024-01-02", "2024-01-03"], close=[1.0, 2.0])
    write_csv(folder, "NOCLOSE", date=["2024-01-02"], price=[1.0])
    write_csv(folder, "NEGATIVE", date=["2024-01-02"], close=[-1.0])
    (folder / "BROKEN.parquet").write_bytes(b"not parquet")

    assert load_main(["--db", market_db, str(folder)]) == 2
    err = capsys.readouterr().err
    assert f"{folder / 'NOCLOSE.csv'} lacks column(s) close" in err
    assert f"{folder / 'NEGATIVE.csv'}: close prices must be positive" in err
    assert f"cannot read {folder / 'BROKEN.parquet'}" in err
    assert "nothing imported: fix the 3 problem(s) above" in err
    with psycopg.connect(market_db) as connection:
        assert connection.execute("SELECT to_regclass('bars')").fetchone() == (None,)

    write_csv(tmp_path / "more", "GOOD", date=["2024-01-02"], close=[3.0])
    assert load_main(["--db", market_db, str(tmp_path / "more"), str(tmp_path / "more")]) == 2
    assert f"GOOD is in both {tmp_path / 'more'} and {tmp_path / 'more'}" in capsys.readouterr().err
    assert load_main(["--db", market_db, str(tmp_path / "missing")]) == 2
    assert "is not a folder" in capsys.readouterr().err
    assert load_main([], environ={}) == 2
    assert "nothing to import" in capsys.readouterr().err
    assert load_main(["--sample"], environ={}) == 2
    assert "the loader needs --db or DB_HOST" in capsys.readouterr().err


def test_coverage_gives_each_symbols_first_and_last_quote(market_db: str) -> None:
    assert load_main(["--db", market_db, "--sample"]) == 0
    coverage = database_coverage(market_db, ["FB", "AAPL", "TSLA"])
    assert list(coverage) == ["FB", "AAPL", "TSLA"]
    assert coverage["FB"] == (dt.date(2012, 5, 18), dt.date(2013, 3, 1))
    assert coverage["AAPL"] == (dt.date(2000, 3, 1), dt.date(2013, 3, 1))
    assert coverage["TSLA"] is None
    assert database_coverage(market_db, []) == {}


def test_unreachable_or_unknown_hosts_are_named_without_the_password(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    port = free_port()  # nothing listens there
    refused = f"postgresql://trader:{SECRET}@127.0.0.1:{port}/marketdata"
    config = make_config(universe=["AAPL"])
    with pytest.raises(DataSourceError) as caught:
        load_database(refused, config)
    message = str(caught.value)
    assert f"postgresql://trader@127.0.0.1:{port}/marketdata" in message and "check DB_HOST" in message
    assert SECRET not in message

    with pytest.raises(DataSourceError) as caught:
        database_coverage(f"postgresql://trader:{SECRET}@no-such-host.invalid/marketdata", ["AAPL"])
    assert "no-such-host.invalid" in str(caught.value) and SECRET not in str(caught.value)

    env = make_env(config, str(tmp_path / "out"), BACKTEST_DATA_SOURCE="database", DB_HOST=refused)
    assert main(env) == 2
    err = capsys.readouterr().err
    assert f"127.0.0.1:{port}" in err and SECRET not in err
    assert main({**env, "DB_HOST": ""}) == 2
    assert "needs DB_HOST" in capsys.readouterr().err
    assert load_main(["--db", refused, "--sample"]) == 2
    err = capsys.readouterr().err
    assert f"127.0.0.1:{port}" in err and SECRET not in err


def test_missing_tables_symbols_or_factors_say_what_to_load(market_db: str) -> None:
    config = make_config(universe=["AAPL", "FB"], start_date="2011-01-01", end_date="2011-12-31")
    with pytest.raises(DataSourceError, match=r"has no bars and factor_values tables; .*--create-schema"):
        load_database(market_db, config)
    assert load_main(["--db", market_db, "--sample"]) == 0
    with pytest.raises(DataSourceError, match=r"no bars between 2011-01-01 and 2011-12-31 for FB \(2012"):
        load_database(market_db, config)
    with pytest.raises(DataSourceError, match=r"has no bars of TSLA; load them with python -m"):
        load_database(market_db, make_config(universe=["AAPL", "TSLA"], start_date="2011-01-01"))
    with pytest.raises(DataSourceError, match=r"has no Beta of AAPL in factor_values"):
        load_database(market_db, make_config(universe=["AAPL"], start_date="2011-01-01", factors=["Beta"]))


def test_a_bare_db_host_is_completed_from_the_db_variables_and_results_hide_passwords(
    market_db: str, tmp_path: Path
) -> None:
    assert load_main(["--db", market_db, "--sample"]) == 0
    host_port, name = market_db.split("@")[1].split("/")
    variables = {"DB_PORT": host_port.split(":")[1], "DB_NAME": name, "DB_USER": "backtest"}
    dsn = database_dsn("127.0.0.1", {**variables, "DB_PASSWORD": SECRET})
    assert database_coverage(dsn, ["IBM"])["IBM"] == (dt.date(2000, 3, 1), dt.date(2013, 3, 1))

    config = make_config("MomentumStrategy", universe=["AAPL", "IBM"], start_date="2010-01-01")
    env = make_env(config, str(tmp_path / "a"), count=1, BACKTEST_DATA_SOURCE="database")
    bare = {**env, **variables, "DB_HOST": "127.0.0.1", "DB_PASSWORD": SECRET}
    assert main(bare) == 0
    assert read_point(tmp_path / "a", config, 0)["db_host"] == "127.0.0.1"
    url = with_password(market_db, SECRET)
    assert main({**env, "BACKTEST_RESULTS_URI": str(tmp_path / "b"), "DB_HOST": url}) == 0
    record = read_point(tmp_path / "b", config, 0)
    assert record["db_host"] == market_db and record["data_source"] == "database"
    assert SECRET not in json.dumps(record)


def test_rows_the_database_refuses_exit_1_and_leave_it_unchanged(
    market_db: str, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    assert load_main(["--db", market_db, "--create-schema"]) == 0
    with psycopg.connect(market_db, autocommit=True) as connection:
        connection.execute("DROP ROLE IF EXISTS reader")
        connection.execute("CREATE ROLE reader LOGIN")
        connection.execute("GRANT SELECT ON bars, factor_values TO reader")
    write_csv(tmp_path / "data", "ZZZ", date=["2024-01-02", "2024-01-03"], close=[1.0, 2.0])
    reader = market_db.replace("backtest@", f"reader:{SECRET}@")

    assert load_main(["--db", reader, str(tmp_path / "data")]) == 1
    err = capsys.readouterr().err
    assert "permission denied" in err and "nothing was written" in err and SECRET not in err
    assert count(market_db, "bars", "ZZZ") == 0
    assert database_coverage(reader, ["ZZZ"]) == {"ZZZ": None}  # reading needs SELECT only


def test_the_command_module_refuses_to_be_imported() -> None:
    import backtest_engine

    with pytest.raises(ImportError, match=r"run python -m backtest_engine\.load_market_data"):
        import backtest_engine.load_market_data
    assert callable(backtest_engine.load_market_data)  # still the package's function


def test_close_only_bars_and_sparse_factors_read_like_the_folder(market_db: str, tmp_path: Path) -> None:
    from backtest_engine import load_market_data

    days = pd.bdate_range("2024-01-02", periods=40)
    beta = np.where(np.arange(days.size) % 3 == 0, np.arange(days.size) / 10, np.nan)  # gaps to fill
    write_csv(tmp_path / "data", "AAA", date=days, close=np.linspace(10.0, 12.0, days.size), Beta=beta)
    write_csv(tmp_path / "data", "BBB", date=days[5:], close=np.linspace(50.0, 40.0, days.size - 5), Beta=1.5)
    assert load_main(["--db", market_db, str(tmp_path / "data")]) == 0
    config = make_config(
        "LongShortEquityStrategy",
        universe=["AAA", "BBB"],
        factors=["Beta"],
        start_date="2024-01-01",
        end_date="2024-03-31",
    )

    database = load_database(market_db, config)
    folder = load_market_data(config, str(tmp_path / "data"))
    assert not database.has_ohlc and database.symbols == folder.symbols
    assert (database.dates == folder.dates).all() and (database.close == folder.close).all()
    assert (database.tradable == folder.tradable).all() and not database.tradable[:5, 1].any()
    assert np.array_equal(database.factors["Beta"], folder.factors["Beta"], equal_nan=True)
    assert np.isnan(database.factors["Beta"][:5, 1]).all() and database.factors["Beta"][2, 0] == 0.0
