"""The throwaway PostgreSQL and Redis of tests/support/servers.py start, answer and hold data."""

import psycopg
import redis


def test_postgres_fixture_serves_queries(postgres_url: str) -> None:
    with psycopg.connect(postgres_url) as connection:
        connection.execute("CREATE TABLE probe (x int)")
        connection.execute("INSERT INTO probe VALUES (41)")
        assert connection.execute("SELECT x + 1 FROM probe").fetchone() == (42,)


def test_redis_fixture_keeps_values(redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    client.set("probe", "1")
    assert client.get("probe") == b"1"
