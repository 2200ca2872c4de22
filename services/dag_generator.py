"""Render a SweepConfig into an Airflow DAG file (jinja2), checked with `ast` before it leaves."""

from __future__ import annotations

import ast
from functools import lru_cache

import jinja2

from airflow_backtest_framework.config import SweepConfig
from services.settings import PROJECT_ROOT

APP_VERSION = "0.1.0"
GENERATED_MARKER = "backtest-frontend-generated:"
TEMPLATE_NAME = "sweep_dag.py.j2"
TEMPLATES_DIR = PROJECT_ROOT / "templates"


class RenderError(Exception):
    """The rendered file is not the expected Python: a bug, never shown as a traceback to users."""


@lru_cache(maxsize=1)
def _template() -> jinja2.Template:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,  # Python source, not HTML: user text only ever enters as repr() literals
    )
    return env.get_template(TEMPLATE_NAME)


def dag_filename(config: SweepConfig) -> str:
    return f"{config.dag_id}.py"


def render_dag(config: SweepConfig) -> str:
    """The DAG file of a sweep: byte-identical for the same spec, the spec only as a string literal."""
    spec_json = config.to_json()
    text = _template().render(
        app_version=APP_VERSION,
        marker=GENERATED_MARKER,
        dag_id=config.dag_id,
        spec_hash=config.spec_hash,
        spec_literal=repr(spec_json),
    )
    _check(text, spec_json)
    return text


def _check(text: str, spec_json: str) -> None:
    """The file must parse and hold exactly one literal assignment and the factory call."""
    try:
        tree = ast.parse(text)
    except SyntaxError as exc:
        raise RenderError(f"generated DAG file does not parse: {exc.msg} (line {exc.lineno})") from None
    assigns = [node for node in tree.body if isinstance(node, ast.Assign)]
    spec_nodes = [a.value for a in assigns if any(getattr(t, "id", "") == "SPEC_JSON" for t in a.targets)]
    if (
        len(spec_nodes) != 1
        or not isinstance(spec_nodes[0], ast.Constant)
        or spec_nodes[0].value != spec_json
    ):
        raise RenderError("generated DAG file does not carry the spec as one string literal")
    calls = [node for node in ast.walk(tree) if isinstance(node, ast.Call)]
    if len(calls) != 1 or getattr(calls[0].func, "id", "") != "create_sweep_dag":
        raise RenderError("generated DAG file must call create_sweep_dag once and nothing else")


def generated_by_us(text: str) -> bool:
    """True when a DAG file's header says this app generated it."""
    return any(GENERATED_MARKER in line for line in text.splitlines()[:3])
