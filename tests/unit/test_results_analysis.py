"""Results analysis: metric grids (pivot values), the best points, exports; equity files; the table cache."""

from __future__ import annotations

import io
import json
import math
from pathlib import Path

import pandas as pd
import pytest

from services.results import ResultsService
from services.results_analysis import aggregate_label, metric_grid, to_csv_bytes, to_parquet_bytes, top_n
from services.results_cache import ResultsTables
from services.storage import LocalFolderStore
from tests.support.sweeps import grid_params, small_sweep


@pytest.fixture
def table() -> pd.DataFrame:
    rows = []
    for a in (1, 2):
        for b in (10, 20):
            for c in (0.1, 0.2):
                rows.append({"index": len(rows), "a": a, "b": b, "c": c, "sharpe": a * 10 + b / 10 + c})
    return pd.DataFrame(rows)


def test_metric_grid_best_and_mean_over_the_free_parameter(table: pd.DataFrame) -> None:
    grid = metric_grid(table, "a", "b", "sharpe", "best")
    assert list(grid.columns) == [1, 2] and list(grid.index) == [10, 20]
    assert grid.loc[10, 1] == pytest.approx(11.2)  # a=1, b=10, c max 0.2
    assert grid.loc[20, 2] == pytest.approx(22.2)
    mean = metric_grid(table, "a", "b", "sharpe", "mean")
    assert mean.loc[10, 1] == pytest.approx(11.15)


@pytest.mark.parametrize("metric", ["annual_volatility", "turnover", "max_drawdown_days"])
def test_metric_grid_best_is_the_min_where_lower_is_better(table: pd.DataFrame, metric: str) -> None:
    lower = table.assign(**{metric: table["sharpe"]})
    best = metric_grid(lower, "a", "b", metric, "best")
    assert best.loc[10, 1] == pytest.approx(11.1)  # a=1, b=10: c=0.1 gives the smaller value
    assert best.loc[20, 2] == pytest.approx(22.1)
    assert aggregate_label("best", metric) == "best (min)"
    row = metric_grid(lower, "a", "a", metric, "best")  # one axis: the same rule
    assert row.iloc[0].tolist() == pytest.approx([11.1, 21.1])


def test_metric_grid_best_is_the_max_of_a_drawdown(table: pd.DataFrame) -> None:
    # max_drawdown is a negative fraction (-0.1 beats -0.3): its best is the largest value.
    drawdowns = table.assign(max_drawdown=-table["c"])
    assert metric_grid(drawdowns, "a", "b", "max_drawdown", "best").loc[10, 1] == pytest.approx(-0.1)
    assert aggregate_label("best", "max_drawdown") == "best (max)"
    assert aggregate_label("mean", "turnover") == "mean"


def test_metric_grid_with_a_fixed_parameter(table: pd.DataFrame) -> None:
    grid = metric_grid(table, "a", "b", "sharpe", "best", fixed={"c": 0.1})
    assert grid.loc[10, 1] == pytest.approx(11.1)
    assert grid.loc[20, 2] == pytest.approx(22.1)


def test_metric_grid_leaves_missing_cells_empty(table: pd.DataFrame) -> None:
    partial = table[~((table["a"] == 2) & (table["b"] == 20))]
    grid = metric_grid(partial, "a", "b", "sharpe")
    assert math.isnan(grid.loc[20, 2]) and grid.loc[10, 2] == pytest.approx(21.2)
    assert metric_grid(table.head(0), "a", "b", "sharpe").empty
    with pytest.raises(ValueError):
        metric_grid(table, "a", "b", "sharpe", "median")


def test_top_n_best_first(table: pd.DataFrame) -> None:
    best = top_n(table, "sharpe", 3)
    assert list(best["sharpe"]) == pytest.approx([22.2, 22.1, 21.2])
    assert list(best.columns) == list(table.columns)


def test_exports_round_trip(table: pd.DataFrame) -> None:
    assert pd.read_csv(io.BytesIO(to_csv_bytes(table))).equals(table)
    assert pd.read_parquet(io.BytesIO(to_parquet_bytes(table))).equals(table)


def test_equity_curve_read_when_the_engine_wrote_one(tmp_path: Path) -> None:
    store = LocalFolderStore(tmp_path)
    store.put("d/r/equity/3.json", json.dumps({"dates": ["2024-01-02"], "equity": [1.0]}).encode())
    results = ResultsService(store)
    curve = results.equity("d", "r", 3)
    assert curve is not None and curve.equity == [1.0] and curve.index == 3
    assert results.equity("d", "r", 4) is None


def test_table_cache_rereads_only_when_new_points_appear(tmp_path: Path) -> None:
    config = small_sweep()
    store = LocalFolderStore(tmp_path)

    def write(index: int) -> None:
        record = {"index": index, "params": config.point(index), "metrics": {"sharpe": float(index)}}
        store.put(f"{config.dag_id}/r/points/{index}.json", json.dumps(record).encode())

    class CountingTableReads(ResultsService):
        reads = 0

        def table(self, config, run_id, done=None):
            CountingTableReads.reads += 1
            return super().table(config, run_id, done=done)

    tables = ResultsTables(CountingTableReads(store))
    write(0)
    assert len(tables.table(config, "r")) == 1
    assert len(tables.table(config, "r")) == 1 and CountingTableReads.reads == 1
    write(1)
    assert len(tables.table(config, "r")) == 2 and CountingTableReads.reads == 2


def write_points(store: LocalFolderStore, config, run_id: str, indices, sharpe=float) -> None:
    for index in indices:
        metrics = {"sharpe": sharpe(index), "cagr": index / 100, "trades": 3}
        record = {"index": index, "params": config.point(index), "metrics": metrics}
        store.put(f"{config.dag_id}/{run_id}/points/{index}.json", json.dumps(record).encode())


def test_table_from_the_summarize_tasks_csv_equals_the_table_of_the_files(tmp_path: Path) -> None:
    from airflow_backtest_framework.dag_factory import _summarize

    config = small_sweep()
    store = LocalFolderStore(tmp_path)
    write_points(store, config, "r", range(config.grid_size), sharpe=lambda i: i / 7)
    of_files = ResultsService(store).table(config, "r")
    _summarize(config, str(tmp_path), "r")  # the DAG's last task writes results.csv
    assert (tmp_path / config.dag_id / "r" / "results.csv").is_file()
    pd.testing.assert_frame_equal(ResultsService(store).table(config, "r"), of_files)


def test_table_takes_the_csvs_points_and_reads_the_others_from_their_files(tmp_path: Path) -> None:
    config = small_sweep()
    store = LocalFolderStore(tmp_path)
    write_points(store, config, "r", (0, 1, 2))
    params = list(config.strategy_spec.param_names)
    lines = [",".join(["index", *params, "sharpe"])]
    lines += [",".join(map(str, [i, *config.point(i).values(), 100 + i])) for i in (0, 1, 5)]
    store.put(f"{config.dag_id}/r/results.csv", "\n".join(lines).encode())
    table = ResultsService(store).table(config, "r")
    # 0 and 1 from the csv, 2 (written after it) from its file, 5 (no result file) left out
    assert table["index"].tolist() == [0, 1, 2] and table["sharpe"].tolist() == [100.0, 101.0, 2.0]
    assert math.isnan(table["cagr"][0]) and table["cagr"][2] == 0.02


def test_an_unusable_csv_falls_back_to_the_files(tmp_path: Path) -> None:
    config = small_sweep()
    store = LocalFolderStore(tmp_path)
    write_points(store, config, "r", (0, 1))
    store.put(f"{config.dag_id}/r/results.csv", b"not,a\nresults,table\n")
    assert ResultsService(store).table(config, "r")["sharpe"].tolist() == [0.0, 1.0]


def test_table_cache_knows_the_table_a_page_shows_without_listing(tmp_path: Path) -> None:
    from airflow_backtest_framework.dag_factory import _summarize

    config = small_sweep()
    store = LocalFolderStore(tmp_path)
    write_points(store, config, "r", range(config.grid_size))

    class CountingListings(ResultsService):
        listings = 0

        def done_indices(self, dag_id, run_id):
            CountingListings.listings += 1
            return super().done_indices(dag_id, run_id)

    shown = ResultsTables(CountingListings(store)).table(config, "r")
    assert CountingListings.listings == 1  # one listing, handed on to the read
    CountingListings.listings = 0
    tables = ResultsTables(CountingListings(store))
    first = tables.table(config, "r")
    assert tables.table(config, "r", rows=len(first)) is first and CountingListings.listings == 1
    # another process, once the run was summarized: the csv has the rows the page shows
    _summarize(config, str(tmp_path), "r")
    other = ResultsTables(CountingListings(store))
    pd.testing.assert_frame_equal(other.table(config, "r", rows=len(shown)), shown)
    assert CountingListings.listings == 1
    assert len(other.table(config, "r", rows=len(shown) + 1)) == len(shown) and CountingListings.listings == 2


def test_records_read_in_batches_keep_every_file_in_index_order(tmp_path: Path) -> None:
    config = small_sweep(params=grid_params("MeanReversionStrategy", "10:49:40", "1.0,2.0", "0.02", "3"))
    store = LocalFolderStore(tmp_path)
    indices = range(config.grid_size)  # 80: more files than batches, not a multiple of them
    write_points(store, config, "r", indices)
    records = ResultsService(store).records(config.dag_id, "r")
    assert [r["index"] for r in records] == list(indices)


def test_longer_drawdowns_rank_last() -> None:
    table = pd.DataFrame({"index": [0, 1, 2], "max_drawdown_days": [300.0, 12.0, 45.0]})
    assert list(top_n(table, "max_drawdown_days", 3)["index"]) == [1, 2, 0]


def test_the_equity_curve_is_compounded_from_the_returns_files(tmp_path: Path) -> None:
    from backtest_engine import main
    from tests.support.engine_runs import RUN_ID, make_config, make_env

    config = make_config("MomentumStrategy", points_per_task=2)  # 4 points: chunks at 0 and 2
    for start in (0, 2):
        assert main(make_env(config, str(tmp_path), start=start, count=2)) == 0
    results = ResultsService(LocalFolderStore(tmp_path))
    curve = results.equity(config.dag_id, RUN_ID, 3)
    assert curve is not None and curve.source == "returns" and curve.index == 3
    sampled = json.loads((tmp_path / config.dag_id / RUN_ID / "equity" / "3.json").read_text())
    assert len(curve.dates) > len(sampled["dates"])  # every bar, not the 260 samples
    assert curve.dates[-1] == sampled["dates"][-1]
    # The engine's own (capital-unit, rounded) curve ends where the compounded returns do.
    assert curve.equity[-1] * config.initial_capital == pytest.approx(sampled["equity"][-1], abs=0.01)
    day = curve.dates.index(sampled["dates"][100])
    assert curve.equity[day] * config.initial_capital == pytest.approx(sampled["equity"][100], abs=0.01)
    assert results.equity(config.dag_id, RUN_ID, 9) is None  # past the chunk's points, no JSON either


def test_the_equity_curve_is_found_in_its_chunk_under_the_space_filling_order(tmp_path: Path) -> None:
    """Chunks hold positions of the run order, not grid ranges: each point's curve still comes from the
    returns file that holds it (found through the chunk progress records), and equals its own."""
    from backtest_engine import main
    from tests.support.engine_runs import RUN_ID, make_config, make_env

    params = {
        "momentum_period": "10,20,30,40",
        "signal_threshold": "0.01,0.02",
        "stop_loss_pct": "0.05",
        "cooldown_period": "3",
    }
    config = make_config("MomentumStrategy", params=params, points_per_task=2, space_filling=True)
    order = [int(i) for i in config.run_order()]
    assert order != sorted(order)  # the test means something only if chunks are not grid ranges
    for start in range(0, 8, 2):
        assert main(make_env(config, str(tmp_path), start=start, count=2)) == 0
    results = ResultsService(LocalFolderStore(tmp_path))
    for index in range(8):
        curve = results.equity(config.dag_id, RUN_ID, index)
        sampled = json.loads((tmp_path / config.dag_id / RUN_ID / "equity" / f"{index}.json").read_text())
        assert curve is not None and curve.source == "returns" and curve.index == index
        assert curve.equity[-1] * config.initial_capital == pytest.approx(sampled["equity"][-1], abs=0.01)
