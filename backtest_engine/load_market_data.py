"""`python -m backtest_engine.load_market_data`: import CSV/Parquet folders and the sample into the database.

Run it, don't import it: importing this module would shadow the package's `load_market_data`
function (`backtest_engine.load_market_data`); the logic lives in `backtest_engine.db_loader`.
"""

import sys

from backtest_engine.db_loader import main

if __name__ == "__main__":
    sys.exit(main())
