"""Run every benchmark (`python -m bench`, or `python -m bench core engine` for some); exit 1 on a miss."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
ORDER = (
    "core",
    "engine",
    "local",
    "large",
    "app",
    "wall",
    "results",
    "input",
    "auth",
    "validation",
    "history",
    "cluster",
)


def main(argv: list[str]) -> int:
    wanted = argv or [name for name in ORDER if (BENCH_DIR / f"bench_{name}.py").exists()]
    missed = []
    for name in wanted:
        print(f"== bench_{name}", flush=True)
        if subprocess.run([sys.executable, str(BENCH_DIR / f"bench_{name}.py")], check=False).returncode:
            missed.append(name)
    print("all targets met" if not missed else f"targets missed in: {', '.join(missed)}")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
