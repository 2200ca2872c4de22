"""The Results page's validation panel: the plain verdict first, then in-sample vs out-of-sample, the PBO
logits and parameter importance; the heatmap's raw/smoothed switch and the top-N table's ranking choice."""

from __future__ import annotations

import math

import dash_bootstrap_components as dbc
from dash import dcc, html

from airflow_backtest_framework.validation_report import ValidationReport
from components.cards import TALL_CARD_CLASS, make_card
from components.figures import blank
from components.figures_results import metric_label
from components.figures_validation import VALIDATION_COLORS
from components.monitor_layout import GRAPH_CONFIG
from services.validation_export import IN_SAMPLE_COLUMN, OUT_OF_SAMPLE_COLUMN, SMOOTHED_COLUMN

PANEL_GRAPH_HEIGHT = "320px"
PARTIAL_PREFIX = "partial:"  # validation.verdict's first line while the sweep runs
RAW, SMOOTH = "raw", "smoothed"
FULL_PERIOD = "full"  # the top-N ranking by the chosen metric over the whole period
RANKINGS = (FULL_PERIOD, IN_SAMPLE_COLUMN, OUT_OF_SAMPLE_COLUMN, SMOOTHED_COLUMN)  # the table's columns
RANKING_LABELS = {
    FULL_PERIOD: "full period",
    IN_SAMPLE_COLUMN: "in-sample Sharpe",
    OUT_OF_SAMPLE_COLUMN: "out-of-sample Sharpe",
    SMOOTHED_COLUMN: "smoothed Sharpe (robust)",
}


class ValidationIds:
    VERDICT = "results-verdict"
    SCATTER = "results-is-oos"
    LOGITS = "results-pbo-logits"
    IMPORTANCE = "results-importance"
    HEATMAP_MODE = "results-heatmap-mode"
    RANK_BY = "results-rank-by"
    RANK_NOTE = "results-rank-note"
    JSON = "results-json"


def _graph(graph_id: str) -> dcc.Graph:
    return dcc.Graph(id=graph_id, figure=blank(), config=GRAPH_CONFIG, style={"height": PANEL_GRAPH_HEIGHT})


def _legend() -> html.Div:
    """The shared colour map in words, once for the three figures."""
    keys = (
        ("point", "grid point"),
        ("in_sample_best", "★ in-sample best"),
        ("robust_best", "★ robust best (smoothed)"),
        ("reference", "dashed: out-of-sample = in-sample; logit 0 = the OOS median"),
        ("overfit", "split whose IS best fell to the OOS median or below"),
        ("holds", "split whose IS best stayed above it"),
    )
    return html.Div(
        [
            html.Span(
                [html.Span(className="bt-val-swatch", style={"background": VALIDATION_COLORS[k]}), text]
            )
            for k, text in keys
        ],
        className="bt-val-legend",
    )


def make_validation_card() -> dbc.Card:
    """The panel's frame: the verdict, then the three figures side by side on wide screens."""
    figures = dbc.Row(
        [
            dbc.Col(
                [
                    html.Div("In-sample vs out-of-sample", className="bt-val-title"),
                    _graph(ValidationIds.SCATTER),
                ],
                lg=5,
            ),
            dbc.Col(
                [
                    html.Div("Overfitting (CSCV logits)", className="bt-val-title"),
                    _graph(ValidationIds.LOGITS),
                ],
                lg=4,
            ),
            dbc.Col(
                [
                    html.Div("Parameter importance", className="bt-val-title"),
                    _graph(ValidationIds.IMPORTANCE),
                ],
                lg=3,
            ),
        ],
        class_name="g-3",
    )
    body = [html.Div(id=ValidationIds.VERDICT, className="bt-val-verdict"), figures, _legend()]
    return make_card("Validation", body, class_name=TALL_CARD_CLASS)


def make_heatmap_mode() -> dbc.RadioItems:
    return dbc.RadioItems(
        id=ValidationIds.HEATMAP_MODE,
        options=[{"label": "raw", "value": RAW}, {"label": "smoothed", "value": SMOOTH}],
        value=RAW,
        inline=True,
        class_name="bt-val-mode ms-auto",
    )


def make_rank_by() -> html.Div:
    return html.Div(
        [
            html.Span("rank by", className="bt-help"),
            dcc.Dropdown(
                id=ValidationIds.RANK_BY,
                options=[{"label": RANKING_LABELS[r], "value": r} for r in RANKINGS],
                value=FULL_PERIOD,
                clearable=False,
                className="bt-val-rank",
            ),
            html.Span(id=ValidationIds.RANK_NOTE, className="bt-help"),
        ],
        className="bt-val-rank-row",
    )


def ranking_label(ranking: str, metric: str) -> str:
    return f"{metric_label(metric)}, full period" if ranking == FULL_PERIOD else RANKING_LABELS[ranking]


def make_verdict(lines: list[str], report: ValidationReport | None, reason: str = "") -> list:
    """The plain verdict (validation.verdict's sentences: a running sweep's "partial: ..." first, then
    DSR, PBO, ..., then why any block is missing); without a report, why there is none."""
    if report is None:
        return [html.P(reason or "No validation report for this run.", className="bt-val-missing")]
    children: list = []
    for line in lines:
        if line.startswith(PARTIAL_PREFIX):
            children.append(dbc.Badge(line, color="warning", class_name="bt-val-partial"))
        elif line in report.notes:
            children.append(html.P(line, className="bt-val-note bt-help"))
        else:
            children.append(html.P(line, className="bt-val-line"))
    inputs = method_lines(report)
    if inputs:
        children.append(
            html.Details(
                [html.Summary("How these were computed"), html.Ul([html.Li(line) for line in inputs])],
                className="bt-val-inputs bt-help",
            )
        )
    return children


def method_lines(report: ValidationReport) -> list[str]:
    """What each statistic was computed from, in words: the scheme, the deflated Sharpe's inputs, CSCV's
    blocks, the smoothing neighbourhood and the importance method."""
    scale = math.sqrt(report.bars_per_year)
    lines = []
    if report.scheme.segments:
        spans = ", ".join(
            f"{s.get('name', '')} {s.get('start', '')} to {s.get('end', '')}" for s in report.scheme.segments
        )
        lines.append(f"Scheme {report.scheme.kind}: {spans}.")
    d = report.deflated_sharpe
    if d is not None:
        lines.append(
            f"Deflated Sharpe of point {d.point}: Sharpe {d.sharpe_annualised:.2f} annualised "
            f"({d.sharpe:.4f} per bar) against SR0 = {d.expected_max_sharpe * scale:.2f} annualised, "
            f"the expected best of N = {d.trials:,} noise trials with V[SR] = {d.sharpe_variance:.2e} "
            f"per bar; skewness {d.skewness:.2f}, kurtosis {d.kurtosis:.2f}, T = {d.observations:,} "
            f"returns; PSR {d.psr:.2f}, DSR {d.dsr:.2f}."
        )
    for fold in report.segments.folds if report.segments is not None else []:
        lines.append(
            f"Walk-forward fold {fold.fold}: its in-sample window chose point {fold.best_in_sample_point} "
            f"(Sharpe {fold.in_sample * scale:.2f} in sample, {fold.out_of_sample * scale:.2f} out of "
            f"sample, above {fold.oos_percentile:.0%} of the points out of sample)."
        )
    if report.overfitting is not None:
        o = report.overfitting
        lines.append(
            f"PBO by CSCV: S = {o.blocks} blocks, {o.combinations:,} in-sample/out-of-sample splits."
        )
    if report.robustness is not None:
        lines.append(f"Smoothed metric: the mean over {report.robustness.neighbourhood}.")
    if report.importance is not None:
        lines.append(f"Parameter importance: {report.importance.method}.")
    return lines
