"""Parquet bytes for the results store's returns files; pyarrow is imported only when they are used."""

from __future__ import annotations

import contextlib
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


ROWS_PER_GROUP = 1_000_000  # ~380 points of 10 years daily: ~50 MB of pending columns at most


class ParquetRowGroups:
    """A Parquet file built a row group at a time in a spool file on local disk, so that a big chunk's
    rows are never all in memory (16,667 points of 10 years held whole took ~7 GB); `finish()` returns
    its bytes. Rows appended together stay in one row group. A failure to write the spool (a full disk)
    is kept, later rows are dropped, and `finish()` raises it as an OSError: the file is all or nothing."""

    def __init__(self, rows_per_group: int | None = None) -> None:
        import tempfile

        self._spool = tempfile.TemporaryFile(prefix="returns-")  # noqa: SIM115 - closed by finish/close
        self._rows_per_group = ROWS_PER_GROUP if rows_per_group is None else rows_per_group
        self._pending: list[Mapping[str, Any]] = []
        self._rows = 0
        self._writer: Any = None
        self._failure: Exception | None = None

    def append(self, columns: Mapping[str, Any]) -> None:
        """Equal-length columns (name -> array), the same names and types every time."""
        if self._failure is not None:
            return
        self._pending.append(columns)
        self._rows += len(next(iter(columns.values())))
        if self._rows >= self._rows_per_group:
            try:
                self._flush()
            except Exception as exc:  # pyarrow raises OSError and ArrowInvalid alike: kept for finish()
                self._failure, self._pending = exc, []

    def _flush(self) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        if not self._pending:
            return
        table = pa.concat_tables([pa.table(dict(columns)) for columns in self._pending])
        if self._writer is None:
            self._writer = pq.ParquetWriter(self._spool, table.schema, compression=PARQUET_COMPRESSION)
        self._writer.write_table(table, row_group_size=table.num_rows)
        self._pending, self._rows = [], 0

    def finish(self) -> bytes:
        """The whole file's bytes (b"" when nothing was appended); the spool is gone after."""
        try:
            if self._failure is not None:
                raise OSError(f"the returns file could not be built: {self._failure}")
            self._flush()
            if self._writer is None:
                return b""
            writer, self._writer = self._writer, None
            writer.close()
            self._spool.seek(0)
            return self._spool.read()
        finally:
            self.close()

    def close(self) -> None:
        """Drop the spool (and a writer left open by a failure) without raising."""
        writer, self._writer, self._pending = self._writer, None, []
        if writer is not None:
            with contextlib.suppress(Exception):  # a writer that already failed: nothing of it is kept
                writer.close()
        self._spool.close()
