"""The engine's results: the framework's results store, opened with the engine's lazily built S3 client."""

from __future__ import annotations

from airflow_backtest_framework.engine_contract import equity_key, point_key
from airflow_backtest_framework.results_backends import ResultsStoreError as StorageError
from airflow_backtest_framework.results_backends import S3ClientFactory, read_object
from airflow_backtest_framework.results_store import ResultsStore, open_results_store

__all__ = ["S3ClientFactory", "StorageError", "equity_key", "open_store", "point_key", "read_text"]


def open_store(uri: str, s3_client: S3ClientFactory) -> ResultsStore:
    """The results store of a root: `s3://bucket/prefix`, a `file://` URL or a local path."""
    return open_results_store(uri, s3_client_factory=s3_client)


def read_text(uri: str, s3_client: S3ClientFactory) -> str:
    """The text of a local file, file:// URL or s3://bucket/key object (S3 `get_object`)."""
    try:
        return read_object(uri, s3_client_factory=s3_client).decode("utf-8")
    except UnicodeDecodeError:
        raise StorageError(f"{uri} is not UTF-8 text") from None
    except ValueError as exc:  # not a location the store can parse
        raise StorageError(str(exc)) from None
