"""The deploy preflight of a sweep's market data: each source names every symbol missing for the period."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from airflow_backtest_framework.config import SweepConfig
from services.data_coverage import DataCoverage, data_coverage
from services.settings import load_settings
from services.sweep_actions import SweepActions
from tests.support.sweeps import spec_payload

LOCAL = DataCoverage(database=None, sees_folders=True)


def sweep(**overrides: object) -> SweepConfig:
    return SweepConfig(**spec_payload(**{"factors": [], **overrides}))


def test_sample_names_each_missing_symbol_and_the_range_it_has() -> None:
    check = LOCAL.check(
        sweep(data_source="sample", universe="AAPL,XOM,GOOG", start_date="2001-01-01", end_date="2005-12-31")
    )
    assert not check.ok
    assert "No data for 2001-01-01 to 2005-12-31: XOM (not in the sample)." in check.detail
    assert "GOOG 2004-08-19 to 2013-03-01" in check.detail  # partly covered, named too
    assert "AAPL" not in check.detail and "Configure" in check.fix
    late = LOCAL.check(sweep(data_source="sample", universe="AAPL", start_date="2015-01-01"))
    assert not late.ok and "AAPL (the sample has 2000-03-01 to 2013-03-01)" in late.detail


def test_sample_covering_everything_passes_and_refuses_factors() -> None:
    fine = sweep(
        data_source="sample", universe="AAPL,MSFT,IBM", start_date="2005-01-01", end_date="2012-12-31"
    )
    check = LOCAL.check(fine)
    assert check.ok and not check.warning and "Every symbol has data" in check.detail
    with_factor = LOCAL.check(sweep(data_source="sample", universe="AAPL,XOM", factors="Beta"))
    assert (
        not with_factor.ok and "no factor Beta" in with_factor.detail and "XOM (not in" in with_factor.detail
    )


def test_folder_names_missing_files_and_out_of_range_symbols(tmp_path: Path) -> None:
    days = pd.bdate_range("2020-01-01", "2020-12-31")
    pd.DataFrame({"Date": days, "close": 1.0}).to_csv(tmp_path / "AAPL.csv", index=False)
    pd.DataFrame({"date": days, "close": 1.0}).to_parquet(tmp_path / "MSFT.parquet", index=False)
    config = sweep(
        data_source="folder",
        data_folder=str(tmp_path),
        universe="AAPL,MSFT,GOOGL",
        start_date="2020-01-01",
        end_date="2020-12-31",
    )
    check = LOCAL.check(config)
    assert (
        not check.ok and check.detail == f"No data for 2020-01-01 to 2020-12-31: GOOGL (not in {tmp_path})."
    )
    later = LOCAL.check(
        config.model_copy(update={"start_date": date(2021, 1, 1), "end_date": date(2021, 6, 30)})
    )
    assert f"AAPL ({tmp_path} has 2020-01-01 to 2020-12-31)" in later.detail and "MSFT (" in later.detail
    longer = pd.bdate_range("2019-01-01", "2021-12-31")  # the file replaced: read again, not the cached range
    pd.DataFrame({"date": longer, "close": 1.0}).to_csv(tmp_path / "AAPL.csv", index=False)
    moved = config.model_copy(update={"start_date": date(2021, 1, 1), "end_date": date(2021, 6, 30)})
    assert "AAPL" not in LOCAL.check(moved).detail and "MSFT (" in LOCAL.check(moved).detail
    remote = DataCoverage(database=None, sees_folders=False).check(config)
    assert remote.ok and remote.warning and "cannot check it" in remote.detail


def test_database_coverage_when_configured_and_a_warning_when_not() -> None:
    config = sweep(
        data_source="database", universe="AAPL,MSFT", start_date="2020-01-01", end_date="2020-12-31"
    )
    seen = []

    def coverage(spec: SweepConfig) -> dict:
        seen.append(spec.universe)
        return {"AAPL": (date(2010, 1, 4), date(2024, 12, 31)), "MSFT": None}

    check = DataCoverage(database=coverage, sees_folders=True).check(config)
    assert seen == [["AAPL", "MSFT"]]
    assert not check.ok and "MSFT (not in the database)" in check.detail and "AAPL" not in check.detail
    unset = LOCAL.check(config)
    assert unset.ok and unset.warning and "no DB_HOST setting" in unset.detail


def test_a_database_failure_is_a_warning_without_its_password() -> None:
    def broken(_spec: SweepConfig) -> dict:
        raise ConnectionError('connection to "postgresql://quant:hunter22@db:5432/bars" failed\nTraceback')

    check = DataCoverage(database=broken, sees_folders=True).check(sweep(data_source="database"))
    assert check.ok and check.warning and "Could not check the database data" in check.detail
    assert "hunter22" not in check.detail and "Traceback" not in check.detail


@pytest.mark.parametrize(
    ("source", "fragment"), [("synthetic", "not evidence"), (None, "chooses no data source")]
)
def test_synthetic_and_unset_pass_flagged(source: str | None, fragment: str) -> None:
    check = LOCAL.check(sweep(data_source=source))
    assert check.ok and check.warning and fragment in check.detail


def test_preflight_ends_with_the_data_check_and_db_host_is_a_setting(tmp_path: Path) -> None:
    config = sweep(data_source="sample", universe="XOM", start_date="2005-01-01")

    class Registry:
        def get(self, name: str):
            return type("Record", (), {"config": config})()

    class Deployer:
        def preflight(self, spec: SweepConfig) -> list:
            return []

    settings = load_settings(db_host="postgresql://quant:s3cret@db/bars", mode="local")
    actions = SweepActions(Registry(), Deployer(), None, None, data=data_coverage(settings))  # type: ignore[arg-type]
    (check,) = actions.preflight(config.name)
    assert check.key == "data" and not check.ok and "XOM (not in the sample)" in check.detail
