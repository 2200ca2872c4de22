"""The sweep's data source: the spec field, its refusals by name, and the engine reading the spec's choice."""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path

import pytest
from pydantic import ValidationError

from airflow_backtest_framework.config import SweepConfig, field_errors
from airflow_backtest_framework.data_source_spec import engine_source
from backtest_engine import load_market_data, main
from backtest_engine.data import DataSourceError
from tests.support.engine_runs import make_config, make_env, read_point
from tests.support.sweeps import spec_payload

SAMPLE_DATES = {"universe": ["AAPL", "MSFT"], "start_date": "2006-01-01", "end_date": "2008-12-31"}


def test_a_spec_without_a_data_source_keeps_its_json_and_hash() -> None:
    config = SweepConfig(**spec_payload())
    assert config.data_source is None and config.data_folder == ""
    text = config.to_json()
    assert "data_source" not in text and "data_folder" not in text  # as saved before the field existed
    assert SweepConfig.from_json(text).spec_hash == config.spec_hash
    chosen = SweepConfig(**spec_payload(data_source="Sample"))
    assert chosen.data_source == "sample" and json.loads(chosen.to_json())["data_source"] == "sample"
    assert chosen.spec_hash != config.spec_hash
    folder = SweepConfig(**spec_payload(data_source="folder", data_folder="/data/bars"))
    assert SweepConfig.from_json(folder.to_json()).data_folder == "/data/bars"


@pytest.mark.parametrize(
    ("overrides", "field", "fragment"),
    [
        ({"data_source": "yahoo"}, "data_source", "sample, database, folder, synthetic"),
        ({"data_source": "folder"}, "data_folder", "required with the data source 'folder'"),
        ({"data_source": "folder", "data_folder": "bars"}, "data_folder", "not an absolute path"),
        ({"data_source": "sample", "data_folder": "/data"}, "data_folder", "used only with"),
    ],
)
def test_bad_data_source_fields_are_refused_by_name(overrides: dict, field: str, fragment: str) -> None:
    with pytest.raises(ValidationError) as info:
        SweepConfig(**spec_payload(**overrides))
    errors = field_errors(info.value)
    assert list(errors) == [field]
    assert fragment in errors[field]


def test_engine_source_prefers_the_spec_then_the_deployment_default() -> None:
    assert engine_source("sample", "", "synthetic") == "sample"
    assert engine_source("folder", "/data/bars", "sample") == "/data/bars"
    assert engine_source(None, "", "/mnt/bars ") == "/mnt/bars"
    assert engine_source(None, "", None) == "synthetic"


def test_the_engine_reads_the_spec_choice_over_the_deployment_default(tmp_path: Path) -> None:
    config = make_config("MomentumStrategy", data_source="sample", **SAMPLE_DATES)
    assert main(make_env(config, str(tmp_path), count=1, BACKTEST_DATA_SOURCE="synthetic")) == 0
    record = read_point(tmp_path, config, 0)
    assert record["data_source"] == "sample" and record["synthetic"] is False
    legacy = make_config("MomentumStrategy", name="legacy_sweep", **SAMPLE_DATES)  # no data_source
    assert main(make_env(legacy, str(tmp_path), count=1, BACKTEST_DATA_SOURCE="sample")) == 0
    assert read_point(tmp_path, legacy, 0)["synthetic"] is False
    assert main(make_env(legacy, str(tmp_path / "other"), count=1)) == 0
    assert read_point(tmp_path / "other", legacy, 0)["synthetic"] is True  # unset: synthetic, as before


def test_a_folder_spec_reads_its_folder(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    config = make_config(data_source="folder", data_folder=str(tmp_path / "absent"))
    assert main(make_env(config, str(tmp_path / "out"), count=1)) == 2
    assert f"data folder {tmp_path / 'absent'} does not exist" in capsys.readouterr().err


def test_database_is_dispatched_to_load_database_with_db_host(monkeypatch: pytest.MonkeyPatch) -> None:
    config = make_config("MomentumStrategy", data_source="database", **SAMPLE_DATES)
    calls = []
    sample = load_market_data(config, "sample")

    def load_database(dsn: str, spec: SweepConfig):
        calls.append((dsn, spec.universe))
        return sample

    module = types.ModuleType("backtest_engine.database")
    module.load_database = load_database  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "backtest_engine.database", module)
    assert load_market_data(config, "database", database="postgresql://db/marketdata") is sample
    assert calls == [("postgresql://db/marketdata", ["AAPL", "MSFT"])]
    with pytest.raises(DataSourceError, match="needs DB_HOST"):
        load_market_data(config, "database", database="")


def test_database_without_db_host_exits_2_naming_it(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    config = make_config(data_source="database")
    env = make_env(config, str(tmp_path), count=1)
    env["DB_HOST"] = ""
    assert main(env) == 2
    assert "set the Airflow Variable db_host" in capsys.readouterr().err
