"""`python -m backtest_engine.load_market_data`: import CSV/Parquet folders and the sample into the database.

Run it, don't import it: an imported submodule of this name would replace the package's
`load_market_data` function (`backtest_engine.load_market_data`), so importing it is refused. The
logic lives in `backtest_engine.db_loader` (import that instead).
"""

import sys

if __name__ != "__main__":
    raise ImportError(
        "backtest_engine.load_market_data is a command: run python -m backtest_engine.load_market_data, "
        "or import backtest_engine.db_loader"
    )

from backtest_engine.db_loader import main

sys.exit(main())
