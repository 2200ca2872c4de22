"""Figure builders: one colour per state everywhere, counts and coverage placed where they belong."""

from __future__ import annotations

import numpy as np
import pandas as pd

from components.figures import (
    coverage_heatmap,
    coverage_matrix,
    metric_heatmap,
    progress_strip,
    state_bar,
    template,
)
from components.states import STATE_STYLES, TONE_COLORS, Tone, state_color, state_name, state_style
from services.airflow.models import RunState, TaskState
from services.aws.batch import BatchJobStatus
from services.models import PointState
from tests.support.fake_sweep_progress import point_states
from tests.support.sweeps import small_sweep


def test_every_point_state_has_a_distinct_colour():
    colours = [state_color(s) for s in PointState]

    assert len(set(colours)) == len(PointState)


def test_every_state_of_every_enum_has_a_style():
    for kind in (PointState, TaskState, RunState):
        assert set(STATE_STYLES[kind]) == set(kind), kind


def test_airflow_task_states_share_the_point_palette():
    assert state_color(TaskState.SUCCESS) == state_color(PointState.DONE)
    assert state_color(TaskState.UPSTREAM_FAILED) == state_color(PointState.FAILED)
    assert state_color(TaskState.SCHEDULED) == state_color(PointState.QUEUED)
    assert state_color(RunState.SUCCESS) == state_color(PointState.DONE)
    assert state_color(TaskState.parse("something_new")) == TONE_COLORS[Tone.UNKNOWN]


def test_a_state_outside_the_table_is_drawn_as_unknown_not_a_crash():
    assert (
        state_style(BatchJobStatus.RUNNING).tone is Tone.UNKNOWN
    )  # Batch states go through POINT_STATE_OF_JOB
    assert state_name(TaskState.UP_FOR_RETRY) == "up for retry"
    assert state_name(BatchJobStatus.SUCCEEDED) == "succeeded"


def test_state_bar_draws_each_task_state_in_its_colour():
    fig = state_bar(
        {TaskState.SUCCESS: 3, TaskState.FAILED: 1, TaskState.UPSTREAM_FAILED: 2, TaskState.RUNNING: 4}
    )

    bar = fig.data[0]
    by_label = dict(zip(bar.y, bar.x, strict=True))
    colours = dict(zip(bar.y, bar.marker.color, strict=True))
    assert by_label == {"Upstream failed": 2, "Failed": 1, "Running": 4, "Success": 3}
    assert colours["Success"] == state_color(PointState.DONE)
    assert colours["Failed"] == colours["Upstream failed"] == state_color(PointState.FAILED)
    assert list(bar.y)[-1] == "Success"  # legend order, first state on top


def test_empty_state_bar_says_so():
    fig = state_bar({})

    assert fig.layout.annotations[0].text == "no tasks yet"


def test_progress_strip_shares_add_up_and_fill_missing_points():
    fig = progress_strip([PointState.DONE] * 3 + [PointState.FAILED], total=10)

    shares = {trace.name: trace.x[0] for trace in fig.data}
    assert shares == {"Done": 0.3, "Failed": 0.1, "Not started": 0.6}
    assert {trace.marker.color for trace in fig.data} <= set(TONE_COLORS.values())


def test_coverage_matrix_places_points_like_point_indices():
    config = small_sweep()  # lookback 3 values × entry 2 values × 1 × 1
    states = [PointState.NOT_STARTED] * config.grid_size
    target = 4
    states[target] = PointState.DONE
    lookback, entry = config.point_indices(target)[:2]

    done, failed, total = coverage_matrix(config, states, "lookback_period", "entry_threshold")

    assert total.shape == (2, 3) and total.sum() == config.grid_size
    assert done[entry, lookback] == 1 and done.sum() == 1
    assert failed.sum() == 0


def test_coverage_heatmap_aggregates_the_other_parameters():
    config = small_sweep(
        params={
            "lookback_period": "20,30",
            "entry_threshold": "2,3",
            "stop_loss_pct": "0.05,0.1",
            "cooldown_period": "5",
        }
    )
    states = point_states(config.grid_size, 0.5)  # the first half of the points done

    fig = coverage_heatmap(config, states, "lookback_period", "stop_loss_pct")

    z = np.asarray(fig.data[0].z)
    assert list(fig.data[0].x) == ["20", "30"] and list(fig.data[0].y) == ["0.05", "0.1"]
    assert z[:, 0].tolist() == [1.0, 1.0] and z[:, 1].tolist() == [0.0, 0.0]


def test_metric_heatmap_shows_the_mean_over_other_parameters():
    config = small_sweep()
    rows = [{**config.point(i), "sharpe": float(i)} for i in range(config.grid_size)]

    fig = metric_heatmap(config, pd.DataFrame(rows), "lookback_period", "entry_threshold", "sharpe")

    z = np.asarray(fig.data[0].z)
    for i in range(config.grid_size):
        lookback, entry = config.point_indices(i)[:2]
        assert z[entry, lookback] == i
    assert fig.data[0].zmid == 0


def test_metric_heatmap_without_results_is_an_empty_note():
    fig = metric_heatmap(small_sweep(), pd.DataFrame(), "lookback_period", "entry_threshold", "sharpe")

    assert not fig.data and "no sharpe results yet" in fig.layout.annotations[0].text


def test_dark_template_uses_light_text():
    assert template("dark").layout.font.color != template("light").layout.font.color
