"""The Configure form's model: the raw draft a browser keeps, and its live validation (no Dash here)."""

from __future__ import annotations

import math
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from airflow_backtest_framework.catalog import STRATEGIES
from airflow_backtest_framework.chunking import ExecutorProfile, describe_plan, points_per_task
from airflow_backtest_framework.config import CONTEXT_MAX_GRID_POINTS, NAME_PATTERN, SweepConfig, field_errors
from airflow_backtest_framework.data_source_spec import DATA_FOLDER, DATA_SAMPLE
from airflow_backtest_framework.grid import GridError, format_values, parse_values
from airflow_backtest_framework.validation_spec import ValidationSpec
from services.models import NEW_SWEEP

DEFAULT_STRATEGY = next(iter(STRATEGIES))
# The default sweep runs on the bundled sample (real daily prices), over symbols and dates it covers.
DEFAULT_DATA_SOURCE = DATA_SAMPLE
DEFAULT_UNIVERSE = "AAPL, MSFT, IBM, GOOG"
DEFAULT_START = "2005-01-01"
DEFAULT_END = "2012-12-31"
DEPLOYMENT_DEFAULT = ""  # the form's value for a spec without a data source (saved before the field)
DEFAULT_CAPITAL = "1000000"
DEFAULT_OWNER = "research"
WARN_FRACTION = 0.8  # warn when the grid reaches this share of the cap
MIN_SHOWN_SHARE = 0.001  # a smaller share of the cap reads "under 0.1%", not a misleading "0.0%"
NAME_MIN, NAME_MAX = 3, 60  # SweepConfig's NAME_PATTERN (the framework names no constant for them)


def _number_text(value: float) -> str:
    """A number as the form shows it, 5.0 as 5; it reads back as the same float (even -0.0)."""
    text = repr(float(value))
    return text.removesuffix(".0")


# Execution and costs: SweepConfig fields of the same names; validation: `validation_<field>` stands for
# the spec's `validation.<field>` (an id cannot hold a dot), and its errors come back under that name.
EXECUTION_FIELDS = ("fill", "commission_bps", "slippage_bps", "borrow_bps", "risk_free_rate", "benchmark")
VALIDATION_PREFIX = "validation_"
VALIDATION_FIELDS = tuple(VALIDATION_PREFIX + name for name in ValidationSpec.model_fields)
LAGS_FIELD = "factor_lags"
_SPEC_DEFAULTS = {name: SweepConfig.model_fields[name].default for name in EXECUTION_FIELDS}
_SPEC_DEFAULTS |= {VALIDATION_PREFIX + k: v for k, v in ValidationSpec().model_dump().items()}
# The form's simple fields, in the order the page shows them (SweepConfig field names).
FORM_FIELDS = (
    "universe",
    "factors",
    "start_date",
    "end_date",
    "initial_capital",
    "points_per_task",
    "name",
    "owner",
    "description",
    "data_source",
    "data_folder",
    *EXECUTION_FIELDS,
    *VALIDATION_FIELDS,
)
# Stand-ins for the non-grid fields, so the grid size shows while the rest is still incomplete.
_GRID_ONLY = {
    "name": "grid_preview",
    "universe": ["SPY"],
    "start_date": "2020-01-01",
    "end_date": "2020-12-31",
}


class FormDraft(BaseModel):
    """Everything typed into the Configure form, valid or not; kept in the browser's localStorage."""

    model_config = ConfigDict(extra="ignore")

    strategy: str = DEFAULT_STRATEGY
    params: dict[str, dict[str, str]] = Field(default_factory=dict)  # strategy -> parameter -> expression
    universe: str = DEFAULT_UNIVERSE
    factors: list[str] = Field(default_factory=list)
    start_date: str | None = DEFAULT_START
    end_date: str | None = DEFAULT_END
    initial_capital: str | None = DEFAULT_CAPITAL
    points_per_task: str | None = None
    name: str = ""
    owner: str = DEFAULT_OWNER
    description: str = ""
    data_source: str = DEFAULT_DATA_SOURCE
    data_folder: str = ""
    fill: str = _SPEC_DEFAULTS["fill"]
    commission_bps: str | None = _number_text(_SPEC_DEFAULTS["commission_bps"])
    slippage_bps: str | None = _number_text(_SPEC_DEFAULTS["slippage_bps"])
    borrow_bps: str | None = _number_text(_SPEC_DEFAULTS["borrow_bps"])
    risk_free_rate: str | None = _number_text(_SPEC_DEFAULTS["risk_free_rate"])
    benchmark: str = _SPEC_DEFAULTS["benchmark"]
    factor_lags: dict[str, str] = Field(default_factory=dict)  # factor -> bars, as typed ("" = none)
    validation_scheme: str = _SPEC_DEFAULTS["validation_scheme"]
    validation_out_of_sample: str | None = _number_text(_SPEC_DEFAULTS["validation_out_of_sample"])
    validation_folds: str | None = str(_SPEC_DEFAULTS["validation_folds"])
    validation_windows: str = _SPEC_DEFAULTS["validation_windows"]
    validation_pbo_blocks: str | None = str(_SPEC_DEFAULTS["validation_pbo_blocks"])
    space_filling: bool = True  # run the grid in a space-filling order (chunking.run_order)
    # The saved sweep this form was loaded from (a clone) or last saved as, and that record's version:
    # a save under that name checks nobody saved it since (services.registry.SweepRegistry.save).
    base_name: str = ""
    base_version: int = NEW_SWEEP

    @field_validator(
        "initial_capital",
        "points_per_task",
        "commission_bps",
        "slippage_bps",
        "borrow_bps",
        "risk_free_rate",
        "validation_out_of_sample",
        "validation_folds",
        "validation_pbo_blocks",
        mode="before",
    )
    @classmethod
    def _text(cls, value: Any) -> Any:
        return None if value is None else str(value)

    @field_validator(
        "universe",
        "name",
        "owner",
        "description",
        "data_source",
        "data_folder",
        "fill",
        "benchmark",
        "validation_scheme",
        "validation_windows",
        mode="before",
    )
    @classmethod
    def _choice(cls, value: Any) -> Any:
        return "" if value is None else value

    @field_validator("factors", mode="before")
    @classmethod
    def _list(cls, value: Any) -> Any:
        return [] if value is None else value

    def expected_version(self) -> int:
        """The version a save of this draft was edited from: NEW_SWEEP unless it holds its base's name."""
        return self.base_version if self.name == self.base_name else NEW_SWEEP

    def based_on(self, name: str, version: int) -> FormDraft:
        """This draft, now edited from `version` of the saved sweep `name` (after a save or a load)."""
        return self.model_copy(update={"base_name": name, "base_version": version})

    def params_for(self, strategy: str) -> dict[str, str]:
        """The expressions shown for a strategy: what was typed, the catalog default otherwise."""
        spec = STRATEGIES.get(strategy)
        if spec is None:
            return {}
        typed = self.params.get(strategy, {})
        return {p.name: typed.get(p.name, p.default) for p in spec.params}

    def payload(self) -> dict[str, Any]:
        """The SweepConfig input: empty text becomes missing, so messages say 'required'."""

        def blank(value: str | None) -> str | None:
            return value if value is not None and value.strip() else None

        return {
            "name": self.name,
            "strategy": self.strategy,
            "params": self.params_for(self.strategy),
            "universe": self.universe,
            "factors": self.factors,
            "start_date": blank(self.start_date),
            "end_date": blank(self.end_date),
            "initial_capital": blank(self.initial_capital),
            "points_per_task": blank(self.points_per_task),
            "owner": self.owner,
            "description": self.description,
            "data_source": self.data_source or None,  # the deployment's default, as before the field
            "data_folder": self.data_folder.strip() if self.data_source == DATA_FOLDER else "",
            "fill": self.fill,
            **{name: blank(getattr(self, name)) for name in EXECUTION_FIELDS[1:-1]},
            "benchmark": self.benchmark,
            # Lags of the chosen factors only, in the order typed (a loaded spec's own order).
            LAGS_FIELD: {f: lag for f, lag in self.factor_lags.items() if f in self.factors and lag.strip()},
            "validation": {
                name.removeprefix(VALIDATION_PREFIX): blank(getattr(self, name)) for name in VALIDATION_FIELDS
            },
            "space_filling": self.space_filling,
        }


def load_draft(data: Any) -> FormDraft:
    """A draft from a store; anything unreadable (an old format, a hand-edited value) gives a fresh one."""
    if not isinstance(data, dict):
        return FormDraft()
    try:
        return FormDraft.model_validate(data)
    except ValidationError:
        return FormDraft()


def draft_from_config(config: SweepConfig, name: str, version: int = NEW_SWEEP) -> FormDraft:
    """A draft holding `config` under `name`, edited from `version` of the saved `config.name`."""
    return FormDraft(
        base_name=config.name,
        base_version=version,
        strategy=config.strategy,
        params={config.strategy: dict(config.params)},
        universe=", ".join(config.universe),
        factors=list(config.factors),
        start_date=config.start_date.isoformat(),
        end_date=config.end_date.isoformat(),
        initial_capital=_number_text(config.initial_capital),
        points_per_task=None if config.points_per_task is None else str(config.points_per_task),
        name=name,
        owner=config.owner,
        description=config.description,
        data_source=config.data_source or DEPLOYMENT_DEFAULT,
        data_folder=config.data_folder,
        fill=config.fill,
        commission_bps=_number_text(config.commission_bps),
        slippage_bps=_number_text(config.slippage_bps),
        borrow_bps=_number_text(config.borrow_bps),
        risk_free_rate=_number_text(config.risk_free_rate),
        benchmark=config.benchmark,
        factor_lags={name: str(lag) for name, lag in config.factor_lags.items()},
        **{VALIDATION_PREFIX + k: str(v) for k, v in config.validation.model_dump().items()},
        space_filling=config.space_filling,
    )


def copy_name(name: str, taken: set[str]) -> str:
    """`<name>_copy`, then `_copy2`, … : a free name that still fits NAME_MAX characters."""
    for attempt in range(1, 1000):
        suffix = "_copy" if attempt == 1 else f"_copy{attempt}"
        candidate = name[: NAME_MAX - len(suffix)] + suffix
        if candidate not in taken and NAME_PATTERN.match(candidate):
            return candidate
    return name


class ParamCheck(BaseModel):
    name: str
    count: int | None = None
    preview: str = ""
    error: str | None = None


class FormCheck(BaseModel):
    """The live verdict on a draft: messages per field, the grid's size, whether Save may run."""

    errors: dict[str, str] = Field(default_factory=dict)  # SweepConfig field -> message
    hints: dict[str, str] = Field(default_factory=dict)  # neutral notes (an empty name, an existing sweep)
    params: dict[str, ParamCheck] = Field(default_factory=dict)
    grid_size: int | None = None
    task_count: int | None = None
    points_per_task: int | None = None
    max_grid_points: int
    level: Literal["ok", "warn", "blocked", "unknown"] = "unknown"
    grid_message: str = ""
    can_save: bool = False

    @property
    def summary(self) -> str:
        if self.grid_size is None or self.points_per_task is None:
            return "grid size unknown"
        return describe_plan(self.grid_size, self.points_per_task)


def check_draft(
    draft: FormDraft,
    max_grid_points: int,
    existing: set[str] | None = None,
    max_name_chars: int | None = None,
    profile: ExecutorProfile | None = None,
) -> FormCheck:
    """Validate a draft as the user types: per-field messages, expanded values, grid size and cap;
    `max_name_chars` is the deploy target's own limit on names (MWAA's API path length); `profile`
    the executor the tasks are sized for (None: the local default)."""
    check = FormCheck(max_grid_points=max_grid_points)
    spec = STRATEGIES.get(draft.strategy)
    if spec is not None:
        for param in spec.params:
            check.params[param.name] = _param_check(
                param.name, draft.params_for(draft.strategy)[param.name], param.kind
            )
    try:
        SweepConfig.model_validate(draft.payload(), context={CONTEXT_MAX_GRID_POINTS: max_grid_points})
    except ValidationError as exc:
        check.errors = _form_errors(field_errors(exc))
    for key in [k for k in check.errors if k.startswith("params.")]:
        name = key.removeprefix("params.")
        if name in check.params:
            check.params[name].error = check.errors.pop(key)
    if "name" not in check.errors and max_name_chars is not None and len(draft.name) > max_name_chars:
        check.errors["name"] = (
            f"use at most {max_name_chars} characters here ({len(draft.name)} now): "
            "MWAA's API takes only short paths, and each run's path holds the name"
        )
    if "name" in check.errors and not draft.name.strip():
        check.hints["name"] = f"Name the sweep to save it ({NAME_MIN} to {NAME_MAX} of a-z, 0-9, _)."
        del check.errors["name"]
    elif existing and draft.name in existing and "name" not in check.errors:
        if draft.expected_version() == NEW_SWEEP:  # not loaded here: a save would be refused
            check.hints["name"] = (
                f"A sweep named {draft.name} exists: clone it to change it, or pick another name."
            )
        else:
            check.hints["name"] = f"A sweep named {draft.name} exists: Save updates it."
    _grid(check, draft, profile or ExecutorProfile.default("local"))
    check.can_save = bool(draft.name.strip()) and not check.errors and check.level in ("ok", "warn")
    return check


def _form_errors(errors: dict[str, str]) -> dict[str, str]:
    """The spec's errors under the form's field names: `validation.folds` as `validation_folds`,
    a lag that is not a number (`factor_lags.<factor>`) under `factor_lags`, naming the factor."""
    found: dict[str, str] = {}
    for key, message in errors.items():
        if key.startswith("validation."):
            key = key.replace(".", "_", 1)
        elif key.startswith(LAGS_FIELD + "."):
            key, message = LAGS_FIELD, f"{key.removeprefix(LAGS_FIELD + '.')}: {message}"
        found.setdefault(key, message)
    return found


def _param_check(name: str, expression: str, kind: str) -> ParamCheck:
    try:
        values = parse_values(expression, kind)  # type: ignore[arg-type]
    except GridError:
        return ParamCheck(name=name)
    noun = "value" if len(values) == 1 else "values"
    return ParamCheck(
        name=name, count=len(values), preview=f"{len(values):,} {noun}: {format_values(values)}"
    )


def _grid(check: FormCheck, draft: FormDraft, profile: ExecutorProfile) -> None:
    """Grid size and task count from the grid fields alone, so they show before the form is complete."""
    if any(p.error for p in check.params.values()) or not check.params:
        check.grid_message = "Fix the parameter grid to see its size."
        return
    trial = {"strategy": draft.strategy, "params": draft.params_for(draft.strategy), **_GRID_ONLY}
    try:
        config = SweepConfig.model_validate(trial, context={CONTEXT_MAX_GRID_POINTS: None})
    except ValidationError:
        check.grid_message = "Fix the parameter grid to see its size."
        return
    check.grid_size = config.grid_size
    check.points_per_task = points_per_task(config.grid_size, profile, _positive_int(draft.points_per_task))
    check.task_count = math.ceil(config.grid_size / check.points_per_task)
    limit = check.max_grid_points
    if config.grid_size > limit:
        check.level = "blocked"
        check.grid_message = (
            f"{config.grid_size:,} points exceed the limit of {limit:,}: narrow a parameter's range to save."
        )
        check.errors.pop("params", None)
    elif config.grid_size >= WARN_FRACTION * limit:
        check.level = "warn"
        check.grid_message = f"{config.grid_size / limit:.0%} of the {limit:,}-point limit."
    else:
        check.level = "ok"
        share = config.grid_size / limit
        shown = f"{share:.1%}" if share >= MIN_SHOWN_SHARE else f"under {MIN_SHOWN_SHARE:.1%}"
        check.grid_message = f"{shown} of the {limit:,}-point limit."


def _positive_int(text: str | None) -> int | None:
    try:
        value = int(str(text).strip())
    except ValueError:
        return None
    return value if value >= 1 else None


def hint_config(draft: FormDraft) -> SweepConfig | None:
    """The draft's data fields (source, folder, universe, factors, dates) as a spec to check its data
    coverage while the rest is incomplete; None while those fields are invalid (their messages show)."""
    payload = draft.payload()
    trial = {key: payload[key] for key in ("universe", "factors", "start_date", "end_date")}
    trial |= {"data_source": payload["data_source"], "data_folder": payload["data_folder"]}
    spec = STRATEGIES[DEFAULT_STRATEGY]
    try:
        return SweepConfig.model_validate(
            {"name": "data_hint", "strategy": spec.name, "params": spec.default_params(), **trial},
            context={CONTEXT_MAX_GRID_POINTS: None},
        )
    except ValidationError:
        return None


def validated_config(draft: FormDraft, max_grid_points: int) -> SweepConfig:
    """The SweepConfig of a draft, as Save stores it; raises pydantic's ValidationError."""
    return SweepConfig.model_validate(draft.payload(), context={CONTEXT_MAX_GRID_POINTS: max_grid_points})
