"""Big chunks in bounded memory: the engine's returns file is built a row group at a time, and the
validation reads the run's returns matrix a row group at a time, whatever order the files hold."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from airflow_backtest_framework import engine_contract as ec
from airflow_backtest_framework.parquet_files import ParquetRowGroups, decode_parquet, encode_parquet
from airflow_backtest_framework.results_store import open_results_store
from airflow_backtest_framework.returns_matrix import point_groups, read_returns_matrix
from backtest_engine import main
from tests.support.engine_runs import RUN_ID, make_config, make_env

BARS = 10
DATES = np.arange("2024-01-01", "2024-01-11", dtype="datetime64[D]")


def point_rows(index: int, net: np.ndarray) -> dict[str, np.ndarray]:
    return {"point": np.full(BARS, index, dtype=np.int64), "date": DATES, "net_return": net}


def test_the_spool_writes_row_groups_of_whole_points_and_reads_back_the_same_table() -> None:
    rng = np.random.default_rng(1)
    points = [7, 3, 11, 0, 5]  # run order, not grid order
    nets = {index: rng.normal(0, 0.01, BARS) for index in points}
    spool = ParquetRowGroups(rows_per_group=2 * BARS)
    for index in points:
        spool.append(point_rows(index, nets[index]))
    data = spool.finish()
    parquet = pq.ParquetFile(pa.BufferReader(data))
    assert parquet.num_row_groups == 3  # 2 + 2 + 1 points: a point's rows are never split
    whole = {
        name: np.concatenate([point_rows(i, nets[i])[name] for i in points])
        for name in ("point", "date", "net_return")
    }
    assert decode_parquet([data]).equals(decode_parquet([encode_parquet(whole)]))
    assert ParquetRowGroups().finish() == b""  # nothing appended: no file


def test_a_spool_that_cannot_be_written_fails_the_whole_file() -> None:
    spool = ParquetRowGroups(rows_per_group=BARS)
    spool.append(point_rows(1, np.zeros(BARS)))
    spool.append({**point_rows(2, np.zeros(BARS)), "net_return": np.array(["x"] * BARS)})  # schema breaks
    spool.append(point_rows(3, np.zeros(BARS)))  # ignored after the failure
    with pytest.raises(OSError, match="could not be built"):
        spool.finish()


def test_the_matrix_is_read_from_row_groups_in_any_point_order_and_from_files_laid_out_otherwise(
    tmp_path: Path,
) -> None:
    rng = np.random.default_rng(2)
    nets = {index: rng.normal(0, 0.01, BARS) for index in range(12)}
    store = open_results_store(str(tmp_path))
    spool = ParquetRowGroups(rows_per_group=3 * BARS)
    for index in (9, 1, 6, 4, 11, 0, 2):  # the engine's layout: row groups of whole points, run order
        spool.append(point_rows(index, nets[index]))
    store.put_returns_file("d", "r", 0, spool.finish())
    shuffled = {
        name: np.concatenate([point_rows(i, nets[i])[name] for i in (3, 5, 7, 8, 10)])
        for name in ("point", "date", "net_return")
    }
    order = rng.permutation(shuffled["point"].size)  # a file from elsewhere: rows in any order
    store.write_returns("d", "r", 7, {name: column[order] for name, column in shuffled.items()})
    points, dates, matrix = read_returns_matrix(store, "d", "r")
    assert points.tolist() == list(range(12)) and dates.tolist() == DATES.tolist()
    for row, index in enumerate(points):
        np.testing.assert_array_equal(matrix[row], nets[int(index)])


def test_point_groups_tells_a_clean_layout_from_one_to_sort_and_refuses_mixed_dates() -> None:
    point = np.repeat([4, 2], BARS)
    grouped = point_groups(point, np.tile(DATES, 2))
    assert grouped is not None and grouped[0].tolist() == [4, 2]
    assert point_groups(np.array([4, 2, 4, 2]), np.repeat(DATES[:2], 2)) is None  # a point's rows apart
    assert point_groups(point, np.tile(DATES[::-1], 2)) is None  # dates descending: sorted instead
    with pytest.raises(ValueError, match="same dates"):
        point_groups(point, np.r_[DATES, DATES + 1])


def test_a_big_chunk_writes_several_row_groups_that_read_back_whole(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr("airflow_backtest_framework.parquet_files.ROWS_PER_GROUP", 1_000)
    grid = {"lookback_period": "10:40:4", "entry_threshold": "1.0,1.5,2.0", "stop_loss_pct": "0.05,0.1"}
    config = make_config(params={**grid, "cooldown_period": "2"}, space_filling=True)  # run order != grid's
    assert main(make_env(config, str(tmp_path), count=config.grid_size)) == 0
    key = ec.returns_key(config.dag_id, RUN_ID, 0)
    assert pq.ParquetFile(tmp_path / key).num_row_groups > 1
    store = open_results_store(str(tmp_path))
    points, _dates, matrix = read_returns_matrix(store, config.dag_id, RUN_ID)
    assert points.tolist() == list(range(config.grid_size))
    table = store.read_returns(config.dag_id, RUN_ID).to_pandas()
    for row, index in enumerate(points):
        expected = table[table["point"] == index]["net_return"].to_numpy()
        np.testing.assert_array_equal(matrix[row], expected)
