"""The benchmark's backtesting.py side: its bundled GOOG bars and the Momentum rule as its Strategy."""

from __future__ import annotations

import time
import warnings

import numpy as np
from backtesting import Backtest, Strategy
from backtesting.test import GOOG

from airflow_backtest_framework.config import SweepConfig
from backtest_engine.data import MarketData

CASH = 1_000_000.0
BPS = 1e-4


def goog_market_data() -> MarketData:
    """backtesting.py's bundled GOOG daily bars as the engine's MarketData."""
    columns = {
        name.lower(): GOOG[name].to_numpy(dtype=float)[:, None] for name in ("Open", "High", "Low", "Close")
    }
    return MarketData(
        symbols=("GOOG",),
        dates=GOOG.index.values.astype("datetime64[D]"),
        source="backtesting.test.GOOG",
        **columns,
    )


class Momentum(Strategy):
    """The engine's MomentumStrategy: long above +threshold, short below -threshold, out on a change of
    sign, a stop-loss from the entry price, a cooldown after every exit (next-open fills by default)."""

    momentum_period = 20
    signal_threshold = 0.05
    stop_loss_pct = 0.05
    cooldown_period = 3

    def init(self) -> None:
        self.resume = 0

    def next(self) -> None:
        close = self.data.Close
        today = len(close) - 1
        if today < self.momentum_period:
            return
        trailing = np.log(close[-1]) - np.log(close[-1 - self.momentum_period])
        if self.position:
            if (self.position.is_long and trailing <= 0) or (self.position.is_short and trailing >= 0):
                self.position.close()
                self.resume = today + self.cooldown_period
            return
        if today < self.resume:
            return
        if trailing > np.log1p(self.signal_threshold):
            self.buy(sl=close[-1] * (1 - self.stop_loss_pct))
        elif trailing < np.log1p(-self.signal_threshold):
            self.sell(sl=close[-1] * (1 + self.stop_loss_pct))


def run_backtesting_py(config: SweepConfig, points: int, commission_bps: float) -> float:
    """Points per CPU second of backtesting.py over the first `points` points of the grid."""
    test = Backtest(GOOG, Momentum, cash=CASH, commission=commission_bps * BPS)
    cpu = time.process_time()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for index in range(points):
            test.run(**config.point(index))
    return points / max(time.process_time() - cpu, 1e-9)
