"""Parquet bytes for the results store's returns files; pyarrow is imported only when they are used."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

PARQUET_COMPRESSION = "zstd"


def encode_parquet(columns: Mapping[str, Any]) -> bytes:
    """Columns (name -> equal-length array or list) as one Parquet file's bytes."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    sink = pa.BufferOutputStream()
    pq.write_table(pa.table(dict(columns)), sink, compression=PARQUET_COMPRESSION)
    return sink.getvalue().to_pybytes()


def decode_parquet(
    files: Iterable[bytes], sort_by: Sequence[str] = (), columns: Sequence[str] | None = None
) -> Any:
    """Parquet files' bytes as one pyarrow Table (same columns, or only `columns`), sorted by `sort_by`."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.concat_tables(
        [
            pq.read_table(pa.BufferReader(data), columns=None if columns is None else list(columns))
            for data in files
        ]
    )
    return table.sort_by([(name, "ascending") for name in sort_by]) if sort_by else table
