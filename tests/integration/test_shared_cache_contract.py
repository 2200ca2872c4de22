"""One contract for the shared cache, run on both backends: a diskcache folder and a real Redis."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import diskcache
import pytest

from bench.fake_airflow import FakeDagsFolderAirflow
from services.airflow.client import AirflowClient
from services.auth import Principal, Role
from services.caches import RecoveringCache
from services.deploy import DeployService
from services.errors import Unavailable
from services.monitoring import MonitorService
from services.pending import PendingActions
from services.results import ResultsService
from services.runs import RunService
from services.shared_cache import DiskSharedCache, RedisSharedCache, SharedCache, redis_client
from services.storage import LocalFolderStore
from tests.support.moto_server import free_port
from tests.support.sweeps import small_sweep

THREADS = 12
SHORT_EXPIRE_S = 0.3

Opener = Callable[[str], SharedCache]


@pytest.fixture(params=["diskcache", "redis"])
def opener(request: pytest.FixtureRequest, tmp_path: Path) -> Opener:
    """Opens the cache `name` as another process (or host) would: a new handle on the same store."""
    if request.param == "diskcache":
        return lambda name: DiskSharedCache(RecoveringCache(tmp_path / name))
    url = request.getfixturevalue("redis_url")
    run = uuid.uuid4().hex[:8]  # the session's Redis is shared by the tests: a namespace of our own
    return lambda name: RedisSharedCache(redis_client(url), f"{run}-{name}")


def together(target: Callable[[], object], threads: int = THREADS) -> list[object]:
    """`target` called by `threads` threads released at once; their results."""
    barrier = threading.Barrier(threads)
    results: list[object] = []
    guard = threading.Lock()

    def run() -> None:
        barrier.wait()
        value = target()
        with guard:
            results.append(value)

    workers = [threading.Thread(target=run) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return results


def test_values_round_trip_as_text_or_json(opener: Opener) -> None:
    cache = opener("values")
    cache.set("text", '{"a": 1}')
    cache.set("list", [("2026-12-03T10:00:00", 3), ("2026-12-03T10:00:05", 4)])
    cache.set("flag", True)
    assert cache.get("text") == '{"a": 1}'  # a str stays the str, not its JSON reading
    assert cache.get("list") == [["2026-12-03T10:00:00", 3], ["2026-12-03T10:00:05", 4]]
    assert cache.get("flag") is True
    assert cache.get("missing") is None
    assert cache.get("missing", "fallback") == "fallback"


def test_another_handle_sees_the_writes(opener: Opener) -> None:
    opener("seen").set("status", "fresh")
    assert opener("seen").get("status") == "fresh"


def test_entries_expire(opener: Opener) -> None:
    cache = opener("expiry")
    cache.set("short", "x", expire=SHORT_EXPIRE_S)
    cache.set("kept", "y")
    assert cache.get("short") == "x"
    time.sleep(SHORT_EXPIRE_S * 2)
    assert cache.get("short") is None
    assert cache.get("kept") == "y"


def test_add_stores_for_exactly_one_of_many(opener: Opener) -> None:
    handles = [opener("add") for _ in range(THREADS)]
    turn = iter(range(THREADS))
    guard = threading.Lock()

    def add() -> bool:
        with guard:
            handle = handles[next(turn)]
        return handle.add("building", "me", expire=60)

    assert sorted(together(add)) == [False] * (THREADS - 1) + [True]
    assert opener("add").add("building", "again") is False


def test_pop_gives_the_value_to_exactly_one_of_many(opener: Opener) -> None:
    cache = opener("pop")
    cache.set("token", "the action")
    results = together(lambda: cache.pop("token"))
    assert sorted(results, key=str) == [None] * (THREADS - 1) + ["the action"]
    assert cache.pop("token", "gone") == "gone"


def test_delete_says_whether_there_was_an_entry(opener: Opener) -> None:
    cache = opener("delete")
    cache.set("k", 1)
    assert cache.delete("k") is True
    assert cache.delete("k") is False
    assert cache.get("k") is None


def test_lock_lets_one_holder_at_a_time_across_handles(opener: Opener) -> None:
    handles = [opener("lock") for _ in range(4)]
    handles[0].set("count", 0)

    def bump(handle: SharedCache) -> None:
        for _ in range(10):
            with handle.lock("count-lock", 10):
                value = handle.get("count")
                time.sleep(0.001)  # a read-modify-write that would lose updates without the lock
                handle.set("count", value + 1)

    workers = [threading.Thread(target=bump, args=(handle,)) for handle in handles]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert handles[0].get("count") == 40


def test_a_lock_whose_holder_died_is_free_after_its_expiry(opener: Opener) -> None:
    held = opener("dead").lock("poll", SHORT_EXPIRE_S)
    held.__enter__()  # never left, as by a killed process
    started = time.monotonic()
    with opener("dead").lock("poll", 10):
        waited = time.monotonic() - started
    assert SHORT_EXPIRE_S * 0.5 <= waited < SHORT_EXPIRE_S + 2
    del held


def test_clear_removes_this_cache_only(opener: Opener) -> None:
    mine, other = opener("mine"), opener("other")
    for index in range(3):
        mine.set(f"k{index}", index)
    other.set("k0", "stays")
    assert mine.clear() == 3
    assert mine.get("k1") is None
    assert other.get("k0") == "stays"


def test_a_confirmation_is_carried_out_once_whichever_host_confirms(opener: Opener) -> None:
    host_a, host_b = PendingActions(opener("pending")), PendingActions(opener("pending"))
    alice = Principal(name="alice", role=Role.RESEARCHER)
    token = host_a.create(alice, "cancel", "mr_spy", "run-1")
    assert host_b.take(alice, token).run_id == "run-1"
    with pytest.raises(Exception, match="already carried out"):
        host_a.take(alice, token)


def test_twenty_viewers_on_two_hosts_cost_one_upstream_poll(opener: Opener, tmp_path: Path) -> None:
    airflow = FakeDagsFolderAirflow(tmp_path / "dags")
    client = AirflowClient(airflow)
    config = small_sweep()
    assert (
        DeployService(LocalFolderStore(airflow.dags_folder), client, max_grid_points=None).deploy(config).ok
    )
    RunService(client).trigger(config)
    results = ResultsService(LocalFolderStore(tmp_path / "results"))
    hosts = [MonitorService(client, results, opener("shared"), ttl_s=60) for _ in range(2)]
    before = dict(airflow.requests)
    turn = iter(range(20))
    guard = threading.Lock()

    def view() -> object:
        with guard:
            host = hosts[next(turn) % 2]
        return host.status(config)

    statuses = together(view, threads=20)
    polls = {key: airflow.requests[key] - before.get(key, 0) for key in airflow.requests}
    assert polls.get("GET /dags", 0) == 3  # the DAG, its latest run, its task instances: once for all
    assert len({status.fetched_at for status in statuses}) == 1  # every viewer got the same poll


def test_redis_down_is_unavailable_in_words_without_the_url() -> None:
    url = f"redis://:hunter2-secret@127.0.0.1:{free_port()}/0"  # nothing listens there
    cache = RedisSharedCache(redis_client(url), "down")
    with pytest.raises(Unavailable) as caught:
        cache.get("anything")
    shown = f"{caught.value.message} {caught.value.fix} {caught.value.detail}"
    assert "Redis" in shown and "REDIS_URL" in shown
    assert "hunter2" not in shown and str(url) not in shown


def test_old_diskcache_entries_read_as_missing(tmp_path: Path) -> None:
    raw = diskcache.Cache(str(tmp_path / "old"))
    raw.set("board", (1, "2026-12-03", "{}"))  # written by the app before the shared cache's format
    assert DiskSharedCache(raw).get("board") is None
