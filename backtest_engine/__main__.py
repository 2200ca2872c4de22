"""`python -m backtest_engine`: run one chunk of a sweep described by environment variables."""

import os
import sys

from backtest_engine.cli import configure_logging, main

if __name__ == "__main__":
    configure_logging(os.environ)
    sys.exit(main(os.environ))
