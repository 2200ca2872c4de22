"""Load a dags folder with Airflow's DagBag and print what it found as JSON (for tests and benchmarks).

Run in a fresh process: `python scripts/dagbag_probe.py <dags folder> [<file>]`, with AIRFLOW_HOME
pointing at a scratch folder and BACKTEST_EXECUTOR set as the Airflow processes would have it.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

REPORT_MARKER = "DAGBAG_REPORT "


def main(argv: list[str]) -> int:
    folder = Path(argv[1])
    target = Path(argv[2]) if len(argv) > 2 else folder
    sys.path.insert(0, str(folder))
    from airflow.dag_processing.dagbag import DagBag

    started = time.perf_counter()
    bag = DagBag(dag_folder=str(target), safe_mode=True)
    seconds = time.perf_counter() - started
    report = {
        "seconds": seconds,
        "import_errors": {str(k): v for k, v in bag.import_errors.items()},
        "dags": {
            dag_id: {
                "tasks": sorted(t.task_id for t in dag.tasks),
                "tags": sorted(dag.tags),
                "schedule": str(getattr(dag, "timetable", None).__class__.__name__),
                "catchup": dag.catchup,
                "start_date": dag.start_date.isoformat() if dag.start_date else None,
                "operators": {t.task_id: type(t).__name__ for t in dag.tasks},
                "upstream": {t.task_id: sorted(t.upstream_task_ids) for t in dag.tasks},
                "fileloc": dag.fileloc,
            }
            for dag_id, dag in bag.dags.items()
        },
    }
    # Airflow logs to stdout too: the report is the one line after this marker.
    print(REPORT_MARKER + json.dumps(report), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
