"""The Configure page's frame: its ids, labels and cards (re-rendered parts are in configure_view)."""

from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import dcc, html

from airflow_backtest_framework.catalog import FACTORS, STRATEGIES
from airflow_backtest_framework.data_source_spec import DATA_SOURCE_LABELS
from airflow_backtest_framework.grid import GRID_HELP
from components.cards import make_card
from components.sweep_form import DEPLOYMENT_DEFAULT, FORM_FIELDS, LAGS_FIELD

DEBOUNCE_MS = 300


class ConfigureIds:
    STRATEGY = "configure-strategy"
    STRATEGY_HELP = "configure-strategy-help"
    PARAMS = "configure-params"
    DRAFT = "configure-draft"  # localStorage: the raw form, valid or not
    APPLY = "configure-apply"  # bumped to write the draft into the fields (page load, clone, reset)
    SAVED = "configure-saved"  # the SweepRecord last saved from this page
    GRID = "configure-grid"
    SAVE = "configure-save"
    SAVE_REASON = "configure-save-reason"
    RESET = "configure-reset"
    NAME_HINT = "configure-name-hint"
    CLONE_SELECT = "configure-clone-select"
    CLONE = "configure-clone"
    CLONE_FROM = "configure-clone-from"  # `/?clone=<name>` (the Sweeps page's Clone button)
    PREVIEW_TOGGLE = "configure-preview-toggle"
    PREVIEW_COLLAPSE = "configure-preview-collapse"
    PREVIEW = "configure-preview"
    TOASTS = "configure-toasts"
    ALERT = "configure-alert"
    GRID_SUMMARY = "configure-grid-summary"
    DATA_HINT = "configure-data-hint"  # what the chosen source covers of the universe and period
    DATA_FOLDER_FIELD = "configure-data-folder-field"  # shown only for the folder source
    GRID_MESSAGE = "configure-grid-message"
    SETTINGS = "configure-settings"  # the accordion of Execution & costs and Validation
    LAGS = "configure-lags"  # one lag input per chosen factor
    HOLDOUT_FIELDS = "configure-holdout-fields"  # shown for the holdout scheme only
    WALK_FORWARD_FIELDS = "configure-walk-forward-fields"  # folds and windows: walk-forward only
    WINDOWS_FIELD = "configure-windows-field"
    LAG = "configure-lag"  # pattern-matching type of a factor's lag input (see `lag`)
    # Pattern-matching types of one parameter row's parts (see `param`).
    PARAM = "configure-param"
    PARAM_FEEDBACK = "configure-param-feedback"
    PARAM_VALUES = "configure-param-values"

    @staticmethod
    def param(kind: str, strategy: str, name: str) -> dict[str, str]:
        """Pattern-matching id of one parameter row's part; the strategy keeps switching unambiguous."""
        return {"type": kind, "strategy": strategy, "name": name}

    @staticmethod
    def lag(factor: str) -> dict[str, str]:
        return {"type": ConfigureIds.LAG, "factor": factor}

    @staticmethod
    def field(name: str) -> str:
        return "configure-" + name.replace("_", "-")

    @staticmethod
    def feedback(name: str) -> str:
        return ConfigureIds.field(name) + "-feedback"


LABELS = {
    "strategy": "Strategy",
    "universe": "Universe",
    "factors": "Factors",
    "start_date": "Start date",
    "end_date": "End date",
    "initial_capital": "Initial capital",
    "points_per_task": "Points per task",
    "name": "Name",
    "owner": "Owner",
    "description": "Description",
    "data_source": "Data source",
    "data_folder": "Data folder",
    "fill": "Fill",
    "commission_bps": "Commission",
    "slippage_bps": "Slippage",
    "borrow_bps": "Borrow",
    "risk_free_rate": "Risk-free rate",
    "benchmark": "Benchmark",
    LAGS_FIELD: "Factor lags",
    "validation_scheme": "Validation scheme",
    "validation_out_of_sample": "Out-of-sample share",
    "validation_folds": "Folds",
    "validation_windows": "Windows",
    "validation_pbo_blocks": "PBO blocks",
    "space_filling": "Space-filling run order",
    "params": "Parameter grid",
    "spec": "Sweep",
}
INVALID_FIELDS = tuple(f for f in FORM_FIELDS if f != "factors")  # a dropdown has no invalid state
GRID_SYNTAX = f"Each parameter takes a grid expression: {GRID_HELP}."


def make_field(
    label: str, control, feedback_id: str, help_text: str = "", hint_id: str | None = None
) -> html.Div:
    """A label, its control, a message line (red when invalid) and optional help."""
    parts = [
        dbc.Label(label, class_name="bt-label"),
        control,
        html.Div(id=feedback_id, className="bt-feedback"),
    ]
    if hint_id:
        parts.append(html.Div(id=hint_id, className="bt-hint"))
    if help_text:
        parts.append(html.Div(help_text, className="bt-help"))
    return html.Div(parts, className="bt-field")


def _input(name: str, **kwargs) -> dbc.Input:
    return dbc.Input(
        id=ConfigureIds.field(name), debounce=DEBOUNCE_MS, size="sm", autocomplete="off", **kwargs
    )


def _strategy_card() -> dbc.Card:
    options = [{"label": name, "value": name} for name in STRATEGIES]
    return make_card(
        "Strategy and parameter grid",
        [
            dbc.Row(
                [
                    dbc.Col(
                        make_field(
                            "Strategy",
                            dbc.Select(id=ConfigureIds.STRATEGY, options=options, size="sm"),
                            ConfigureIds.feedback("strategy"),
                        ),
                        md=6,
                    ),
                    dbc.Col(html.Div(id=ConfigureIds.STRATEGY_HELP, className="bt-strategy-help"), md=6),
                ],
                class_name="g-3 mb-2",
            ),
            html.Div(id=ConfigureIds.PARAMS),
            html.Div(GRID_SYNTAX, className="bt-help mt-3"),
        ],
    )


SOURCE_HELP = (
    "The sample: daily OHLC of AAPL, FB, GOOG, IBM, MSFT (2000-03 to 2013-03), no factors. "
    "Synthetic data is for plumbing and load tests only."
)
SOURCE_OPTIONS = [
    *({"label": text, "value": name} for name, text in DATA_SOURCE_LABELS.items()),
    {"label": "Deployment default (synthetic unless set)", "value": DEPLOYMENT_DEFAULT},
]


def _source_row() -> dbc.Row:
    return dbc.Row(
        [
            dbc.Col(
                make_field(
                    "Data source",
                    dbc.Select(id=ConfigureIds.field("data_source"), options=SOURCE_OPTIONS, size="sm"),
                    ConfigureIds.feedback("data_source"),
                    SOURCE_HELP,
                    hint_id=ConfigureIds.DATA_HINT,
                ),
                md=6,
            ),
            dbc.Col(
                html.Div(
                    make_field(
                        "Data folder",
                        _input("data_folder", placeholder="/data/daily_bars", class_name="bt-mono"),
                        ConfigureIds.feedback("data_folder"),
                        "Where the engine runs: one <SYMBOL>.csv or .parquet per symbol "
                        "(date, close; optionally open, high, low; one column per factor).",
                    ),
                    id=ConfigureIds.DATA_FOLDER_FIELD,
                ),
                md=6,
            ),
        ],
        class_name="g-3 mb-1",
    )


def _data_card() -> dbc.Card:
    factor_options = [{"label": f"{name} — {text}", "value": name} for name, text in FACTORS.items()]
    return make_card(
        "Data, universe, factors and period",
        [
            _source_row(),
            dbc.Row(
                [
                    dbc.Col(
                        make_field(
                            "Universe",
                            dbc.Textarea(
                                id=ConfigureIds.field("universe"),
                                debounce=True,
                                rows=2,
                                size="sm",
                                class_name="bt-mono",
                            ),
                            ConfigureIds.feedback("universe"),
                            "Ticker symbols separated by commas or spaces, e.g. AAPL, MSFT, BRK.B",
                        ),
                        md=6,
                    ),
                    dbc.Col(
                        make_field(
                            "Factors",
                            dcc.Dropdown(
                                id=ConfigureIds.field("factors"),
                                options=factor_options,
                                multi=True,
                                placeholder="None",
                            ),
                            ConfigureIds.feedback("factors"),
                            "Optional signals fed to the strategy.",
                        ),
                        md=6,
                    ),
                ],
                class_name="g-3",
            ),
            dbc.Row(
                [
                    dbc.Col(
                        make_field(
                            "Start date",
                            _input("start_date", type="date"),
                            ConfigureIds.feedback("start_date"),
                        ),
                        sm=6,
                        lg=3,
                    ),
                    dbc.Col(
                        make_field(
                            "End date", _input("end_date", type="date"), ConfigureIds.feedback("end_date")
                        ),
                        sm=6,
                        lg=3,
                    ),
                    dbc.Col(
                        make_field(
                            "Initial capital",
                            _input("initial_capital", type="number", min=0),
                            ConfigureIds.feedback("initial_capital"),
                        ),
                        sm=6,
                        lg=3,
                    ),
                    dbc.Col(
                        make_field(
                            "Points per task",
                            _input("points_per_task", type="number", min=1, step=1, placeholder="automatic"),
                            ConfigureIds.feedback("points_per_task"),
                        ),
                        sm=6,
                        lg=3,
                    ),
                ],
                class_name="g-3 mt-1",
            ),
        ],
    )


def _sweep_card() -> dbc.Card:
    return make_card(
        "Sweep",
        dbc.Row(
            [
                dbc.Col(
                    make_field(
                        "Name",
                        _input("name", placeholder="e.g. mr_spy_2024", class_name="bt-mono"),
                        ConfigureIds.feedback("name"),
                        "The DAG id is backtest_<name>.",
                        hint_id=ConfigureIds.NAME_HINT,
                    ),
                    md=6,
                ),
                dbc.Col(
                    make_field(
                        "Owner",
                        _input("owner"),
                        ConfigureIds.feedback("owner"),
                        "A sweep belongs to whoever saves it (the signed-in user): this field is not used",
                    ),
                    md=6,
                ),
                dbc.Col(
                    make_field(
                        "Description",
                        dbc.Textarea(id=ConfigureIds.field("description"), debounce=True, rows=2, size="sm"),
                        ConfigureIds.feedback("description"),
                    ),
                    md=12,
                ),
            ],
            class_name="g-3",
        ),
    )


def _side_panel() -> html.Div:
    return html.Div(
        [
            make_card(
                "Grid",
                [
                    html.Div(id=ConfigureIds.GRID),
                    dbc.Button(
                        "Save sweep",
                        id=ConfigureIds.SAVE,
                        color="primary",
                        disabled=True,
                        class_name="w-100 mt-2",
                    ),
                    html.Div(id=ConfigureIds.SAVE_REASON, className="bt-help mt-1"),
                    html.Div(id=ConfigureIds.ALERT, className="mt-2"),
                ],
            ),
            make_card(
                "Clone a saved sweep",
                [
                    dbc.InputGroup(
                        [
                            dbc.Select(id=ConfigureIds.CLONE_SELECT, placeholder="Saved sweeps…"),
                            dbc.Button("Clone", id=ConfigureIds.CLONE, color="secondary", outline=True),
                        ],
                        size="sm",
                    ),
                    html.Div("Loads its spec into the form under a new name.", className="bt-help mt-1"),
                    dbc.Button(
                        "Reset form to defaults",
                        id=ConfigureIds.RESET,
                        color="link",
                        size="sm",
                        class_name="px-0 mt-2",
                    ),
                ],
            ),
        ],
        className="bt-sticky",
    )


def make_configure_layout(clone: str | None = None, settings=None) -> html.Div:
    """The form; `clone` names a saved sweep to load into it under a new name (`/?clone=<name>`);
    `settings`: the Execution & costs and Validation sections (configure_settings), under the data."""
    return html.Div(
        [
            dcc.Store(id=ConfigureIds.CLONE_FROM, data=clone or None),
            dcc.Store(id=ConfigureIds.DRAFT, storage_type="local"),
            dcc.Store(id=ConfigureIds.APPLY, data=0),
            dcc.Store(id=ConfigureIds.SAVED),
            html.Div(id=ConfigureIds.TOASTS, className="bt-toasts"),
            html.H1("Configure a sweep", className="bt-page-title"),
            dbc.Row(
                [
                    dbc.Col([_strategy_card(), _data_card(), settings, _sweep_card()], lg=8),
                    dbc.Col(_side_panel(), lg=4),
                ],
                class_name="g-3",
            ),
            make_card(
                dbc.Button(
                    "Generated DAG file ▸",
                    id=ConfigureIds.PREVIEW_TOGGLE,
                    color="link",
                    size="sm",
                    class_name="bt-card-toggle",
                ),
                dcc.Loading(html.Div(id=ConfigureIds.PREVIEW)),
                collapse_id=ConfigureIds.PREVIEW_COLLAPSE,
            ),
        ],
        className="bt-page",
    )
