"""The landing zone: atomic, idempotent Parquet writes, the load log and the quarantine.

Layout under the landing root (TOKENRECON_LANDING, default data/landing):

    <dataset>/<partition>=<value>/<file_id>-<n>.parquet  landed rows of one input file, part n
    <dataset>/_schema.parquet                         zero rows: the dataset's schema, so that
                                                      readers (dbt sources) work before any landing
    _quarantine/<dataset>/<file_id>.parquet           records that could not be landed, with reasons
    _load_log/<dataset>/<load_key>.parquet            one row per input identity read
    _scratch/<dataset>/<run>/                         a running load's files (see Scratch)

Every file is written under a temporary name and renamed into place, so a crash never leaves a
partial file that reads as data (readers glob `<dataset>/**/*.parquet`; temporary names end in
`.tmp`). The load log row is written last: it is the commit record of a load.

Event loads write everything in a scratch folder of their own, outside every reader's glob, and
commit through a journal (Scratch.commit_load): the journal names every rename and removal of
the load, is written first, and a run that finds the journal of a killed run completes it. So a
killed load either left nothing visible (and its scratch folder is removed by the next run), or
is completed by the next run - never doubled, never half landed for longer than the renames take.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import socket
import time
import uuid
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from ingest import __version__

try:  # advisory locks tell a live run's scratch folder from a killed one's
    import fcntl
except ImportError:  # Windows: scratch folders are removed once they are STALE_SCRATCH_SECONDS old
    fcntl = None  # type: ignore[assignment]

SCRATCH = "_scratch"  # under the landing root, outside every dataset's glob
MAX_OPEN_PARTS = 64  # Parquet parts a PartWriter keeps open at once (one file descriptor each)
STALE_SCRATCH_SECONDS = 24 * 3600  # without locks: age after which a scratch folder is dead

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


HOST = re.sub(r"[^A-Za-z0-9_-]", "_", socket.gethostname())[:64] or "host"


def _tmp_name(final: Path) -> Path:
    """`.<name>.<host>~<pid>~<random>.tmp`: who writes it, so a cleanup can tell a killed
    writer's leftover (its process is gone) from a live one's on this machine."""
    return final.with_name(f".{final.name}.{HOST}~{os.getpid()}~{uuid.uuid4().hex[:8]}.tmp")


def _writer_is_gone(tmp: Path) -> bool:
    """Whether the process that named `tmp` (see _tmp_name) has ended: known only for a
    writer on this machine; any other temporary file counts as gone once 600 s old."""
    parts = tmp.name.split(".")[-2].split("~")
    if len(parts) == 3 and parts[0] == HOST and parts[1].isdigit():
        try:
            os.kill(int(parts[1]), 0)
        except ProcessLookupError:
            return True
        except OSError:  # alive, another user's
            return False
        return int(parts[1]) != os.getpid() and time.time() - tmp.stat().st_mtime > 600
    return time.time() - tmp.stat().st_mtime > 600


def write_table_atomically(table: pa.Table, final: Path, staging: Path | None = None) -> None:
    """Write a Parquet file under a temporary name (beside it, or in `staging`: a folder on the
    same file system) and rename it into place: readers see the old file or the new, whole."""
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = _tmp_name(final)
    if staging is not None:
        staging.mkdir(parents=True, exist_ok=True)
        tmp = staging / tmp.name
    try:
        pq.write_table(table, tmp, compression="zstd")
        os.replace(tmp, final)
    finally:
        tmp.unlink(missing_ok=True)


class PartWriter:
    """Writes the rows of one chunk as Parquet parts per partition value, row group by row group,
    under temporary names in `folder` (a scratch folder: invisible to readers).

    At most MAX_OPEN_PARTS parts are open at once: when a chunk spans more partition values (a
    log of many days), the least recently written part is closed, and a value that comes back
    starts a new part - a partition may then hold several parts of one chunk. The parts are
    returned in a deterministic order (partition value, then opening order), so the names
    commit_load gives them are the same on every run.
    """

    def __init__(self, folder: Path, partition_column: str, schema: pa.Schema) -> None:
        self.folder = folder
        self.partition_column = partition_column
        self.schema = schema
        self._open: OrderedDict[str, pq.ParquetWriter] = OrderedDict()
        self._parts: list[tuple[str, int, Path]] = []  # (partition, opening order, path)

    def write(self, partition: str, table: pa.Table) -> None:
        writer = self._open.get(partition)
        if writer is None:
            while len(self._open) >= max(1, MAX_OPEN_PARTS):
                self._open.popitem(last=False)[1].close()
            folder = self.folder / f"{self.partition_column}={partition}"
            folder.mkdir(parents=True, exist_ok=True)
            tmp = folder / f"{uuid.uuid4().hex}.parquet.tmp"
            self._parts.append((partition, len(self._parts), tmp))
            writer = self._open[partition] = pq.ParquetWriter(tmp, self.schema, compression="zstd")
        else:
            self._open.move_to_end(partition)
        writer.write_table(table)

    def close(self) -> list[Path]:
        """The temporary parts, in partition order (then in the order they were opened)."""
        for writer in self._open.values():
            writer.close()
        self._open.clear()
        parts = [tmp for _, _, tmp in sorted(self._parts)]
        self._parts.clear()
        return parts

    def abort(self) -> None:
        for writer in self._open.values():
            writer.close()
        self._open.clear()
        abort_parts([tmp for _, _, tmp in self._parts])
        self._parts.clear()


def part_name(file_id: str, n: int) -> str:
    """The landed name of part n of an input (readers take the file id back from it)."""
    return f"{file_id}-{n:05d}.parquet"


def abort_parts(parts: list[Path]) -> None:
    """Drop parts that will not land."""
    for tmp in parts:
        tmp.unlink(missing_ok=True)


def _apply_journal(root: Path, journal: dict[str, Any]) -> None:
    """Carry out a commit journal; safe to repeat (a rename whose source is gone was done)."""
    for relative in journal["remove"]:
        (root / relative).unlink(missing_ok=True)
    for source, target in journal["rename"]:
        source_path, target_path = root / source, root / target
        if source_path.exists():
            target_path.parent.mkdir(parents=True, exist_ok=True)
            os.replace(source_path, target_path)


class Scratch:
    """One run's private folder, `_scratch/<dataset>/<run>/`, where its parts, quarantine and
    load log rows are written before they are committed. Outside every reader's glob.

    A live run holds an advisory lock on `<run>/lock`; a folder whose lock can be taken belongs
    to a run that was killed. Opening a Scratch first finishes what killed runs had committed
    (their journals) and removes their folders, so leftovers never pile up.
    """

    def __init__(self, root: Path, dataset: str) -> None:
        self.root = root
        self.dataset = dataset
        self.base = root / SCRATCH / dataset
        self.base.mkdir(parents=True, exist_ok=True)
        self.recover()
        run = f"{os.getpid()}-{uuid.uuid4().hex[:12]}"
        # created under a dot-name, locked, then renamed: a run folder is never seen unlocked
        init = self.base / f".init-{run}"
        init.mkdir()
        self._lock = open(init / "lock", "a+b")  # noqa: SIM115 - held for the run's lifetime
        if fcntl is not None:
            fcntl.flock(self._lock, fcntl.LOCK_EX)
        self.folder = self.base / run
        os.replace(init, self.folder)

    def __enter__(self) -> Scratch:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)
        self._lock.close()

    def parts_dir(self) -> Path:
        """Where workers write the parts of this run."""
        return self.folder / "parts"

    def recover(self) -> None:
        """Complete the journals of killed runs and remove their folders, and the temporary
        files a run killed while writing a schema file (or an earlier version of this module)
        left among the dataset's files. All of them are invisible to readers meanwhile."""
        # Nothing a live run writes is among these: runs stage everything in their own folder,
        # schema files are staged in `_scratch/` itself, named by their writer (so those are
        # taken only when its process has ended, or when old if it ran on another machine).
        # The others are what earlier versions of this module left beside the data.
        leftovers = [
            *self.root.glob(f"{self.dataset}/*/.*.parquet.tmp"),
            *self.root.glob(f"_load_log/{self.dataset}/.*.tmp"),
            *self.root.glob(f"_quarantine/{self.dataset}/.*.tmp"),
        ]
        for path in leftovers:
            path.unlink(missing_ok=True)
        for path in [*self.root.glob("*/._schema.parquet.*.tmp"), *self.base.parent.glob(".*.tmp")]:
            with contextlib.suppress(OSError):
                if _writer_is_gone(path):
                    path.unlink()
        for folder in sorted(self.base.iterdir()):
            if folder.name.startswith(".init-"):
                # killed between mkdir and rename (or starting right now): only when old
                with contextlib.suppress(OSError):
                    if time.time() - folder.stat().st_mtime > 600:
                        shutil.rmtree(folder, ignore_errors=True)
                continue
            with contextlib.suppress(OSError), _dead_run_lock(folder) as dead:
                if dead:
                    for path in sorted(folder.glob("*.journal")):
                        _apply_journal(self.root, json.loads(path.read_bytes()))
                    shutil.rmtree(folder, ignore_errors=True)

    def record_load(self, zone: LandingZone, record: LoadRecord) -> None:
        """A load log row alone (a failed, empty or duplicate load), written here and renamed
        into place: a kill leaves no temporary file among the load log's."""
        record.finished_at = datetime.now(UTC)
        final = zone.load_log_path(record)
        final.parent.mkdir(parents=True, exist_ok=True)
        os.replace(self._stage_table(_load_log_table(record)), final)

    def write_quarantine(
        self, zone: LandingZone, dataset: str, file_id: str, rows: Iterable[dict[str, Any]]
    ) -> None:
        """The records of one input (or run) that could not land, staged here and renamed into
        place: replaces any earlier ones, so landing the same input again cleanly leaves no
        stale quarantine behind."""
        table = _quarantine_table(dataset, file_id, rows)
        final = zone.quarantine_path(dataset, file_id)
        if table.num_rows:
            final.parent.mkdir(parents=True, exist_ok=True)
            os.replace(self._stage_table(table), final)
        else:
            final.unlink(missing_ok=True)

    def _stage_table(self, table: pa.Table) -> Path:
        tmp = self.folder / f"{uuid.uuid4().hex}.parquet.tmp"
        pq.write_table(table, tmp, compression="zstd")
        return tmp

    def commit_load(
        self,
        zone: LandingZone,
        record: LoadRecord,
        parts: list[Path],
        quarantined: list[dict[str, Any]],
    ) -> None:
        """Land one input: its parts as `<partition>/<file_id>-<n>.parquet`, its quarantine, and
        its load log row last, replacing whatever an earlier load of the same content landed.

        Everything is written in the scratch folder first; the journal listing the renames and
        removals is the commit point. Carried out here, or - if this process is killed midway -
        by the next run (recover)."""
        assert record.file_id is not None
        dataset_dir = zone.dataset_dir(record.dataset)
        renames = [
            (tmp, dataset_dir / tmp.parent.name / part_name(record.file_id, n))
            for n, tmp in enumerate(parts)
        ]
        targets = {target for _, target in renames}
        earlier = set(dataset_dir.glob(f"*/{record.file_id}-*.parquet")) - targets
        quarantine = zone.quarantine_path(record.dataset, record.file_id)
        if quarantined:
            renames.append(
                (self._stage_table(zone.quarantine_table(record, quarantined)), quarantine)
            )
        else:
            earlier.add(quarantine)
        record.finished_at = datetime.now(UTC)
        renames.append((self._stage_table(_load_log_table(record)), zone.load_log_path(record)))
        journal = {
            "remove": sorted(str(p.relative_to(self.root)) for p in earlier),
            "rename": [
                [str(a.relative_to(self.root)), str(b.relative_to(self.root))] for a, b in renames
            ],
        }
        path = self.folder / f"{record.load_key}.journal"
        tmp = path.with_suffix(".journal.tmp")
        tmp.write_bytes(json.dumps(journal).encode())
        os.replace(tmp, path)  # the commit point
        _apply_journal(self.root, journal)
        path.unlink()


@contextlib.contextmanager
def _dead_run_lock(folder: Path) -> Iterator[bool]:
    """True (holding its lock meanwhile) when the run that owned `folder` is gone."""
    lock_path = folder / "lock"
    if fcntl is None:
        yield time.time() - folder.stat().st_mtime > STALE_SCRATCH_SECONDS
        return
    try:
        lock = open(lock_path, "rb")  # noqa: SIM115
    except FileNotFoundError:  # re-created by a worker of a killed run after its removal
        yield True
        return
    with lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        yield True


def _load_log_table(record: LoadRecord) -> pa.Table:
    return pa.Table.from_pylist([record.as_row()], schema=LOAD_LOG_SCHEMA)


class LandingZone:
    """One landing root; datasets are folders in it."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def dataset_dir(self, dataset: str) -> Path:
        return self.root / dataset

    def _log_dir(self, dataset: str) -> Path:
        return self.root / "_load_log" / dataset

    def quarantine_path(self, dataset: str, file_id: str) -> Path:
        return self.root / "_quarantine" / dataset / f"{file_id}.parquet"

    def load_log_path(self, record: LoadRecord) -> Path:
        return self._log_dir(record.dataset) / f"{record.load_key}.parquet"

    def scratch(self, dataset: str) -> Scratch:
        """This run's scratch folder for `dataset` (after cleaning up after killed runs)."""
        return Scratch(self.root, dataset)

    def ensure_schema(self, folder: str, schema: pa.Schema) -> None:
        """Keep `<folder>/_schema.parquet`: zero rows with the schema readers should expect."""
        path = self.root / folder / "_schema.parquet"
        if path.exists() and pq.read_schema(path).equals(schema, check_metadata=False):
            return
        write_table_atomically(schema.empty_table(), path, staging=self.root / SCRATCH)

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
        self.quarantine_path(dataset, file_id).unlink(missing_ok=True)

    def quarantine_table(self, record: LoadRecord, rows: Iterable[dict[str, Any]]) -> pa.Table:
        """Quarantine rows of one input (`source_uri`, `record_number`, `reason`, `raw_record`,
        `quarantined_at`; `raw_bytes` when raw_record holds only the start of the record)."""
        return _quarantine_table(record.dataset, record.file_id or "", rows)


def _quarantine_table(dataset: str, file_id: str, rows: Iterable[dict[str, Any]]) -> pa.Table:
    rows = [
        {
            **row,
            "dataset": dataset,
            "file_id": file_id,
            "raw_bytes": row.get("raw_bytes", len(row["raw_record"])),
            "raw_excerpt": row["raw_record"][:500].decode("utf-8", "backslashreplace"),
        }
        for row in rows
    ]
    return pa.Table.from_pylist(rows, schema=QUARANTINE_SCHEMA)
