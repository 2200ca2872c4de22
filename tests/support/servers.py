"""Real PostgreSQL and Redis servers for the tests, from Debian's `postgresql` and `redis-server` packages.

Each server is a throwaway: its own data folder and a free loopback port, stopped (and its folder removed)
when the context exits. `scripts/bootstrap.sh --dev` installs both packages. PostgreSQL refuses to run as
root, so as root its commands run as the `postgres` user the package created.
"""

from scripts.throwaway_servers import (  # noqa: F401 - the tests' names for them
    POSTGRES_DB,
    POSTGRES_USER,
    STARTUP_TIMEOUT_S,
    postgres_bin,
    postgres_server,
    redis_server,
)
