"""The registry contract on the database: one suite, run on SQLite and on a real PostgreSQL."""

from __future__ import annotations

import multiprocessing
import threading
from pathlib import Path

import pytest
from sqlalchemy import update

from airflow_backtest_framework.config import CONTEXT_MAX_GRID_POINTS, SweepConfig
from services.database import Database
from services.db_tables import sweeps
from services.errors import BadRequest, NotFound
from services.models import NEW_SWEEP, SweepSummary
from services.records import DamagedRecordError, SaveConflict
from services.sql_registry import SqlSweepRegistry
from tests.support.databases import BACKENDS, fresh_url
from tests.support.sweeps import grid_params, small_sweep

SAVERS = 4


@pytest.fixture(params=BACKENDS)
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return fresh_url(request, request.param, tmp_path)


def registry_at(url: str, max_grid_points: int | None = None) -> SqlSweepRegistry:
    """A registry on its own engine, as another worker or another host has."""
    return SqlSweepRegistry(Database(url), max_grid_points=max_grid_points)


def test_saved_sweeps_survive_a_new_registry_and_keep_history(url: str) -> None:
    registry = registry_at(url)
    first = registry.save(small_sweep(name="alpha"))
    registry.record_deploy("alpha", first.config.spec_hash)
    registry.record_run("alpha", "manual__1")
    registry.record_run("alpha", "manual__2")
    registry.record_run("alpha", "manual__1")  # recorded again: first again, never twice
    registry.save(small_sweep(name="alpha", description="edited"))

    record = registry_at(url).get("alpha")
    assert record.config.description == "edited" and record.version == 2
    assert record.run_ids == ["manual__1", "manual__2"]
    assert record.deployed_hash == first.config.spec_hash and record.deployed == "older spec"
    assert record.created_at == first.created_at and record.updated_at > first.updated_at


def test_list_is_newest_first_and_names_are_every_saved_name(url: str) -> None:
    registry = registry_at(url)
    assert registry.list() == [] and registry.names() == set()
    registry.save(small_sweep(name="older"))
    registry.save(small_sweep(name="newer"))
    assert [r.name for r in registry.list()] == ["newer", "older"]
    assert registry.names() == {"older", "newer"}


def test_missing_sweep_is_not_found_bad_names_are_refused_and_delete_removes(url: str) -> None:
    registry = registry_at(url)
    with pytest.raises(NotFound, match="no saved sweep named 'ghost'"):
        registry.get("ghost")
    with pytest.raises(NotFound):
        registry.record_run("ghost", "manual__1")
    with pytest.raises(BadRequest):
        registry.get("../etc/passwd")
    registry.save(small_sweep(name="gone"))
    registry.delete("gone")
    assert registry.find("gone") is None and registry.names() == set()


def test_stale_and_duplicate_saves_are_refused_naming_who_saved(url: str) -> None:
    registry = registry_at(url)
    saved = registry.save(small_sweep(name="mr_a", owner="alice"), expected_version=NEW_SWEEP, by="alice")
    with pytest.raises(SaveConflict, match=r"A sweep named mr_a already exists \(saved by alice"):
        registry.save(small_sweep(name="mr_a", description="mine"), expected_version=NEW_SWEEP)
    registry.record_deploy("mr_a", saved.config.spec_hash)  # deploys and runs keep the form's version
    again = registry.save(
        small_sweep(name="mr_a", description="v2"), expected_version=saved.version, by="bob"
    )
    with pytest.raises(SaveConflict, match=r"mr_a was changed by bob at .* since you opened it"):
        registry.save(small_sweep(name="mr_a", description="stale"), expected_version=saved.version)
    assert registry.get("mr_a").config.description == "v2" and again.version == saved.version + 1


def test_a_damaged_row_is_listed_and_its_previous_version_restored(url: str) -> None:
    registry = registry_at(url)
    registry.save(small_sweep(name="mr_a", description="first"))
    registry.save(small_sweep(name="mr_a", description="second"))
    with registry._database.engine.begin() as connection:  # damage it as a bad manual edit would
        connection.execute(update(sweeps).where(sweeps.c.name == "mr_a").values(record="{"))
    assert registry_at(url).list() == []  # a listing reads it (in another process too) and finds it damaged
    [broken] = registry.damaged()
    with pytest.raises(DamagedRecordError, match="restore its previous version or delete it"):
        registry.get("mr_a")
    assert broken.name == "mr_a" and broken.has_previous and registry.list() == []
    assert registry.restore_previous("mr_a").config.description == "first"  # the version before "second"
    assert registry.get("mr_a").config.description == "first" and registry.damaged() == []


def test_summaries_are_what_the_records_say_also_for_rows_without_one(url: str) -> None:
    registry = registry_at(url)
    registry.save(small_sweep(name="older"))
    saved = registry.save(small_sweep(name="newer"))
    registry.record_deploy("newer", saved.config.spec_hash)
    registry.record_run("newer", "manual__9")
    with registry._database.engine.begin() as connection:  # as a row migrated from before summaries
        connection.execute(
            update(sweeps).where(sweeps.c.name == "older").values(summary=None, record_sha=None)
        )
    expected = [SweepSummary.of(record) for record in registry.list()]
    assert registry_at(url).summaries() == expected
    assert [s.name for s in expected] == ["newer", "older"] and expected[0].last_run_id == "manual__9"
    assert expected[0].deployed == "yes" and expected[0].runs == 1 and registry.damaged() == []


def test_a_larger_grid_cap_is_honoured(url: str) -> None:
    params = grid_params("MeanReversionStrategy", "2:400:100", "1:9:100", "0.05,0.1", "5:15:11")
    big = SweepConfig.model_validate(
        {**small_sweep().model_dump(mode="json"), "params": params},
        context={CONTEXT_MAX_GRID_POINTS: 500_000},
    )
    registry_at(url, max_grid_points=500_000).save(big)
    assert registry_at(url, max_grid_points=500_000).get(big.name).config.grid_size == 220_000


def _save_once(url: str, version: int, tag: str, start: threading.Barrier | None = None) -> str:
    registry = registry_at(url)
    if start is not None:
        start.wait()
    try:
        registry.save(small_sweep(name="race", description=tag), expected_version=version)
    except SaveConflict as exc:
        return f"refused: {exc.message}"
    return f"saved {tag}"


def _outcomes_hold(url: str, outcomes: list[str], version: int) -> None:
    saved = [o for o in outcomes if o.startswith("saved")]
    assert len(saved) == 1 and len(outcomes) == SAVERS, outcomes
    refused = [o for o in outcomes if o.startswith("refused")]
    assert len(refused) == SAVERS - 1 and all("since you opened it" in o for o in refused), outcomes
    record = registry_at(url).get("race")
    assert saved == [f"saved {record.config.description}"] and record.version == version + 1


def test_concurrent_saves_in_threads_give_one_success(url: str) -> None:
    version = registry_at(url).save(small_sweep(name="race")).version
    start = threading.Barrier(SAVERS)
    outcomes: list[str] = []
    threads = [
        threading.Thread(target=lambda i=i: outcomes.append(_save_once(url, version, f"t{i}", start)))
        for i in range(SAVERS)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    _outcomes_hold(url, outcomes, version)


def test_concurrent_saves_in_processes_give_one_success(url: str) -> None:
    version = registry_at(url).save(small_sweep(name="race")).version
    with multiprocessing.get_context("spawn").Pool(SAVERS) as pool:
        outcomes = pool.starmap(_save_once, [(url, version, f"p{i}") for i in range(SAVERS)])
    _outcomes_hold(url, outcomes, version)


def test_concurrent_first_saves_of_one_name_give_one_success(url: str) -> None:
    start = threading.Barrier(SAVERS)
    outcomes: list[str] = []
    threads = [
        threading.Thread(target=lambda i=i: outcomes.append(_save_once(url, NEW_SWEEP, f"n{i}", start)))
        for i in range(SAVERS)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(o.startswith("saved") for o in outcomes) == 1, outcomes
    assert sum("A sweep named race already exists" in o for o in outcomes) == SAVERS - 1, outcomes


def test_concurrent_runs_are_all_recorded(url: str) -> None:
    registry_at(url).save(small_sweep(name="busy"))
    start = threading.Barrier(SAVERS)

    def record(i: int) -> None:
        registry = registry_at(url)
        start.wait()
        registry.record_run("busy", f"manual__{i}")

    threads = [threading.Thread(target=record, args=(i,)) for i in range(SAVERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(registry_at(url).get("busy").run_ids) == [f"manual__{i}" for i in range(SAVERS)]
