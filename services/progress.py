"""A run's exact progress from its chunk task instances: cumulative points done over time."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from services.airflow.models import TaskInstance, TaskState
from services.models import ProgressSample

# Samples kept per run: the status carrying them is JSON-cached at every poll, and a line chart
# a few hundred pixels wide shows no more. Above it, samples are merged into equal time buckets.
PROGRESS_MAX_SAMPLES = 240


def _second(moment: datetime) -> datetime:
    return moment.replace(microsecond=0)


def progress_samples(
    chunks: Sequence[tuple[int, int]],
    chunk_tis: Iterable[TaskInstance],
    started_at: datetime | None,
    max_samples: int = PROGRESS_MAX_SAMPLES,
) -> list[ProgressSample]:
    """Points done over time: (run start, 0), then the running total at each second a chunk succeeded.

    `chunks` is `config.chunks()` ((start, count) per map index); a successful chunk adds its count
    at its end_date. Chunks that finished within the same second make one sample; more than
    `max_samples` samples are thinned to the last one of each equal time bucket (exact there).
    """
    finished = sorted(
        (_second(ti.end_date), chunks[ti.map_index][1])
        for ti in chunk_tis
        if ti.state == TaskState.SUCCESS and ti.end_date is not None and 0 <= ti.map_index < len(chunks)
    )
    samples: list[ProgressSample] = []
    if started_at is not None:
        start = _second(started_at)
        samples.append(ProgressSample(at=min(start, finished[0][0]) if finished else start, done=0))
    done = 0
    for at, count in finished:
        done += count
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
