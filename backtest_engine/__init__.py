"""Reference backtest engine: runs a chunk of a sweep's grid points (`python -m backtest_engine`)."""

from airflow_backtest_framework.engine_contract import equity_key, point_key, returns_key
from backtest_engine.cli import EngineInputError, main, parse_request
from backtest_engine.data import DataSourceError, MarketData, load_market_data
from backtest_engine.engine import ENGINE_VERSION, ChunkOutcome, PointResult, RunContext, run_chunk, run_point
from backtest_engine.metrics import TRANSACTION_COST
from backtest_engine.strategies import STRATEGY_CLASSES, Strategy, build_strategy, register
from backtest_engine.synthetic import synthetic_market

__all__ = [
    "ENGINE_VERSION",
    "STRATEGY_CLASSES",
    "TRANSACTION_COST",
    "ChunkOutcome",
    "DataSourceError",
    "EngineInputError",
    "MarketData",
    "PointResult",
    "RunContext",
    "Strategy",
    "build_strategy",
    "equity_key",
    "load_market_data",
    "main",
    "parse_request",
    "point_key",
    "register",
    "returns_key",
    "run_chunk",
    "run_point",
    "synthetic_market",
]
