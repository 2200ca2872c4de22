"""Result labels: the rule (services.result_labels) and every page that shows a sweep's results."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from components.result_labels import make_result_labels
from components.wall_view import make_tile
from services.result_labels import result_labels
from services.wall import WallTile
from tests.fakes import use_fake_services_with_a_run
from tests.support.sweeps import small_sweep

SYNTHETIC = "synthetic data — not evidence"
OPTIMISTIC = "optimistic fill (same close)"
CLOSE_STOPS = "stops fill at the close (no intraday highs/lows)"


def texts(config, record=None) -> list[str]:
    return [label.text for label in result_labels(config, record)]


def test_from_the_spec_when_no_result_was_read() -> None:
    assert texts(small_sweep(data_source="sample")) == []
    assert texts(small_sweep(data_source="synthetic")) == [SYNTHETIC]
    assert texts(small_sweep()) == [SYNTHETIC]  # no source chosen: the deployment default, synthetic
    assert texts(small_sweep(data_source="sample", fill="same_close")) == [OPTIMISTIC, CLOSE_STOPS]


def test_from_the_result_the_engine_wrote() -> None:
    spec = small_sweep(fill="same_close")  # the record, not the spec, says what ran
    real = {"data_source": "sample", "synthetic": False, "fill": "next_open", "optimistic": False}
    assert texts(spec, real | {"stops": "intraday"}) == []
    closes_only = real | {"fill": "next_close", "requested_fill": "next_open", "stops": "close"}
    assert texts(spec, closes_only) == [CLOSE_STOPS]  # a folder without OHLC
    # A result from before fills were recorded ran as the engine did then: same close, stops on closes.
    assert texts(spec, {"data_source": "synthetic"}) == [SYNTHETIC, OPTIMISTIC, CLOSE_STOPS]
    assert texts(spec, {"data_source": "/data/bars", "optimistic": False, "stops": "intraday"}) == []


def test_the_component_shows_each_label_with_its_reason() -> None:
    assert make_result_labels([]) is None
    shown = str(make_result_labels(result_labels(small_sweep(fill="same_close"))).to_plotly_json())
    assert SYNTHETIC in shown and OPTIMISTIC in shown and "chance" in shown


@pytest.fixture
def services(tmp_path):
    return use_fake_services_with_a_run(tmp_path)


def test_results_monitor_and_sweeps_show_the_labels_of_a_synthetic_same_close_run(services) -> None:
    from pages.monitor import poll, show_labels
    from pages.results import load
    from pages.sweeps import sweep_detail

    config = small_sweep(name="mr_spy", data_source="synthetic", fill="same_close")
    services.registry.save(config)
    run_id = services.registry.get("mr_spy").run_ids[0]
    services.monitor.fraction = 0.5
    _data, _count, _metrics, labels = load(run_id, 0, "mr_spy", None)
    status = poll(0, "latest", "light", "mr_spy")["status"]
    monitor, labels_of = show_labels(status, None, "mr_spy")
    detail = sweep_detail("mr_spy")
    for page in (labels, monitor, detail):
        shown = str(page.to_plotly_json())
        assert SYNTHETIC in shown and OPTIMISTIC in shown and CLOSE_STOPS in shown
    assert labels_of == run_id  # read once per run, not on every poll
    (tile,) = [t for t in services.wall.tiles() if t.name == "mr_spy"]
    assert tile.labels == ["synthetic", "optimistic", "close_stops"]


def test_real_data_shows_no_label_and_the_wall_tile_shows_the_spec_labels(services) -> None:
    from pages.results import load

    services.registry.save(small_sweep(name="mr_spy", data_source="sample", universe=["AAPL"]))
    services.monitor.fraction = 0.5
    run_id = services.registry.get("mr_spy").run_ids[0]
    assert load(run_id, 0, "mr_spy", None)[3] is None
    tile = WallTile(
        name="w",
        dag_id="backtest_w",
        owner="o",
        strategy="s",
        labels=["synthetic"],
        fetched_at=datetime.now(UTC),
    )
    assert SYNTHETIC in str(make_tile(tile).to_plotly_json())
    assert SYNTHETIC not in str(make_tile(tile.model_copy(update={"labels": []})).to_plotly_json())
