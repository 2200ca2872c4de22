"""`python -m services.connections`."""

import sys

from services.connections.cli import main

sys.exit(main())
