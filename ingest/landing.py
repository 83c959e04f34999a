"""The landing zone: atomic, idempotent Parquet writes, the load log and the quarantine.

Layout under the landing root (TOKENRECON_LANDING, default data/landing):

    <dataset>/<partition>=<value>/<file_id>-<n>.parquet  landed rows of one input file, part n
    <dataset>/_schema.parquet                         zero rows: the dataset's schema, so that
                                                      readers (dbt sources) work before any landing
    _quarantine/<dataset>/<file_id>.parquet           records that could not be landed, with reasons
    _load_log/<dataset>/<load_key>.parquet            one row per input identity read

Every file is written under a temporary dot-name in its final folder and renamed into place, so a
crash never leaves a partial file that reads as data (readers glob `*.parquet`; temporary names
end in `.tmp`). The load log row is written last: it is the commit record of a load.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from ingest import __version__

# Statuses of a load log row; the first three mean "done, do not read this identity again".
FINAL_STATUSES = ("landed", "duplicate_content", "empty")

LOAD_LOG_SCHEMA = pa.schema(
    [
        ("load_key", pa.string()),
        ("dataset", pa.string()),
        ("source_uri", pa.string()),
        ("source_size", pa.int64()),
        ("source_version", pa.string()),
        ("options_json", pa.string()),
        ("file_id", pa.string()),
        ("status", pa.string()),
        ("records_read", pa.int64()),
        ("rows_landed", pa.int64()),
        ("rows_quarantined", pa.int64()),
        ("rows_duplicate", pa.int64()),
        ("blank_lines", pa.int64()),
        ("partitions", pa.list_(pa.string())),
        ("message", pa.string()),
        ("started_at", pa.timestamp("us", tz="UTC")),
        ("finished_at", pa.timestamp("us", tz="UTC")),
        ("tokenrecon_version", pa.string()),
    ]
)

QUARANTINE_SCHEMA = pa.schema(
    [
        ("dataset", pa.string()),
        ("file_id", pa.string()),
        ("source_uri", pa.string()),
        ("record_number", pa.int64()),
        ("reason", pa.string()),
        ("raw_record", pa.binary()),
        ("raw_bytes", pa.int64()),
        ("raw_excerpt", pa.string()),
        ("quarantined_at", pa.timestamp("us", tz="UTC")),
    ]
)


def load_key(uri: str, size: int, version: str, options_json: str) -> str:
    """Identity of one read: where the input is, which version of it, read with which options."""
    text = "\x1f".join((uri, str(size), version, options_json))
    return hashlib.sha256(text.encode()).hexdigest()[:32]


@dataclass
class LoadRecord:
    """What one load did; becomes a load log row."""

    load_key: str
    dataset: str
    source_uri: str
    source_size: int
    source_version: str
    options_json: str
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    file_id: str | None = None
    status: str = "failed"
    records_read: int = 0
    rows_landed: int = 0
    rows_quarantined: int = 0
    rows_duplicate: int = 0
    blank_lines: int = 0
    partitions: list[str] = field(default_factory=list)
    message: str | None = None
    finished_at: datetime | None = None

    def as_row(self) -> dict[str, Any]:
        row = {name: getattr(self, name, None) for name in LOAD_LOG_SCHEMA.names}
        row["tokenrecon_version"] = __version__
        return row


def _tmp_name(final: Path) -> Path:
    return final.with_name(f".{final.name}.{uuid.uuid4().hex[:8]}.tmp")


def write_table_atomically(table: pa.Table, final: Path) -> None:
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = _tmp_name(final)
    try:
        pq.write_table(table, tmp, compression="zstd")
        os.replace(tmp, final)
    finally:
        tmp.unlink(missing_ok=True)


class PartWriter:
    """Writes the rows of one chunk as one Parquet part per partition value, row group by row
    group, under temporary names (invisible to `*.parquet` globs)."""

    def __init__(self, dataset_dir: Path, partition_column: str, schema: pa.Schema) -> None:
        self.dataset_dir = dataset_dir
        self.partition_column = partition_column
        self.schema = schema
        self._open: dict[str, tuple[pq.ParquetWriter, Path]] = {}

    def write(self, partition: str, table: pa.Table) -> None:
        if partition not in self._open:
            folder = self.dataset_dir / f"{self.partition_column}={partition}"
            folder.mkdir(parents=True, exist_ok=True)
            tmp = folder / f".{uuid.uuid4().hex}.parquet.tmp"
            self._open[partition] = (pq.ParquetWriter(tmp, self.schema, compression="zstd"), tmp)
        self._open[partition][0].write_table(table)

    def close(self) -> list[Path]:
        """The temporary parts, in partition order."""
        parts = []
        for partition in sorted(self._open):
            writer, tmp = self._open[partition]
            writer.close()
            parts.append(tmp)
        self._open.clear()
        return parts

    def abort(self) -> None:
        for writer, tmp in self._open.values():
            writer.close()
            tmp.unlink(missing_ok=True)
        self._open.clear()


def commit_parts(parts: list[Path], file_id: str) -> None:
    """Rename the parts of one input to `<file_id>-<n>.parquet`, n in file order."""
    for n, tmp in enumerate(parts):
        os.replace(tmp, tmp.with_name(f"{file_id}-{n:05d}.parquet"))


def abort_parts(parts: list[Path]) -> None:
    """Drop parts that will not land."""
    for tmp in parts:
        tmp.unlink(missing_ok=True)


class LandingZone:
    """One landing root; datasets are folders in it."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def dataset_dir(self, dataset: str) -> Path:
        return self.root / dataset

    def _log_dir(self, dataset: str) -> Path:
        return self.root / "_load_log" / dataset

    def _quarantine_path(self, dataset: str, file_id: str) -> Path:
        return self.root / "_quarantine" / dataset / f"{file_id}.parquet"

    def ensure_schema(self, folder: str, schema: pa.Schema) -> None:
        """Keep `<folder>/_schema.parquet`: zero rows with the schema readers should expect."""
        path = self.root / folder / "_schema.parquet"
        if path.exists() and pq.read_schema(path).equals(schema, check_metadata=False):
            return
        write_table_atomically(schema.empty_table(), path)

    def ensure_datasets(self, datasets: dict[str, pa.Schema]) -> None:
        """Schema files for the given datasets, the load log and the quarantine."""
        for dataset, schema in datasets.items():
            self.ensure_schema(dataset, schema)
        self.ensure_schema("_load_log", LOAD_LOG_SCHEMA)
        self.ensure_schema("_quarantine", QUARANTINE_SCHEMA)

    def load_log(self, dataset: str) -> list[dict[str, Any]]:
        folder = self._log_dir(dataset)
        if not folder.is_dir():
            return []
        rows: list[dict[str, Any]] = []
        for path in sorted(folder.glob("*.parquet")):
            rows.extend(pq.read_table(path).to_pylist())
        return rows

    def remove_landed(self, dataset: str, file_id: str) -> None:
        """Drop what an earlier load of the same content landed (re-landing it with new options)."""
        for path in self.dataset_dir(dataset).glob(f"*/{file_id}-*.parquet"):
            path.unlink()
        self._quarantine_path(dataset, file_id).unlink(missing_ok=True)

    def write_quarantine(self, dataset: str, file_id: str, rows: Iterable[dict[str, Any]]) -> None:
        rows = [
            {
                **row,
                "dataset": dataset,
                "file_id": file_id,
                "raw_bytes": len(row["raw_record"]),
                "raw_excerpt": row["raw_record"][:500].decode("utf-8", "backslashreplace"),
            }
            for row in rows
        ]
        if rows:
            table = pa.Table.from_pylist(rows, schema=QUARANTINE_SCHEMA)
            write_table_atomically(table, self._quarantine_path(dataset, file_id))

    def record_load(self, record: LoadRecord) -> None:
        record.finished_at = datetime.now(UTC)
        table = pa.Table.from_pylist([record.as_row()], schema=LOAD_LOG_SCHEMA)
        write_table_atomically(table, self._log_dir(record.dataset) / f"{record.load_key}.parquet")
