"""The SweepConfig spec: a strategy from the catalog, one grid expression per parameter, a universe, dates."""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Mapping
from datetime import date
from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationInfo,
    field_validator,
    model_validator,
)

from airflow_backtest_framework.catalog import FACTORS, STRATEGIES, StrategySpec
from airflow_backtest_framework.chunking import MAX_TASKS as MAX_TASKS  # the form imports it from here
from airflow_backtest_framework.chunking import ExecutorProfile, chunk_ranges, points_per_task, run_order
from airflow_backtest_framework.data_source_spec import check_data_field, compatible_dump
from airflow_backtest_framework.execution_spec import (
    BENCHMARK_UNIVERSE,
    FILL_NEXT_OPEN,
    check_benchmark,
    check_execution_field,
    check_factor_lags,
)
from airflow_backtest_framework.grid import (
    GRID_HELP,
    Grid,
    GridError,
    check_expression_size,
    clip_text,
    expand_values,
    format_number,
    parse_values,
)
from airflow_backtest_framework.names import NAME_PATTERN as NAME_PATTERN  # the form imports it from here
from airflow_backtest_framework.names import name_problem
from airflow_backtest_framework.spec_errors import checked as _checked
from airflow_backtest_framework.spec_errors import custom_error as _custom
from airflow_backtest_framework.spec_errors import describe_validation_error as describe_validation_error
from airflow_backtest_framework.spec_errors import field_errors as field_errors
from airflow_backtest_framework.spec_errors import too_long as _too_long
from airflow_backtest_framework.validation_spec import ValidationSpec

DEFAULT_MAX_GRID_POINTS = 100_000
MAX_SYMBOLS = 2_000
DAG_ID_PREFIX = "backtest_"
CONTEXT_MAX_GRID_POINTS = "max_grid_points"

# Caps on the spec's text, checked before any other work on it; each far above real use.
MAX_STRATEGY_CHARS = 100
MAX_PARAM_ENTRIES = 32  # a strategy has a handful of parameters
MAX_SYMBOL_CHARS = 15  # the longest ticker TICKER_PATTERN accepts: 10, a separator, 4
MAX_UNIVERSE_CHARS = 40_000  # MAX_SYMBOLS symbols of up to 15 characters, with separators
MAX_FACTORS_CHARS = 1_000
MAX_DATE_CHARS = 32  # 2024-01-31, or a datetime at midnight with microseconds and an offset
MAX_OWNER_CHARS = 64
MAX_DESCRIPTION_CHARS = 2_000

TICKER_PATTERN = re.compile(r"^[A-Z][A-Z0-9]{0,9}(?:[.\-][A-Z0-9]{1,4})?$")
OWNER_PATTERN = re.compile(rf"[A-Za-z0-9_.@\-]{{1,{MAX_OWNER_CHARS}}}")


# --------------------------------------------------------------------------- SweepConfig


def _text_length(value: Any) -> int:
    """Characters of a text, or of a list read as the text it would be typed as (items and commas)."""
    if isinstance(value, str):
        return len(value)
    if isinstance(value, list | tuple):
        return sum(len(item) if isinstance(item, str) else 1 for item in value) + max(len(value) - 1, 0)
    return 0


def _split_list(value: Any, field: str, max_chars: int) -> Any:
    length = _text_length(value)
    if length > max_chars:
        raise _custom(field, _too_long(max_chars, length))
    if isinstance(value, str):
        return [item.strip() for item in re.split(r"[,\s]+", value) if item.strip()]
    return value


def _expression_text(raw: Any) -> str:
    """A grid expression sent as text or as a bare number (JSON `7`); GridError when too long."""
    if isinstance(raw, str):
        check_expression_size(raw)  # the cap counts the text as sent, before even stripping it
        return raw.strip()
    try:
        return str(raw)
    except ValueError:  # an integer too long for str(), far past the cap
        raise GridError(f"a number too long to read; {GRID_HELP}") from None


class SweepConfig(BaseModel):
    """A backtest sweep: a strategy, one grid expression per parameter, a universe, dates.

    The grid is the cartesian product of the parameters' values in catalog order; point `i`
    is found by mixed-radix indexing (last parameter varies fastest), so a task computes
    its points from (start, count) alone.
    """

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, validate_default=True)

    name: str = Field(description="Sweep name; the DAG id is backtest_<name>")
    strategy: str
    params: dict[str, str]
    universe: list[str]
    factors: list[str] = Field(default_factory=list)
    start_date: date
    end_date: date
    initial_capital: float = 1_000_000.0
    points_per_task: int | None = None
    space_filling: bool = Field(default=True, description="Run the points in a space-filling order")
    owner: str = "research"
    description: str = ""
    fill: str = Field(default=FILL_NEXT_OPEN, description="When an order decided at a close fills")
    commission_bps: float = Field(default=5.0, description="Commission per side, bps of traded notional")
    slippage_bps: float = Field(default=0.0, description="Slippage per side, bps of traded notional")
    borrow_bps: float = Field(default=0.0, description="Short borrow fee, bps of short notional a year")
    risk_free_rate: float = Field(default=0.0, description="Annual risk-free rate for Sharpe and Sortino")
    benchmark: str = Field(default=BENCHMARK_UNIVERSE, description="A symbol of the universe, or 'universe'")
    factor_lags: dict[str, int] = Field(
        default_factory=dict, description="Publication lag in bars per factor (default 0)"
    )
    validation: ValidationSpec = Field(default_factory=ValidationSpec, description="How points are validated")
    data_source: str | None = Field(default=None, description="sample, database, folder or synthetic")
    data_folder: str = Field(default="", description="The data folder's absolute path (data_source folder)")

    _grid: Grid | None = PrivateAttr(default=None)

    @field_validator("name")
    @classmethod
    def _check_name(cls, value: str) -> str:
        problem = name_problem(value)
        if problem is not None:
            raise _custom("name", problem)
        return value

    @field_validator("strategy")
    @classmethod
    def _check_strategy(cls, value: str) -> str:
        if len(value) > MAX_STRATEGY_CHARS:
            raise _custom("strategy", _too_long(MAX_STRATEGY_CHARS, len(value)))
        if value not in STRATEGIES:
            raise _custom(
                "strategy", f"unknown strategy '{clip_text(value)}'; choose one of: {', '.join(STRATEGIES)}"
            )
        return value

    @field_validator("params", mode="before")
    @classmethod
    def _check_params(cls, value: Any, info: ValidationInfo) -> Any:
        if isinstance(value, Mapping) and len(value) > MAX_PARAM_ENTRIES:
            raise _custom("params", _too_long(MAX_PARAM_ENTRIES, len(value), "parameters"))
        strategy = STRATEGIES.get(info.data.get("strategy", ""))
        if strategy is None or not isinstance(value, Mapping):
            return value
        problems: dict[str, str] = {}
        cleaned: dict[str, str] = {}
        for key in value:
            if key not in strategy.param_names:
                problems[clip_text(str(key))] = (
                    f"not a parameter of {strategy.name}; its parameters: " + ", ".join(strategy.param_names)
                )
        for spec in strategy.params:
            raw = value.get(spec.name)
            if raw is None or (isinstance(raw, str) and not raw.strip()):
                problems[spec.name] = f"required; default is {spec.default}"
                continue
            try:
                expression = _expression_text(raw)
                values = parse_values(expression, spec.kind)
            except GridError as exc:
                problems[spec.name] = str(exc)
                continue
            outside = [v for v in values if not spec.lower <= v <= spec.upper]
            if outside:
                problems[spec.name] = (
                    f"{format_number(outside[0])} is outside the allowed range "
                    f"{format_number(spec.lower)} to {format_number(spec.upper)}"
                )
                continue
            cleaned[spec.name] = expression
        if problems:
            text = "; ".join(f"{k}: {v}" for k, v in problems.items())
            raise _custom("grid", text, fields=problems)
        return cleaned

    @field_validator("universe", mode="before")
    @classmethod
    def _split_universe(cls, value: Any) -> Any:
        return _split_list(value, "universe", MAX_UNIVERSE_CHARS)

    @field_validator("universe")
    @classmethod
    def _check_universe(cls, value: list[str]) -> list[str]:
        symbols = list(dict.fromkeys(symbol.strip().upper() for symbol in value))
        if not symbols:
            raise _custom("universe", "add at least one symbol, e.g. AAPL,MSFT,GOOGL")
        long = next((s for s in symbols if len(s) > MAX_SYMBOL_CHARS), None)
        if long is not None:
            raise _custom("universe", f"symbol '{clip_text(long)}': {_too_long(MAX_SYMBOL_CHARS, len(long))}")
        bad = [s for s in symbols if not TICKER_PATTERN.match(s)]
        if bad:
            raise _custom(
                "universe",
                f"'{clip_text(bad[0])}' is not a ticker; "
                "use letters and digits, optionally .X or -X (e.g. BRK.B)",
            )
        if len(symbols) > MAX_SYMBOLS:
            raise _custom("universe", f"{len(symbols):,} symbols; at most {MAX_SYMBOLS:,}")
        return symbols

    @field_validator("factors", mode="before")
    @classmethod
    def _split_factors(cls, value: Any) -> Any:
        return _split_list(value, "factors", MAX_FACTORS_CHARS) if value is not None else []

    @field_validator("factors")
    @classmethod
    def _check_factors(cls, value: list[str]) -> list[str]:
        factors = list(dict.fromkeys(value))
        unknown = [f for f in factors if f not in FACTORS]
        if unknown:
            raise _custom(
                "factors", f"unknown factor '{clip_text(unknown[0])}'; valid factors: {', '.join(FACTORS)}"
            )
        return factors

    @field_validator("start_date", "end_date", mode="before")
    @classmethod
    def _cap_date(cls, value: Any) -> Any:
        if isinstance(value, str) and len(value) > MAX_DATE_CHARS:
            raise _custom("date", _too_long(MAX_DATE_CHARS, len(value)))
        return value

    @field_validator("start_date", "end_date")
    @classmethod
    def _check_date(cls, value: date) -> date:
        if not date(1970, 1, 1) <= value <= date(2100, 12, 31):
            raise _custom("date", "use a date between 1970-01-01 and 2100-12-31")
        return value

    @field_validator("end_date")
    @classmethod
    def _check_order(cls, value: date, info: ValidationInfo) -> date:
        start = info.data.get("start_date")
        if start is not None and value <= start:
            raise _custom("date_order", f"must be after the start date {start.isoformat()}")
        return value

    @field_validator("initial_capital")
    @classmethod
    def _check_capital(cls, value: float) -> float:
        if not math.isfinite(value) or value <= 0:
            raise _custom("capital", "must be a positive amount, e.g. 1000000")
        return value

    @field_validator("points_per_task")
    @classmethod
    def _check_points_per_task(cls, value: int | None) -> int | None:
        if value is not None and value < 1:
            raise _custom("points_per_task", "must be at least 1, or empty for automatic")
        return value

    @field_validator("owner")
    @classmethod
    def _check_owner(cls, value: str) -> str:
        if len(value) > MAX_OWNER_CHARS:
            raise _custom("owner", _too_long(MAX_OWNER_CHARS, len(value)))
        if not OWNER_PATTERN.fullmatch(value):
            raise _custom("owner", f"use 1 to {MAX_OWNER_CHARS} letters, digits or . _ - @ (e.g. jdoe)")
        return value

    @field_validator("description")
    @classmethod
    def _check_description(cls, value: str) -> str:
        if len(value) > MAX_DESCRIPTION_CHARS:
            raise _custom("description", _too_long(MAX_DESCRIPTION_CHARS, len(value)))
        return value

    @field_validator("fill", "commission_bps", "slippage_bps", "borrow_bps", "risk_free_rate")
    @classmethod
    def _check_execution(cls, value: Any, info: ValidationInfo) -> Any:
        field = str(info.field_name)
        return _checked(lambda v: check_execution_field(field, v), field, value)

    @field_validator("benchmark")
    @classmethod
    def _check_benchmark(cls, value: str, info: ValidationInfo) -> str:
        return _checked(lambda v: check_benchmark(v, info.data.get("universe")), "benchmark", value)

    @field_validator("factor_lags")
    @classmethod
    def _check_factor_lags(cls, value: dict[str, int], info: ValidationInfo) -> dict[str, int]:
        return _checked(lambda v: check_factor_lags(v, info.data.get("factors")), "factor_lags", value)

    @field_validator("data_source", "data_folder")
    @classmethod
    def _check_data(cls, value: Any, info: ValidationInfo) -> Any:
        field = str(info.field_name)
        return _checked(lambda v: check_data_field(field, v, info.data), field, value)

    @model_validator(mode="after")
    def _check_grid(self, info: ValidationInfo) -> SweepConfig:
        spec = STRATEGIES[self.strategy]
        self._grid = Grid(spec.param_names, [expand_values(self.params[p.name], p.kind) for p in spec.params])
        limit = (info.context or {}).get(CONTEXT_MAX_GRID_POINTS, DEFAULT_MAX_GRID_POINTS)
        size = self.grid_size
        if limit is not None and size > limit:
            raise _custom(
                "grid_too_large",
                f"the grid has {size:,} points; the limit is {limit:,}: narrow a parameter's range",
                field="params",
            )
        if self.points_per_task is not None and self.task_count > MAX_TASKS:
            minimum = math.ceil(size / MAX_TASKS)
            raise _custom(
                "too_many_tasks",
                f"{self.task_count:,} tasks exceed {MAX_TASKS:,}; use at least {minimum:,} points per task",
                field="points_per_task",
            )
        return self

    # ----------------------------------------------------------------------- derived

    @property
    def dag_id(self) -> str:
        return DAG_ID_PREFIX + self.name

    @property
    def strategy_spec(self) -> StrategySpec:
        return STRATEGIES[self.strategy]

    @property
    def grid_size(self) -> int:
        return self._grid.size

    def values(self, param: str) -> list[int] | list[float]:
        """The expanded values of one parameter."""
        grid = self._grid
        return list(grid.values[grid.names.index(param)])

    def point(self, index: int) -> dict[str, int | float]:
        """The parameters of grid point `index` (0-based, last parameter fastest)."""
        return self._grid.point(index)

    def point_indices(self, index: int) -> tuple[int, ...]:
        """The per-parameter value indices of grid point `index`."""
        return self._grid.digits(index)

    def chunk_size(self, profile: ExecutorProfile | None = None) -> int:
        """`points_per_task`, else chunking.py's rule for `profile` (None: the legacy rule)."""
        return points_per_task(self.grid_size, profile, self.points_per_task)

    def tasks(self, profile: ExecutorProfile | None = None) -> int:
        return math.ceil(self.grid_size / self.chunk_size(profile))

    @property
    def task_count(self) -> int:
        return self.tasks()

    def chunks(self, profile: ExecutorProfile | None = None) -> list[tuple[int, int]]:
        """(start, count) of every task's positions in the run order (`run_order`)."""
        return chunk_ranges(self.grid_size, self.chunk_size(profile))

    def run_order(self, space_filling: bool | None = None) -> Any:
        """Grid index at each position of the run order (numpy; chunking.run_order); default: the spec's."""
        flag = self.space_filling if space_filling is None else space_filling
        return run_order(tuple(len(values) for values in self._grid.values), flag)

    def to_json(self) -> str:
        """The compact, canonical JSON of the spec (ASCII only, fields in declaration order)."""
        # Fields added later stay out while unset or default, so an older spec keeps its JSON and hash.
        defaults = {"validation": ValidationSpec().model_dump(), "space_filling": True}
        dump = compatible_dump(self.model_dump(mode="json"), defaults)
        return json.dumps(dump, ensure_ascii=True, separators=(",", ":"))

    @property
    def spec_hash(self) -> str:
        return hashlib.sha256(self.to_json().encode()).hexdigest()

    @classmethod
    def from_json(cls, text: str, max_grid_points: int | None = DEFAULT_MAX_GRID_POINTS) -> SweepConfig:
        return cls.model_validate_json(text, context={CONTEXT_MAX_GRID_POINTS: max_grid_points})
