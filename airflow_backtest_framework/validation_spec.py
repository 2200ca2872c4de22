"""The sweep's validation scheme (the spec's `validation` field) and the segments it cuts the dates into.

`holdout` (the default): the first 70 % of the bars are in-sample, the last 30 % out-of-sample.
`walk_forward`: the bars are cut into `folds` + 1 equal blocks; fold i chooses on its in-sample window
(the block before it when `windows` is rolling, every block before it when anchored) and is judged
on block i; the folds' out-of-sample blocks, end to end, are the pooled `out_of_sample` segment.
`none`: the full period only. Segments are [start, end) bar ranges, so the engine and `summarize`
cut the same daily returns the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, field_validator
from pydantic_core import PydanticCustomError

from airflow_backtest_framework.spec_errors import custom_error

SCHEME_NONE = "none"
SCHEME_HOLDOUT = "holdout"
SCHEME_WALK_FORWARD = "walk_forward"
SCHEMES = (SCHEME_NONE, SCHEME_HOLDOUT, SCHEME_WALK_FORWARD)
WINDOWS = ("rolling", "anchored")
DEFAULT_OUT_OF_SAMPLE = 0.3
OUT_OF_SAMPLE_RANGE = (0.05, 0.95)
FOLDS_RANGE = (2, 20)
DEFAULT_PBO_BLOCKS = 16
PBO_BLOCKS_RANGE = (4, 16)  # C(16, 8) = 12,870 combinations: the bench's 60 s budget at 10,000 points
MIN_SEGMENT_BARS = 2  # a Sharpe ratio needs two returns

IN_SAMPLE = "in_sample"
OUT_OF_SAMPLE = "out_of_sample"


def fold_segment(fold: int, part: str) -> str:
    """`fold_<n>_in_sample` / `fold_<n>_out_of_sample` (folds count from 1)."""
    return f"fold_{fold}_{part}"


def _error(field: str, message: str) -> PydanticCustomError:
    return custom_error(f"validation.{field}", message)


class ValidationSpec(BaseModel):
    """How a sweep's points are validated; every field has a default (README "Validation")."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    scheme: str = SCHEME_HOLDOUT
    out_of_sample: float = DEFAULT_OUT_OF_SAMPLE  # holdout: the share of the bars at the end
    folds: int = 5  # walk_forward
    windows: str = "rolling"  # walk_forward: rolling or anchored in-sample windows
    pbo_blocks: int = DEFAULT_PBO_BLOCKS  # S of CSCV

    @field_validator("scheme")
    @classmethod
    def _check_scheme(cls, value: str) -> str:
        if value not in SCHEMES:
            raise _error("scheme", f"unknown scheme '{value[:40]}'; choose one of: {', '.join(SCHEMES)}")
        return value

    @field_validator("out_of_sample")
    @classmethod
    def _check_out_of_sample(cls, value: float) -> float:
        low, high = OUT_OF_SAMPLE_RANGE
        if not low <= value <= high:
            raise _error("out_of_sample", f"the out-of-sample share must be {low:g} to {high:g}, e.g. 0.3")
        return value

    @field_validator("folds")
    @classmethod
    def _check_folds(cls, value: int) -> int:
        low, high = FOLDS_RANGE
        if not low <= value <= high:
            raise _error("folds", f"use {low} to {high} walk-forward folds, e.g. 5")
        return value

    @field_validator("windows")
    @classmethod
    def _check_windows(cls, value: str) -> str:
        if value not in WINDOWS:
            raise _error("windows", f"unknown window '{value[:40]}'; choose rolling or anchored")
        return value

    @field_validator("pbo_blocks")
    @classmethod
    def _check_blocks(cls, value: int) -> int:
        low, high = PBO_BLOCKS_RANGE
        if not low <= value <= high or value % 2:
            raise _error("pbo_blocks", f"use an even number of blocks from {low} to {high}, e.g. 16")
        return value


@dataclass(frozen=True)
class Segment:
    name: str
    start: int  # first bar
    end: int  # one past the last bar


def segments(spec: ValidationSpec, bars: int) -> list[Segment]:
    """The scheme's segments of `bars` bars, in order; segments shorter than two bars are left out."""
    found: list[Segment] = []
    if spec.scheme == SCHEME_HOLDOUT:
        split = bars - round(bars * spec.out_of_sample)
        found = [Segment(IN_SAMPLE, 0, split), Segment(OUT_OF_SAMPLE, split, bars)]
    elif spec.scheme == SCHEME_WALK_FORWARD:
        edges = [round(bars * b / (spec.folds + 1)) for b in range(spec.folds + 2)]
        for fold in range(1, spec.folds + 1):
            first = 0 if spec.windows == "anchored" else edges[fold - 1]
            found.append(Segment(fold_segment(fold, IN_SAMPLE), first, edges[fold]))
            found.append(Segment(fold_segment(fold, OUT_OF_SAMPLE), edges[fold], edges[fold + 1]))
        found.append(Segment(OUT_OF_SAMPLE, edges[1], bars))
    return [segment for segment in found if segment.end - segment.start >= MIN_SEGMENT_BARS]


def walk_forward_folds(found: list[Segment]) -> list[tuple[int, Segment, Segment]]:
    """(fold, in-sample, out-of-sample) of the walk-forward folds among `found`."""
    by_name = {segment.name: segment for segment in found}
    folds = []
    for fold in range(1, len(found) + 1):
        inside = by_name.get(fold_segment(fold, IN_SAMPLE))
        outside = by_name.get(fold_segment(fold, OUT_OF_SAMPLE))
        if inside is not None and outside is not None:
            folds.append((fold, inside, outside))
    return folds


def scheme_segments(spec: ValidationSpec, dates: Any) -> list[dict[str, str]]:
    """The segments as {"name", "start", "end"} with ISO dates (first and last bar), for the report."""
    return [
        {"name": s.name, "start": str(dates[s.start])[:10], "end": str(dates[s.end - 1])[:10]}
        for s in segments(spec, len(dates))
    ]
