"""Sweep core: grid size and point lookup on a 10^6-point grid; DAG parse time vs grid size."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from airflow_backtest_framework import grid as grid_module
from airflow_backtest_framework.catalog import STRATEGIES
from airflow_backtest_framework.config import CONTEXT_MAX_GRID_POINTS, SweepConfig
from bench.common import failures, median_seconds, report
from services.dag_generator import dag_filename, render_dag
from services.framework_bundle import write_framework

MILLION = {
    "lookback_period": "2:501:100",
    "entry_threshold": "0.1:10:100",
    "stop_loss_pct": "0.01:0.5:10",
    "cooldown_period": "0:9:10",
}
HUNDRED_K = {
    "lookback_period": "2:501:100",
    "entry_threshold": "0.1:10:100",
    "stop_loss_pct": "0.01:0.5:10",
    "cooldown_period": "5",
}
TEN = {
    "lookback_period": "20:40:5",
    "entry_threshold": "2,3",
    "stop_loss_pct": "0.05",
    "cooldown_period": "5",
}
PARSE_ROUNDS = 15

PARSE_PROBE = """
import json, statistics, sys, time
from airflow.dag_processing.dagbag import DagBag
from airflow_backtest_framework import grid
files = sys.argv[1:]
times = {f: [] for f in files}
for f in files:
    DagBag(dag_folder=f, safe_mode=True)  # warm-up: imports the framework once
for _ in range(ROUNDS):
    for f in files:
        grid.expand_values.cache_clear()  # cold, as in the DAG processor's fresh process per parse
        t = time.perf_counter()
        bag = DagBag(dag_folder=f, safe_mode=True)
        times[f].append(time.perf_counter() - t)
        assert not bag.import_errors and len(bag.dags) == 1, bag.import_errors
print("PARSE " + json.dumps({f: statistics.median(v) for f, v in times.items()}))
"""


def sweep(params: dict[str, str], name: str) -> SweepConfig:
    data = {
        "name": name,
        "strategy": "MeanReversionStrategy",
        "params": params,
        "universe": "AAPL,MSFT",
        "start_date": "2020-01-01",
        "end_date": "2021-01-01",
    }
    return SweepConfig.model_validate(data, context={CONTEXT_MAX_GRID_POINTS: None})


def bench_grid() -> None:
    config = sweep(MILLION, "bench_million")
    assert config.grid_size == 1_000_000

    def cold_size() -> int:
        grid_module.expand_values.cache_clear()  # measure parsing the expressions, not the memo
        return sweep(MILLION, "bench_b").grid_size

    report("grid_size of a 10^6-point spec (validate + size)", median_seconds(cold_size) * 1e3, "ms", 5)
    report("grid_size property alone", median_seconds(lambda: config.grid_size, number=1000) * 1e3, "ms", 5)
    indices = range(0, 1_000_000, 997)
    per_point = median_seconds(lambda: [config.point(i) for i in indices]) / len(indices)
    report("point(i) on a 10^6-point grid", per_point * 1e6, "µs", 20)


def bench_parse() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "dags"
        write_framework(folder)
        files = []
        for params, name in ((TEN, "parse_small"), (HUNDRED_K, "parse_large")):
            config = sweep(params, name)
            path = folder / dag_filename(config)
            path.write_text(render_dag(config))
            files.append(str(path))
        env = {
            "AIRFLOW_HOME": str(Path(tmp) / "home"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "BACKTEST_EXECUTOR": "local",
            "PYTHONPATH": str(folder),
            "PATH": "/usr/bin:/bin",
        }
        code = PARSE_PROBE.replace("ROUNDS", str(PARSE_ROUNDS))
        out = subprocess.run(
            [sys.executable, "-c", code, *files], env=env, capture_output=True, text=True, check=True
        )
        medians = json.loads(next(line for line in out.stdout.splitlines() if line.startswith("PARSE "))[6:])
    small, large = medians[files[0]], medians[files[1]]
    print(f"DagBag parse, 10-point sweep: {small * 1e3:.1f} ms; 100,000-point sweep: {large * 1e3:.1f} ms")
    report("parse time ratio 100,000-point / 10-point", large / small, "x", 1.2)


def main() -> int:
    assert set(MILLION) == set(STRATEGIES["MeanReversionStrategy"].param_names)
    bench_grid()
    bench_parse()
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
