"""Configure's "Execution & costs" and "Validation" sections, and one lag field per chosen factor."""

from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import html

from airflow_backtest_framework.execution_spec import (
    BENCHMARK_UNIVERSE,
    FILL_NEXT_OPEN,
    MAX_FACTOR_LAG_BARS,
    RISK_FREE_RANGE,
)
from airflow_backtest_framework.validation_spec import (
    FOLDS_RANGE,
    OUT_OF_SAMPLE_RANGE,
    PBO_BLOCKS_RANGE,
    SCHEME_HOLDOUT,
    SCHEME_NONE,
    SCHEME_WALK_FORWARD,
    WINDOWS,
)
from components.configure_layout import DEBOUNCE_MS, LABELS, ConfigureIds, make_field
from components.spec_text import FILL_LABELS
from components.sweep_form import EXECUTION_FIELDS, FORM_FIELDS, LAGS_FIELD, VALIDATION_FIELDS

FILL_OPTIONS = [
    {"label": text[0].upper() + text[1:] + (" (default)" if fill == FILL_NEXT_OPEN else ""), "value": fill}
    for fill, text in FILL_LABELS.items()
]
# On/off spec fields: a switch's value is a bool, never wrong, so no invalid state and no message line.
SWITCH_FIELDS = ("space_filling",)
VALUE_FIELDS = (*FORM_FIELDS, *SWITCH_FIELDS)  # every field whose `value` the draft holds, by its name
SCHEME_OPTIONS = [
    {"label": "Holdout: in-sample, then out-of-sample", "value": SCHEME_HOLDOUT},
    {"label": "Walk-forward folds", "value": SCHEME_WALK_FORWARD},
    {"label": "None: the full period only", "value": SCHEME_NONE},
]


def _label(name: str, unit: str) -> list:
    return [LABELS[name], html.Span(unit, className="bt-unit ms-1")]


def _number(name: str, unit: str, help_text: str) -> html.Div:
    """A number field without the browser's min/max (an input outside them reads as NaN): the spec's
    own message says what is wrong."""
    control = dbc.Input(
        id=ConfigureIds.field(name),
        type="number",
        debounce=DEBOUNCE_MS,
        size="sm",
        autocomplete="off",
        step="any",
    )
    return make_field(_label(name, unit), control, ConfigureIds.feedback(name), help_text)


def _select(name: str, options: list, help_text: str = "") -> html.Div:
    control = dbc.Select(id=ConfigureIds.field(name), options=options, size="sm")
    return make_field(LABELS[name], control, ConfigureIds.feedback(name), help_text)


def _execution_body() -> list:
    low, high = RISK_FREE_RANGE
    costs = [
        _number("commission_bps", "bps per side", "Charged on every traded notional."),
        _number("slippage_bps", "bps per side", "Price impact against each fill."),
        _number("borrow_bps", "bps a year", "Fee on short notional."),
        _number("risk_free_rate", "a year", f"A fraction, 0.02 = 2 % ({low:g} to {high:g})."),
    ]
    benchmark = dbc.Input(
        id=ConfigureIds.field("benchmark"),
        debounce=DEBOUNCE_MS,
        size="sm",
        autocomplete="off",
        placeholder=BENCHMARK_UNIVERSE,
        class_name="bt-mono",
    )
    return [
        dbc.Row(
            [
                dbc.Col(
                    _select(
                        "fill",
                        FILL_OPTIONS,
                        "When an order decided at a bar's close fills. Same close trades at the price "
                        "the signal was computed from: optimistic, and labelled so on every result.",
                    ),
                    md=6,
                ),
                dbc.Col(
                    make_field(
                        LABELS["benchmark"],
                        benchmark,
                        ConfigureIds.feedback("benchmark"),
                        f"A symbol of the universe, or '{BENCHMARK_UNIVERSE}' (equal-weighted): "
                        "alpha, beta and information ratio are measured against it.",
                    ),
                    md=6,
                ),
            ],
            class_name="g-3",
        ),
        dbc.Row([dbc.Col(field, sm=6, lg=3) for field in costs], class_name="g-3 mt-1"),
        html.Div(
            [
                dbc.Label(_label(LAGS_FIELD, "bars"), class_name="bt-label"),
                html.Div(id=ConfigureIds.LAGS),
                html.Div(id=ConfigureIds.feedback(LAGS_FIELD), className="bt-feedback"),
                html.Div(
                    "Publication lag per chosen factor: a value dated t is used from bar t + lag "
                    f"(0 to {MAX_FACTOR_LAG_BARS}; empty means 0).",
                    className="bt-help",
                ),
            ],
            className="bt-field mt-2",
        ),
        html.Div(
            [
                dbc.Switch(
                    id=ConfigureIds.field("space_filling"),
                    label=LABELS["space_filling"],
                    value=True,  # the spec's default; a loaded draft sets it
                    class_name="mb-0",
                ),
                html.Div(
                    "Runs grid points spread over the whole grid first, so a running sweep's heatmap "
                    "covers it early; off: grid order.",
                    className="bt-help",
                ),
            ],
            className="bt-field mt-2",
        ),
    ]


def _validation_body() -> dbc.Row:
    oos_low, oos_high = OUT_OF_SAMPLE_RANGE
    folds_low, folds_high = FOLDS_RANGE
    blocks_low, blocks_high = PBO_BLOCKS_RANGE
    windows = [{"label": w.capitalize(), "value": w} for w in WINDOWS]
    holdout = _number(
        "validation_out_of_sample",
        "share of the bars",
        f"The last part of the period, judged out of sample ({oos_low:g} to {oos_high:g}).",
    )
    folds = _number("validation_folds", "folds", f"{folds_low} to {folds_high}.")
    blocks = _number(
        "validation_pbo_blocks",
        "S, even",
        f"Blocks of CSCV for the overfitting probability ({blocks_low} to {blocks_high}).",
    )
    wf_windows = _select("validation_windows", windows, "Rolling: the block before; anchored: all.")
    return dbc.Row(
        [
            dbc.Col(_select("validation_scheme", SCHEME_OPTIONS), sm=6, lg=4),
            # The scheme's own fields: their columns hide, so the others close up (pages/configure.py).
            dbc.Col(holdout, id=ConfigureIds.HOLDOUT_FIELDS, sm=6, lg=5),
            dbc.Col(folds, id=ConfigureIds.WALK_FORWARD_FIELDS, sm=6, lg=2),
            dbc.Col(wf_windows, id=ConfigureIds.WINDOWS_FIELD, sm=6, lg=3),
            dbc.Col(blocks, sm=6, lg=3),
        ],
        class_name="g-3",
    )


SECTION_FIELDS = {"execution": (*EXECUTION_FIELDS, LAGS_FIELD), "validation": VALIDATION_FIELDS}


def sections_to_open(errors: dict[str, str], active: list[str] | str | None) -> list[str] | None:
    """The open sections plus each closed one holding a field in error (so its message is seen);
    None when no closed section needs opening (the user's choice stands)."""
    current = [active] if isinstance(active, str) else list(active or [])
    wrong = [s for s, fields in SECTION_FIELDS.items() if any(f in errors for f in fields)]
    closed = [s for s in wrong if s not in current]
    return current + closed if closed else None


def make_settings_sections() -> dbc.Accordion:
    """Execution & costs, and Validation: closed until opened, each field with its unit and help."""
    return dbc.Accordion(
        [
            dbc.AccordionItem(_execution_body(), title="Execution & costs", item_id="execution"),
            dbc.AccordionItem(_validation_body(), title="Validation", item_id="validation"),
        ],
        id=ConfigureIds.SETTINGS,
        always_open=True,
        start_collapsed=True,
        class_name="bt-settings mb-3",
    )


def make_lag_fields(factors: list[str], lags: dict[str, str]) -> html.Div | dbc.Row:
    """One lag input per chosen factor, showing what was typed for it."""
    if not factors:
        return html.Div("No factors chosen.", className="bt-help")
    return dbc.Row(
        [
            dbc.Col(
                dbc.InputGroup(
                    [
                        dbc.InputGroupText(name, class_name="bt-mono"),
                        dbc.Input(
                            id=ConfigureIds.lag(name),
                            value=lags.get(name, ""),
                            type="number",
                            step="any",  # no browser limits: the spec's own message says what is wrong
                            placeholder="0",
                            debounce=DEBOUNCE_MS,
                            autocomplete="off",
                        ),
                    ],
                    size="sm",
                ),
                sm=6,
                lg=4,
            )
            for name in factors
        ],
        class_name="g-2",
    )
