"""Progress figures, asserted on their data: coverage with its ETA, throughput bins, runs compared."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from components.figures import RUN_COLORS
from components.figures_progress import (
    END_SYMBOLS,
    HIGHLIGHT_WIDTH,
    LINE_WIDTH,
    RUNNING_SYMBOL,
    bin_width_s,
    coverage_over_time,
    done_at,
    run_comparison,
    run_label,
    throughput,
    throughput_bins,
)
from components.states import state_color
from services.airflow.models import RunState
from services.models import PointState, ProgressSample, RunProgress, RunSummary
from services.wall import HistoryPoint

T0 = datetime(2026, 1, 1, 9, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def local(seconds: float) -> datetime:
    """How the figures write a time: local wall clock, no offset."""
    return at(seconds).astimezone().replace(tzinfo=None)


def samples(*points: tuple[float, int]) -> list[ProgressSample]:
    return [ProgressSample(at=at(s), done=d) for s, d in points]


def note(fig) -> str:
    return fig.layout.annotations[0].text


# ------------------------------------------------------------------------------ coverage over time


def test_coverage_steps_up_to_now_and_dashes_the_eta_to_the_total() -> None:
    fig = coverage_over_time(samples((0, 0), (60, 10), (120, 30)), total=100, eta_s=280, now=at(140))
    done, eta = fig.data
    assert list(done.y) == [0, 10, 30, 30]  # held flat from the last finished chunk to now
    assert list(done.x) == [local(0), local(60), local(120), local(140)]
    assert done.line.shape == "hv" and done.line.color == state_color(PointState.DONE)
    assert list(eta.y) == [30, 100]  # the ETA line ends at the total ...
    assert list(eta.x) == [local(140), local(420)]  # ... eta_s after now
    assert eta.line.dash == "dash"
    assert f"ETA {local(420):%H:%M:%S}" in [a.text for a in fig.layout.annotations]
    assert fig.layout.shapes[0].y0 == 100  # the grid's size as a dotted line


def test_coverage_of_a_finished_run_has_no_eta_line() -> None:
    fig = coverage_over_time(samples((0, 0), (60, 100)), total=100, eta_s=None, now=at(65))
    assert len(fig.data) == 1 and list(fig.data[0].y) == [0, 100, 100]
    complete = coverage_over_time(samples((0, 0), (60, 100)), total=100, eta_s=30)
    assert len(complete.data) == 1  # nothing left to do: no ETA, whatever the status said


def test_coverage_with_no_or_one_sample_says_so() -> None:
    assert not coverage_over_time([], 100, None).data
    assert note(coverage_over_time([], 100, None)) == "no progress yet"
    one = coverage_over_time(samples((0, 0)), 100, 60, now=at(30))
    assert not one.data and note(one) == "no points done yet"


def test_coverage_draws_the_walls_sampled_history_too() -> None:
    history = [HistoryPoint(at=at(0), done=0), HistoryPoint(at=at(60), done=5)]
    assert list(coverage_over_time(history, 10, None).data[0].y) == [0, 5]


# ------------------------------------------------------------------------------ throughput


def test_bin_width_is_round_and_gives_at_most_24_bins() -> None:
    assert bin_width_s(90) == 10
    assert bin_width_s(3600) == 300  # an hour: 12 bins of 5 minutes
    assert bin_width_s(8 * 3600) == 1800
    assert bin_width_s(10**9) == 86400


def test_throughput_bins_count_points_finished_in_each_bin() -> None:
    # 10 points by 30 s, 40 by 70 s, nothing more until 90 s: 10 s bins over 90 s.
    series = samples((0, 0), (30, 10), (70, 40))
    bins = throughput_bins(series, now=at(90))
    assert [(b.start, b.end) for b in bins][:2] == [(at(0), at(10)), (at(10), at(20))]
    assert bins[-1].end == at(90) and len(bins) == 9
    assert [b.points for b in bins] == [0, 0, 10, 0, 0, 0, 30, 0, 0]
    assert sum(b.points for b in bins) == 40
    assert bins[2].per_minute == pytest.approx(60.0)  # 10 points in 10 s


def test_a_short_last_bin_joins_the_one_before() -> None:
    bins = throughput_bins(samples((0, 0), (30, 10), (92, 20)))  # 92 s: 10 s bins, 2 s left over
    assert bins[-1].start == at(80) and bins[-1].end == at(92)
    assert bins[-1].points == 10 and bins[-1].per_minute == pytest.approx(50.0)


def test_throughput_figure_bars_per_minute_with_the_average() -> None:
    fig = throughput(samples((0, 0), (30, 10), (70, 40)), now=at(90))
    bars = fig.data[0]
    assert list(bars.y) == pytest.approx([0, 0, 60, 0, 0, 0, 180, 0, 0])
    assert bars.x[0] == local(5) and list(bars.width) == [10_000] * 9  # ms on a date axis
    assert bars.marker.color == state_color(PointState.RUNNING)
    average = fig.layout.shapes[0]
    assert average.y0 == pytest.approx(40 / 1.5)  # 40 points in 90 s
    assert "26.7/min" in fig.layout.annotations[0].text


def test_throughput_without_progress_says_so() -> None:
    assert note(throughput([])) == "no progress yet"
    assert note(throughput(samples((0, 0)), now=at(60))) == "no points done yet"
    assert note(throughput(samples((0, 0), (0, 0)))) == "no points done yet"


def test_throughput_waits_for_enough_progress_to_measure_a_rate() -> None:
    early = samples((0, 0), (2, 8))  # 8 points in 2 s would read as 240 points/min
    assert note(throughput(early, now=at(3))) == "the rate shows after 30 s of progress"
    assert [trace.type for trace in throughput(early, now=at(30)).data] == ["bar"]


def test_done_at_is_the_running_total_at_a_moment() -> None:
    series = samples((0, 0), (30, 10), (70, 40))
    assert [done_at(series, at(s)) for s in (-1, 0, 29, 30, 69, 500)] == [0, 0, 0, 10, 10, 40]


# ------------------------------------------------------------------------------ runs compared


def run(run_id: str, start_s: float, state: str, points: list[tuple[float, int]], total=10) -> RunProgress:
    start = at(start_s)
    return RunProgress(
        run=RunSummary(run_id=run_id, state=state, start_date=start),
        points_total=total,
        progress=[ProgressSample(at=start + timedelta(seconds=s), done=d) for s, d in points],
    )


def test_runs_are_compared_by_share_done_against_time_since_their_start() -> None:
    newest = run("r3", 7200, "running", [(0, 0), (30, 5)])
    older = run("r2", 3600, "success", [(0, 0), (60, 5), (90, 10)])
    oldest = run("r1", 0, "failed", [(0, 0), (45, 2)])
    fig = run_comparison([newest, older, oldest])

    names = [trace.name for trace in fig.data]
    assert len(fig.data) == 3 and fig.layout.legend.traceorder == "reversed"  # legend: newest first
    by_name = dict(zip(names, fig.data, strict=True))
    newest_trace = by_name[run_label(newest)]
    assert list(newest_trace.x) == [0, 30] and list(newest_trace.y) == [0, 0.5]
    assert list(by_name[run_label(older)].x) == [0, 60, 90]  # seconds: the longest run is 90 s
    assert list(by_name[run_label(older)].y) == [0, 0.5, 1.0]
    assert fig.layout.xaxis.title.text == "seconds since the run started"
    assert fig.layout.yaxis.tickformat == ".0%"
    # One colour per run, newest first; the newest stands out; the end mark says how the run ended.
    assert newest_trace.line.color == RUN_COLORS[0] and by_name[run_label(older)].line.color == RUN_COLORS[1]
    assert newest_trace.line.width == HIGHLIGHT_WIDTH
    assert newest_trace.marker.symbol == RUNNING_SYMBOL
    assert by_name[run_label(older)].marker.symbol == END_SYMBOLS[RunState.SUCCESS]
    assert by_name[run_label(oldest)].marker.symbol == END_SYMBOLS[RunState.FAILED]
    assert list(newest_trace.marker.size) == [0, 9]  # a mark at the end only


def test_run_labels_name_the_start_and_the_state() -> None:
    label = run_label(run("r1", 0, "success", [(0, 0)]))
    assert label == f"started {local(0):%m-%d %H:%M} · success"
    no_start = RunProgress(run=RunSummary(run_id="manual__x", state="queued"), points_total=1)
    assert run_label(no_start) == "manual__x · queued"


def test_run_comparison_picks_minutes_or_hours_and_the_highlighted_run() -> None:
    long_run = run("a", 0, "success", [(0, 0), (5 * 3600, 10)])
    short_run = run("b", 0, "success", [(0, 0), (600, 10)])
    fig = run_comparison([short_run, long_run], highlight="a")
    assert fig.layout.xaxis.title.text == "hours since the run started"
    widths = sorted((list(trace.x)[-1], trace.line.width) for trace in fig.data)  # 10 min (b), 5 h (a)
    assert widths == [(pytest.approx(1 / 6), LINE_WIDTH), (5, HIGHLIGHT_WIDTH)]
    minutes = run_comparison([short_run, run("c", 0, "success", [(0, 0), (90, 1)])])
    assert minutes.layout.xaxis.title.text == "minutes since the run started"
    assert max(list(minutes.data[-1].x) + list(minutes.data[0].x)) == 10


def test_run_comparison_without_progress_says_so() -> None:
    fig = run_comparison([run("a", 0, "queued", [(0, 0)])])
    assert not fig.data and note(fig) == "no run has finished points yet"
    assert not run_comparison([]).data
