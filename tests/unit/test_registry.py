"""The sweep registry: saved specs survive a restart and keep their history."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.errors import NotFound
from services.registry import SweepRegistry
from tests.support.sweeps import grid_params, small_sweep


def test_saved_sweeps_survive_a_new_registry_and_keep_history(tmp_path: Path) -> None:
    registry = SweepRegistry(tmp_path)
    first = registry.save(small_sweep(name="alpha"))
    registry.record_deploy("alpha", first.config.spec_hash)
    registry.record_run("alpha", "manual__1")
    registry.record_run("alpha", "manual__2")
    registry.save(small_sweep(name="alpha", description="edited"))

    reopened = SweepRegistry(tmp_path)  # as after a restart, or in another worker
    record = reopened.get("alpha")
    assert record.config.description == "edited"
    assert record.run_ids == ["manual__2", "manual__1"]
    assert record.deployed_hash == first.config.spec_hash
    assert record.created_at == first.created_at and record.updated_at > first.updated_at


def test_list_is_newest_first_and_skips_unreadable_files(tmp_path: Path) -> None:
    registry = SweepRegistry(tmp_path)
    registry.save(small_sweep(name="older"))
    registry.save(small_sweep(name="newer"))
    (tmp_path / "sweeps" / "broken.json").write_text("{not json")
    assert [r.name for r in registry.list()] == ["newer", "older"]


def test_missing_sweep_is_not_found_and_delete_removes(tmp_path: Path) -> None:
    registry = SweepRegistry(tmp_path)
    with pytest.raises(NotFound, match="no saved sweep named 'ghost'"):
        registry.get("ghost")
    registry.save(small_sweep(name="gone"))
    registry.delete("gone")
    assert registry.find("gone") is None


def test_registry_honours_a_larger_grid_cap(tmp_path: Path) -> None:
    params = grid_params("MeanReversionStrategy", "2:400:100", "1:9:100", "0.05,0.1", "5:15:11")
    from airflow_backtest_framework.config import CONTEXT_MAX_GRID_POINTS, SweepConfig

    big = SweepConfig.model_validate(
        {**small_sweep().model_dump(mode="json"), "params": params},
        context={CONTEXT_MAX_GRID_POINTS: 500_000},
    )
    SweepRegistry(tmp_path, max_grid_points=500_000).save(big)
    assert SweepRegistry(tmp_path, max_grid_points=500_000).get(big.name).config.grid_size == 220_000
