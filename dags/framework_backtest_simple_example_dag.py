"""Reference DAG written by hand: a small LongShortEquity sweep built with the framework's factory."""

from datetime import date

from airflow_backtest_framework.config import SweepConfig
from airflow_backtest_framework.dag_factory import create_sweep_dag

EXAMPLE_SWEEP = SweepConfig(
    name="framework_simple_example",
    strategy="LongShortEquityStrategy",
    params={
        "rebalance_period": "7,14",
        "take_profit_pct": "0.1,0.2",
        "stop_loss_pct": "0.05",
        "cooldown_period": "7",
    },
    universe=["AAPL", "MSFT", "GOOGL", "AMZN", "META", "NVDA", "JPM", "XOM", "JNJ", "PG"],
    factors=["NewsSentiment", "DebtToEquity"],
    start_date=date(2021, 1, 1),
    end_date=date(2023, 12, 31),
    initial_capital=1_000_000,
    owner="research",
    description="Hand-written reference sweep: 4 points of LongShortEquityStrategy.",
)

dag = create_sweep_dag(EXAMPLE_SWEEP)
