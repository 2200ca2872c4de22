"""This engine and backtesting.py agree on its bundled GOOG data: same trades, same daily returns."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

backtesting = pytest.importorskip("backtesting")  # a dev dependency (requirements-dev.txt)
from backtesting import Strategy  # noqa: E402
from backtesting.lib import FractionalBacktest  # noqa: E402
from backtesting.test import GOOG  # noqa: E402

from backtest_engine.data import MarketData  # noqa: E402
from backtest_engine.execution import Execution, fills  # noqa: E402
from backtest_engine.metrics import evaluate  # noqa: E402
from backtest_engine.positions import simulate  # noqa: E402
from backtest_engine.strategies import build_strategy  # noqa: E402

COMMISSION = 0.001  # 10 bps a side, in both engines
CASH = 1_000_000.0
NEVER_STOP = 0.99  # a stop neither engine reaches on daily GOOG
TOLERANCE = 1e-6


def goog() -> MarketData:
    dates = GOOG.index.values.astype("datetime64[D]")
    columns = {
        name.lower(): GOOG[name].to_numpy(dtype=float)[:, None] for name in ("Open", "High", "Low", "Close")
    }
    return MarketData(symbols=("GOOG",), dates=dates, source="backtesting.test.GOOG", **columns)


class LongMomentum(Strategy):
    """Long while the trailing `period` return is above `threshold`; out when it turns non-positive."""

    period = 20
    threshold = 0.05

    def init(self) -> None:
        pass

    def next(self) -> None:
        close = self.data.Close
        if len(close) <= self.period:
            return
        trailing = np.log(close[-1]) - np.log(close[-1 - self.period])
        if self.position and trailing <= 0:
            self.position.close()
        elif not self.position and trailing > np.log1p(self.threshold):
            self.buy()


def theirs(period: int, threshold: float) -> tuple[pd.DataFrame, np.ndarray]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        test = FractionalBacktest(GOOG, LongMomentum, cash=CASH, commission=COMMISSION)
        stats = test.run(period=period, threshold=threshold)
    equity = stats["_equity_curve"]["Equity"].to_numpy()
    return stats["_trades"], np.concatenate([[0.0], equity[1:] / equity[:-1] - 1])


def ours(period: int, threshold: float):
    data = goog()
    params = {"momentum_period": period, "signal_threshold": threshold, "stop_loss_pct": NEVER_STOP}
    signals = build_strategy("MomentumStrategy", {**params, "cooldown_period": 0}).signals(data)
    # The same rule long only: backtesting.py's position here is a cash account without shorts.
    signals = type(signals)(**{**signals.__dict__, "entry": np.maximum(signals.entry, 0)})
    execution = Execution("next_open", "next_open", "intraday", COMMISSION, 0.0, 0.0)
    book = simulate(data.log_close_by_symbol, signals, prices=execution.fill_prices(data))
    trade_fills = fills(book, data, signals, execution)
    daily = evaluate(data, book, signals.position_weight, CASH, execution, trade_fills).returns
    return trade_fills, daily.net


@pytest.mark.parametrize(("period", "threshold"), [(20, 0.05), (10, 0.02), (60, 0.1)])
def test_same_trades_and_daily_returns_as_backtesting_py(period: int, threshold: float) -> None:
    trades, their_returns = theirs(period, threshold)
    trade_fills, our_returns = ours(period, threshold)
    closed = trade_fills.exit_bar < GOOG.shape[0]
    assert len(trades) >= 10
    assert trade_fills.entry_bar[closed].tolist() == trades["EntryBar"].tolist()
    assert trade_fills.exit_bar[closed].tolist() == trades["ExitBar"].tolist()
    np.testing.assert_allclose(np.exp(trade_fills.entry_price[closed]), trades["EntryPrice"], rtol=1e-12)
    np.testing.assert_allclose(np.exp(trade_fills.exit_price[closed]), trades["ExitPrice"], rtol=1e-12)
    np.testing.assert_allclose(our_returns, their_returns, rtol=0, atol=TOLERANCE)
