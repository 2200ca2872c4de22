"""How a sweep's grid is cut into tasks (the sizing rule) and the order its points run in.

Sizing: without `points_per_task`, the number of tasks follows the executor. Locally, every task pays
about 2.5 CPU-seconds of its own (Airflow's task process, a fresh engine process importing pandas and
loading the data; measured on 2 CPUs, the engine alone on a 10,000-point sweep took 56 s as 32
processes, 39 s as 6 and 36 s as 2), and the engine is CPU-bound, so more tasks than CPUs only
time-share them. A sweep therefore gets
one wave of tasks: LOCAL_TASKS_PER_CPU per CPU of the Airflow host (a few, so that the OS evens out a
slow chunk), but no more than the worker slots (Airflow's `core.parallelism`) less the one the
`validate` task holds, so every chunk starts at once and none waits for a second wave that would run
on a half-idle machine; and at least LOCAL_MIN_POINTS_PER_TASK points a task. On AWS Batch
every job pays a container start, so a sweep gets enough jobs to fill the queue's capacity, but at
least BATCH_MIN_POINTS_PER_JOB points per job. Either way at most MAX_TASKS tasks (Airflow's mapping
limit). `points_per_task` in the spec overrides the rule. The slots come from the Airflow Variable
`backtest_task_slots` when it is set.

Order: a task runs the points at positions [start, start + count) of the sweep's run order. With the
space-filling order (the default), positions walk the cells of the grid's first two parameters in the
order a Halton sequence (bases 2 and 3) first lands in them, the other parameters varying fastest
inside each cell: every task's points spread over the whole grid and a running sweep's heatmap covers
it early, while points that share their signals (the same first two parameters) stay together. Grid
indices never change: results are keyed by index; only which task runs a point, and when, does.
"""

from __future__ import annotations

import functools
import math
import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from airflow_backtest_framework import engine_contract as ec

if TYPE_CHECKING:  # numpy is imported where an order is computed, not when a DAG file is parsed
    import numpy as np

MAX_TASKS = 1_024  # Airflow's default max_map_length caps XCom-driven .expand()
LEGACY_POINTS_PER_TASK = 10  # the rule before executor-sized chunks (runs planned without a plan file)
LOCAL_TASKS_PER_CPU = 3
LOCAL_MIN_POINTS_PER_TASK = 20  # a task's ~1 s of overhead against ~0.1 s of backtests
DEFAULT_LOCAL_SLOTS = 8  # Settings.airflow_parallelism's default, Airflow's core.parallelism locally
DEFAULT_BATCH_SLOTS = 256  # jobs a Batch queue runs at once, e.g. 256 vCPUs of 1-vCPU jobs
BATCH_MIN_POINTS_PER_JOB = 1_000  # ~4 s of backtests at 4 ms a point against a ~30 s container start
LEAD_PARAMS = 2  # the space-filling order spreads the first parameters' cells over the grid
HALTON_DRAWS = 4  # Halton points drawn per cell to order them (each cell is hit ~4 times)


@dataclass(frozen=True)
class ExecutorProfile:
    """Where a sweep's tasks run: `local` or `batch`, how many run at once (`slots`) and, locally, the
    CPUs of the host they run on (default: this host's; the local stack's Airflow runs beside the app)."""

    executor: str
    slots: int
    cpus: int = field(default_factory=lambda: os.cpu_count() or 1)

    def __post_init__(self) -> None:
        if self.executor not in ec.EXECUTORS:
            raise ValueError(f"executor {self.executor!r}; expected one of {', '.join(ec.EXECUTORS)}")
        if self.slots < 1:
            raise ValueError(f"slots must be at least 1 (got {self.slots})")
        if self.cpus < 1:
            raise ValueError(f"cpus must be at least 1 (got {self.cpus})")

    @property
    def local_tasks(self) -> int:
        """Tasks of a local sweep: one wave, LOCAL_TASKS_PER_CPU per CPU within the free worker slots."""
        return max(1, min(self.slots - 1, LOCAL_TASKS_PER_CPU * self.cpus))

    @classmethod
    def default(cls, executor: str) -> ExecutorProfile:
        slots = DEFAULT_LOCAL_SLOTS if executor == ec.EXECUTOR_LOCAL else DEFAULT_BATCH_SLOTS
        return cls(executor, slots)


def points_per_task(grid_size: int, profile: ExecutorProfile | None, override: int | None = None) -> int:
    """Points per task: `override` when given; else the executor's rule (None: the legacy rule)."""
    if override is not None:
        return override
    if profile is None:
        return max(LEGACY_POINTS_PER_TASK, math.ceil(grid_size / MAX_TASKS))
    if profile.executor == ec.EXECUTOR_LOCAL:
        per_task = max(LOCAL_MIN_POINTS_PER_TASK, math.ceil(grid_size / profile.local_tasks))
    else:
        per_task = max(BATCH_MIN_POINTS_PER_JOB, math.ceil(grid_size / profile.slots))
    return max(1, per_task, math.ceil(grid_size / MAX_TASKS))


def chunk_ranges(grid_size: int, per_task: int) -> list[tuple[int, int]]:
    """(start, count) of every task's positions in the run order."""
    return [(start, min(per_task, grid_size - start)) for start in range(0, grid_size, per_task)]


def describe_plan(grid_size: int, per_task: int) -> str:
    """'10,000 points in 32 tasks of ~313' (what Configure and Deploy show)."""
    tasks = len(chunk_ranges(grid_size, per_task)) if grid_size else 0
    points = "point" if grid_size == 1 else "points"
    if tasks <= 1:
        return f"{grid_size:,} {points} in 1 task"
    return f"{grid_size:,} {points} in {tasks:,} tasks of ~{math.ceil(grid_size / tasks):,}"


def _radical_inverse(values: np.ndarray, bits: int) -> np.ndarray:
    """`values` with their `bits` low bits reversed (van der Corput in base 2, as integers)."""
    import numpy as np

    out = np.zeros_like(values)
    for bit in range(bits):
        out |= ((values >> bit) & 1) << (bits - 1 - bit)
    return out


def _halton(draws: np.ndarray, base: int) -> np.ndarray:
    """The radical inverse of each of `draws` in `base`: the Halton sequence's coordinate, in [0, 1)."""
    import numpy as np

    values, out, scale = draws.copy(), np.zeros(len(draws)), 1.0 / base
    while values.any():
        out += scale * (values % base)
        values //= base
        scale /= base
    return out


def space_filling_cells(shape: tuple[int, ...]) -> np.ndarray:
    """The cells of a grid of `shape` (one or two axes, row-major numbers) in space-filling order.

    One axis: the van der Corput order (bit-reversed indices). Two: the cells in the order the Halton
    sequence (bases 2 and 3) first lands in them, whatever the grid's aspect; cells it missed in
    HALTON_DRAWS per cell (rare) follow in grid order.
    """
    import numpy as np

    cells = int(np.prod(shape)) if shape else 1
    numbers = np.arange(cells, dtype=np.int64)
    if len(shape) < 2:
        bits = max(1, (cells - 1).bit_length())
        return numbers[np.argsort(_radical_inverse(numbers, bits), kind="stable")]
    rows, cols = shape[:2]
    draws = np.arange(HALTON_DRAWS * cells, dtype=np.int64)
    landed = (_halton(draws, 2) * rows).astype(np.int64) * cols + (_halton(draws, 3) * cols).astype(np.int64)
    found, first = np.unique(landed, return_index=True)
    ordered = found[np.argsort(first, kind="stable")]
    return np.concatenate([ordered, np.setdiff1d(numbers, ordered)])


@functools.lru_cache(maxsize=8)
def run_order(sizes: tuple[int, ...], space_filling: bool = True) -> np.ndarray:
    """Grid index at each position of the run order (a read-only permutation of the grid's indices,
    kept per process: Monitor maps every poll through it).

    `sizes` are the parameters' numbers of values in grid order (last fastest). Without space filling
    the order is the grid's own.
    """
    order = _run_order(sizes, space_filling)
    order.flags.writeable = False
    return order


def _run_order(sizes: tuple[int, ...], space_filling: bool) -> np.ndarray:
    import numpy as np

    total = int(np.prod(sizes)) if sizes else 1
    if not space_filling or len(sizes) == 0 or total <= 1:
        return np.arange(total, dtype=np.int64)
    lead = sizes[:LEAD_PARAMS]
    block = int(np.prod(sizes[LEAD_PARAMS:])) if len(sizes) > LEAD_PARAMS else 1
    cells = space_filling_cells(tuple(lead))
    return (cells[:, None] * block + np.arange(block, dtype=np.int64)[None, :]).ravel()


def contiguous_runs(indices: np.ndarray) -> list[tuple[int, int]]:
    """`indices` as (first, count) runs of consecutive ascending indices, in their order."""
    import numpy as np

    if len(indices) == 0:
        return []
    breaks = np.flatnonzero(np.diff(indices) != 1) + 1
    starts = np.concatenate([[0], breaks])
    ends = np.concatenate([breaks, [len(indices)]])
    return [(int(indices[s]), int(e - s)) for s, e in zip(starts, ends, strict=True)]
