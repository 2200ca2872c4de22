"""REDIS_URL: checked and never shown with its password; it picks Redis and Celery, its absence diskcache."""

from __future__ import annotations

from pathlib import Path

import pytest
from dash import CeleryManager, DiskcacheManager

from services.bootstrap import FLAGS_FOLDER, open_shared
from services.settings import SettingsError, load_settings
from services.shared_cache import DiskSharedCache, RedisSharedCache

PASSWORD = "s3cret-redis-pw"
URL = f"redis://:{PASSWORD}@cache.internal:6379/0"


def test_a_redis_url_of_another_scheme_is_refused_naming_the_key() -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(redis_url=f"http://:{PASSWORD}@cache.internal:6379")
    assert "REDIS_URL: must start with redis:// or rediss:// or unix://" in str(caught.value)
    assert PASSWORD not in str(caught.value)


def test_the_redis_password_is_never_shown(tmp_path: Path) -> None:
    settings = load_settings(redis_url=URL, cache_dir=tmp_path)
    assert settings.redis_url_shown == "redis://cache.internal:6379/0"
    assert PASSWORD not in repr(settings) and PASSWORD not in str(settings.model_dump())


def test_an_empty_redis_url_means_none(tmp_path: Path) -> None:
    assert load_settings(redis_url="", cache_dir=tmp_path).redis_url is None


def test_without_redis_the_caches_and_background_jobs_are_on_disk(tmp_path: Path) -> None:
    from app import background_manager

    settings = load_settings(cache_dir=tmp_path)
    assert isinstance(open_shared(settings, FLAGS_FOLDER), DiskSharedCache)
    assert (tmp_path / FLAGS_FOLDER).is_dir()
    assert isinstance(background_manager(settings), DiskcacheManager)


def test_with_redis_the_caches_and_background_jobs_are_in_redis(tmp_path: Path) -> None:
    from app import background_manager

    settings = load_settings(cache_dir=tmp_path, redis_url=URL, celery_concurrency=3)
    assert isinstance(open_shared(settings, FLAGS_FOLDER), RedisSharedCache)
    assert not (tmp_path / FLAGS_FOLDER).exists()  # nothing of the shared state on this host's disk
    manager = background_manager(settings)  # builds no connection
    assert isinstance(manager, CeleryManager)
    assert manager.handle.conf.broker_url == URL and manager.handle.conf.worker_concurrency == 3
