"""The one rule for what a page must say next to a sweep's results: synthetic data, optimistic fills,
stops filled at closes. Read from what the engine recorded (a point's result) when there is one, from
the spec otherwise."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from airflow_backtest_framework.config import SweepConfig
from airflow_backtest_framework.data_source_spec import DATA_SYNTHETIC
from airflow_backtest_framework.execution_spec import FILL_SAME_CLOSE

STOPS_AT_CLOSE = "close"  # the engine's `stops` when they are checked and filled at closes
RISK_PARAMS = ("stop_loss_pct", "take_profit_pct")  # parameters that place stop or take-profit orders


@dataclass(frozen=True)
class ResultLabel:
    key: str
    text: str  # what the page shows
    detail: str  # why (the label's tooltip)


SYNTHETIC = ResultLabel(
    "synthetic",
    "synthetic data — not evidence",
    "Simulated prices (random walks, factors without information): any Sharpe on them is chance. "
    "Use the sample, a data folder or the database to judge a strategy.",
)
OPTIMISTIC = ResultLabel(
    "optimistic",
    "optimistic fill (same close)",
    "Orders fill at the close their signal was computed from: a trade no one could have made.",
)
CLOSE_STOPS = ResultLabel(
    "close_stops",
    "stops fill at the close (no intraday highs/lows)",
    "Stops and take-profits were checked on closes only: losses can run past the stop level.",
)


def result_labels(config: SweepConfig, record: Mapping[str, Any] | None = None) -> list[ResultLabel]:
    """The labels for results of `config`; `record` is one point's result file of the run shown
    (what was actually run), None when the page has none (the spec's settings decide then).

    A record from before a field was recorded ran as the engine then did: same-close fills, stops on
    closes. A spec without a data source ran on the deployment's default, synthetic unless it was set.
    """
    uses_stops = any(name in RISK_PARAMS for name in config.strategy_spec.param_names)
    if record is None:
        synthetic = config.data_source in (None, DATA_SYNTHETIC)
        optimistic = config.fill == FILL_SAME_CLOSE
        close_stops = uses_stops and optimistic
    else:
        if "synthetic" in record:
            synthetic = bool(record["synthetic"])
        else:
            synthetic = str(record.get("data_source") or DATA_SYNTHETIC) == DATA_SYNTHETIC
        optimistic = bool(record.get("optimistic", record.get("fill", FILL_SAME_CLOSE) == FILL_SAME_CLOSE))
        close_stops = uses_stops and record.get("stops", STOPS_AT_CLOSE) == STOPS_AT_CLOSE
    flags = ((synthetic, SYNTHETIC), (optimistic, OPTIMISTIC), (close_stops, CLOSE_STOPS))
    return [label for shown, label in flags if shown]


LABELS_BY_KEY = {label.key: label for label in (SYNTHETIC, OPTIMISTIC, CLOSE_STOPS)}
