"""The layer contracts of `.importlinter`: the real tree keeps them, and a tree that breaks one fails."""

from __future__ import annotations

import configparser
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from services.settings import PROJECT_ROOT

CONTRACTS_FILE = PROJECT_ROOT / ".importlinter"
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"
CONTRACT_PREFIX = "importlinter:contract:"
LINT_TIMEOUT_S = 60
# lint-imports prints one line per contract: its name, then KEPT or BROKEN.
VERDICT = re.compile(r"^(?P<name>.+) (?P<verdict>KEPT|BROKEN)$", re.MULTILINE)

# A tree shaped like ours (pages/ and components/ namespace packages, app.py on top) whose imports keep
# every contract: each layer imports the one below, the engine and bench use what they may.
CLEAN_TREE = {
    "app.py": "import pages.home\n",
    "pages/home.py": "import dash\nimport components.home_view\n",
    "components/home_view.py": "import dash_bootstrap_components\nimport plotly\nimport services.ports\n",
    "services/__init__.py": "",
    "services/ports.py": "import boto3\nimport airflow_backtest_framework.config\n",
    "airflow_backtest_framework/__init__.py": "",
    "airflow_backtest_framework/config.py": "import pydantic\n",
    "backtest_engine/__init__.py": "",
    "backtest_engine/cli.py": "import airflow_backtest_framework.config\n",
    "bench/__init__.py": "",
    "bench/fixtures.py": "import services.ports\nimport backtest_engine.cli\n",
    "tests/__init__.py": "",
    "tests/test_app.py": "import app\nimport bench.fixtures\nimport pages.home\n",
}

# (module of the clean tree, the line added to it, the ids of the contracts that line breaks). Forbidden
# contracts follow chains: the framework importing dash_ag_grid also makes services (which import the
# framework) reach it.
BREAKS = [
    ("services/ports.py", "import dash", {"services-no-dash"}),
    ("services/ports.py", "from plotly import graph_objects", {"services-no-dash"}),
    ("services/ports.py", "import components.home_view", {"layers", "services-no-dash"}),
    ("services/ports.py", "import app", {"app-on-top"}),
    ("components/home_view.py", "import pages.home", {"layers"}),
    (
        "airflow_backtest_framework/config.py",
        "import dash_ag_grid",
        {"framework-no-dash", "services-no-dash"},
    ),
    (
        "airflow_backtest_framework/config.py",
        "import services.ports",
        {"layers", "framework-standalone", "engine-standalone"},
    ),
    ("airflow_backtest_framework/config.py", "import backtest_engine.cli", {"framework-standalone"}),
    ("backtest_engine/cli.py", "import services.ports", {"engine-standalone"}),
    ("bench/fixtures.py", "import tests.test_app", {"bench-own-fixtures"}),
    ("pages/home.py", "import tests.test_app", {"product-no-test-code", "app-on-top"}),
]


def contract_names() -> dict[str, str]:
    """Contract id -> the name lint-imports prints, read from the real `.importlinter`."""
    parser = configparser.ConfigParser()
    parser.read(CONTRACTS_FILE)
    return {
        section.removeprefix(CONTRACT_PREFIX): parser[section]["name"]
        for section in parser.sections()
        if section.startswith(CONTRACT_PREFIX)
    }


def lint_imports(root: Path) -> tuple[int, str, dict[str, str]]:
    """Run lint-imports on the tree at `root` with the real contracts: exit code, output, verdicts."""
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    env["PYTHONPATH"] = str(root)  # the tree's own packages, never the real ones of the project
    result = subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--no-logo", str(CONTRACTS_FILE)],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=LINT_TIMEOUT_S,
        check=False,
    )
    output = result.stdout + result.stderr
    verdicts = {match["name"]: match["verdict"] for match in VERDICT.finditer(output)}
    return result.returncode, output, verdicts


def write_tree(root: Path, extra: tuple[str, str] | None = None) -> None:
    for relative, text in CLEAN_TREE.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    if extra is not None:
        module, line = extra
        with (root / module).open("a") as file:
            file.write(line + "\n")


def test_the_real_tree_keeps_every_import_contract() -> None:
    """Fails when the project's own code breaks a layer: the output names the contract and the import."""
    code, output, verdicts = lint_imports(PROJECT_ROOT)
    assert code == 0, output
    assert verdicts == {name: "KEPT" for name in contract_names().values()}, output


def test_the_clean_model_tree_keeps_every_contract(tmp_path: Path) -> None:
    write_tree(tmp_path)
    code, output, verdicts = lint_imports(tmp_path)
    assert code == 0, output
    assert verdicts == {name: "KEPT" for name in contract_names().values()}, output


@pytest.mark.parametrize(("module", "line", "broken"), BREAKS, ids=[f"{m}: {line}" for m, line, _ in BREAKS])
def test_one_bad_import_breaks_the_contract_that_forbids_it(
    tmp_path: Path, module: str, line: str, broken: set[str]
) -> None:
    write_tree(tmp_path, (module, line))
    names = contract_names()
    code, output, verdicts = lint_imports(tmp_path)
    assert code != 0, output
    assert {name for name, verdict in verdicts.items() if verdict == "BROKEN"} == {
        names[contract] for contract in broken
    }, output
    assert len(verdicts) == len(names), output  # every contract was checked
