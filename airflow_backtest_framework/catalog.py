"""The strategy and factor catalogs: each strategy's tunable parameters, their kinds, bounds and defaults."""

from __future__ import annotations

from dataclasses import dataclass

from airflow_backtest_framework.grid import ParamKind, format_number


@dataclass(frozen=True)
class ParamSpec:
    """One tunable parameter of a strategy."""

    name: str
    kind: ParamKind
    unit: str
    description: str
    lower: float
    upper: float
    default: str

    @property
    def help(self) -> str:
        return f"{self.description} ({self.unit}; {format_number(self.lower)} to {format_number(self.upper)})"


@dataclass(frozen=True)
class StrategySpec:
    """A strategy of the catalog: its parameters, in grid order."""

    name: str
    description: str
    params: tuple[ParamSpec, ...]

    def param(self, name: str) -> ParamSpec:
        for spec in self.params:
            if spec.name == name:
                return spec
        raise KeyError(name)

    @property
    def param_names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.params)

    def default_params(self) -> dict[str, str]:
        return {p.name: p.default for p in self.params}


def _stop_loss(default: str = "0.05,0.08,0.1") -> ParamSpec:
    return ParamSpec(
        "stop_loss_pct", "float", "fraction", "Exit a position after this loss", 0.001, 0.9, default
    )


def _cooldown(default: str) -> ParamSpec:
    return ParamSpec(
        "cooldown_period", "int", "days", "Days to wait before re-entering a symbol", 0, 365, default
    )


STRATEGIES: dict[str, StrategySpec] = {
    s.name: s
    for s in (
        StrategySpec(
            "LongShortEquityStrategy",
            "Long the top-ranked symbols, short the bottom-ranked, rebalanced periodically.",
            (
                ParamSpec(
                    "rebalance_period", "int", "days", "Days between rebalancing", 1, 365, "7,14,21,28,35"
                ),
                ParamSpec(
                    "take_profit_pct",
                    "float",
                    "fraction",
                    "Exit a position after this gain",
                    0.001,
                    5.0,
                    "0.1,0.15,0.2",
                ),
                _stop_loss(),
                _cooldown("7,14,21"),
            ),
        ),
        StrategySpec(
            "MeanReversionStrategy",
            "Enter against large deviations from a rolling mean (z-score), exit on reversion.",
            (
                ParamSpec("lookback_period", "int", "days", "Window of the rolling mean", 2, 504, "20,30,40"),
                ParamSpec(
                    "entry_threshold",
                    "float",
                    "std devs",
                    "Z-score that opens a position",
                    0.1,
                    10.0,
                    "2.0,2.5,3.0",
                ),
                _stop_loss(),
                _cooldown("5,10,15"),
            ),
        ),
        StrategySpec(
            "MomentumStrategy",
            "Follow trailing returns above a signal threshold.",
            (
                ParamSpec(
                    "momentum_period", "int", "days", "Window of the trailing return", 2, 504, "10,20,30"
                ),
                ParamSpec(
                    "signal_threshold",
                    "float",
                    "return",
                    "Trailing return that opens a position",
                    0.0,
                    2.0,
                    "0.05,0.1,0.15",
                ),
                _stop_loss(),
                _cooldown("3,7,14"),
            ),
        ),
    )
}

FACTORS: dict[str, str] = {
    "NewsSentiment": "Net sentiment of news flow",
    "DebtToEquity": "Leverage: total debt over shareholders' equity",
    "PriceToEarnings": "Valuation: price over trailing earnings",
    "PriceToBook": "Valuation: price over book value",
    "ReturnOnEquity": "Quality: net income over equity",
    "EarningsYield": "Valuation: earnings over price",
    "DividendYield": "Dividends over price",
    "Volatility60D": "Risk: 60-day realised volatility",
    "Beta": "Risk: sensitivity to the market",
    "MarketCap": "Size: market capitalisation",
}
