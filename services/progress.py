"""A run's exact progress from its chunks' progress histories and task instances: cumulative points done
over time."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime

from services.airflow.models import TaskInstance, TaskState
from services.models import ProgressSample

# Samples kept per run: the status carrying them is JSON-cached at every poll, and a line chart
# a few hundred pixels wide shows no more. Above it, samples are merged into equal time buckets.
PROGRESS_MAX_SAMPLES = 240
ETA_MIN_SHARE = 0.01  # no ETA before this share of the grid is done: the first points' pace is no guide


def _second(moment: datetime) -> datetime:
    return moment.replace(microsecond=0)


def progress_samples(
    chunks: Sequence[tuple[int, int]],
    chunk_tis: Iterable[TaskInstance],
    started_at: datetime | None,
    max_samples: int = PROGRESS_MAX_SAMPLES,
    histories: Mapping[int, Sequence[tuple[int, int]]] | None = None,
) -> list[ProgressSample]:
    """Points done over time: (run start, 0), then the running total at each second points were done.

    `chunks` is the run's plan ((start, count) per map index). A chunk with a history in its progress
    record (`histories`, by chunk start: (unix second, points written)) adds its points as the history
    says, within the chunk's run; one without adds its count at its task's end_date once it succeeded.
    Points done within the same second make one sample; more than `max_samples` samples are thinned to
    the last one of each equal time bucket (exact there).
    """
    histories = histories or {}
    steps: list[tuple[datetime, int]] = []  # (second, points added then)
    for ti in chunk_tis:
        if not 0 <= ti.map_index < len(chunks):
            continue
        start, count = chunks[ti.map_index]
        history = histories.get(start)
        if history:
            previous = 0
            for at, done in history:
                if done != previous:
                    steps.append((datetime.fromtimestamp(at, UTC), done - previous))
                    previous = done
        elif ti.state == TaskState.SUCCESS and ti.end_date is not None:
            steps.append((_second(ti.end_date), count))
    steps.sort(key=lambda step: step[0])
    samples: list[ProgressSample] = []
    if started_at is not None:
        start_at = _second(started_at)
        samples.append(ProgressSample(at=min(start_at, steps[0][0]) if steps else start_at, done=0))
    done = 0
    for at, added in steps:
        done += added
        if samples and samples[-1].at == at and samples[-1].done:  # same second: one sample
            samples[-1] = ProgressSample(at=at, done=done)
        else:
            samples.append(ProgressSample(at=at, done=done))
    return thin(samples, max_samples)


def with_live_sample(samples: list[ProgressSample], done: int, now: datetime) -> list[ProgressSample]:
    """`samples` and, when the points done now (the chunks' progress records) passed the last sample, a
    sample at `now`: with big chunks, the chart moves while they run, not only when one ends."""
    if samples and done > samples[-1].done and now > samples[-1].at:
        return [*samples, ProgressSample(at=_second(now), done=done)]
    return samples


def thin(samples: list[ProgressSample], max_samples: int = PROGRESS_MAX_SAMPLES) -> list[ProgressSample]:
    """At most about `max_samples`: the first, then the last sample of each equal time bucket."""
    if len(samples) <= max_samples or max_samples < 2:
        return samples
    first, last = samples[0].at, samples[-1].at
    width = (last - first).total_seconds() / (max_samples - 1)
    kept = [samples[0]]
    bucket_of_last = -1
    for sample in samples[1:]:
        bucket = int((sample.at - first).total_seconds() // width) if width else 0
        if bucket == bucket_of_last:
            kept[-1] = sample  # cumulative: the bucket's last sample holds its total
        else:
            kept.append(sample)
            bucket_of_last = bucket
    return kept


def eta_seconds(done: int, total: int, elapsed_s: float | None) -> float | None:
    """Remaining time at the average rate so far; None until ETA_MIN_SHARE of the points are done (the
    first points' rate says little: a chunk's first seconds load data)."""
    if done >= total:
        return 0.0
    if not elapsed_s or done < max(1, math.ceil(ETA_MIN_SHARE * total)):
        return None
    return elapsed_s * (total - done) / done


def working_seconds(chunk_tis: list[TaskInstance], now: datetime) -> float | None:
    """Seconds since the run's first chunk started (the ETA's clock: the scheduling and `plan` before it
    are not part of the chunks' pace); None before any chunk started."""
    starts = [ti.start_date for ti in chunk_tis if ti.start_date is not None]
    return max(0.0, (now - min(starts)).total_seconds()) if starts else None
