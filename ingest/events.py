"""`ingest events`: Realtime event logs (local or Azure Blob) -> landed Parquet.

One input file is read as a stream of chunks of whole lines (READ_CHUNK bytes). Each chunk is
parsed by ingest.sources.realtime_events and written as its own Parquet part per UTC event
date - in worker processes when there are several CPUs - so memory stays flat whatever the file
size. Parts get their final names only when the whole file has been read (landing.commit_parts).
"""

from __future__ import annotations

import gc
import gzip
import io
import json
import zlib
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Executor, Future
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import xxhash

from ingest.inputs import InputFile
from ingest.landing import (
    LandingZone,
    LoadRecord,
    PartWriter,
    abort_parts,
    commit_parts,
    load_key,
)
from ingest.sources import realtime_events as rt

DATASET = "realtime_events"
ACCEPTED_SUFFIXES = (".jsonl", ".ndjson", ".json", ".jsonl.gz", ".ndjson.gz", ".json.gz")
READ_CHUNK = 16 << 20  # bytes of whole lines parsed as one chunk, by one worker, into one part
BATCH_ROWS = 10_000  # rows buffered per date before they are written as a row group
QUARANTINE_ECHO = 20  # quarantined records echoed to stderr per file

_INT = pa.int64()
_STR = pa.string()


def _struct(fields: tuple[str, ...], types: dict[str, pa.DataType]) -> pa.StructType:
    return pa.struct([(name, types.get(name, _STR)) for name in fields])


EVENT_TYPES: dict[str, pa.DataType] = {
    "record_number": _INT,
    "received_at": pa.timestamp("us", tz="UTC"),
    "audio_start_ms": _INT,
    "audio_end_ms": _INT,
    "audio_payload_bytes": _INT,
    "session_config": _struct(
        rt.SESSION_CONFIG_FIELDS, {"input_audio_rate": _INT, "output_audio_rate": _INT}
    ),
    "usage": _struct(
        rt.USAGE_FIELDS,
        {
            "usage_seconds": pa.float64(),
            **{f: _INT for f in rt.USAGE_FIELDS if f.endswith("_tokens")},
        },
    ),
    "error": _struct(rt.ERROR_FIELDS, {}),
}
EVENT_SCHEMA = pa.schema(
    [(c, EVENT_TYPES.get(c, _STR)) for c in ("source_uri", "record_number", *rt.EVENT_COLUMNS)]
)
_RECEIVED_AT = rt.EVENT_COLUMNS.index("received_at")


def accepts(name: str) -> bool:
    """Event logs by name; `manifest.json` (a Cost Management export manifest) is not one."""
    lowered = name.lower()
    return lowered.endswith(ACCEPTED_SUFFIXES) and lowered.rsplit("/", 1)[-1] != "manifest.json"


@dataclass(frozen=True)
class EventOptions:
    """Parse options that change what lands; part of a load's identity."""

    resource_name: str | None = None
    deployment_name: str | None = None
    received_at: str | None = None

    def defaults(self) -> rt.Defaults:
        received = rt.parse_received_at(self.received_at) if self.received_at else None
        return rt.Defaults(self.resource_name, self.deployment_name, received)

    def as_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)


@dataclass
class FileResult:
    record: LoadRecord
    skipped: bool = False
    quarantine_echo: list[str] | None = None


class _HashingReader(io.RawIOBase):
    """Passes bytes through while hashing them (XXH3-128: a content identity, not a security
    check; it runs at memory speed, where SHA-256 cost a tenth of the ingest time)."""

    def __init__(self, inner: io.BufferedIOBase) -> None:
        self.inner = inner
        self.hash = xxhash.xxh3_128()
        self.bytes_read = 0

    def readable(self) -> bool:
        return True

    def readinto(self, target) -> int:
        n = self.inner.readinto(target)
        if n:
            self.hash.update(memoryview(target)[:n])
            self.bytes_read += n
        return n or 0

    def close(self) -> None:
        self.inner.close()
        super().close()


Record = tuple[int, bytes, Any, bool]  # (record number, raw bytes, decoded object or None, is_last)


@dataclass
class ChunkResult:
    """What parsing one run of records produced: Parquet parts written (still under temporary
    names, see landing.commit_parts), counts and the quarantined records."""

    parts: list[Path]
    rows: int
    records: int
    blank_lines: int
    quarantined: list[dict[str, Any]]


def _table(uri: str, numbers: list[int], rows: list[rt.Row]) -> pa.Table:
    """Rows of one file (parser Rows and their record numbers) -> an Arrow table, column by
    column, in EVENT_SCHEMA order (source_uri, record_number, then the Row's columns)."""
    fields = iter(EVENT_SCHEMA)
    arrays = [pa.repeat(pa.scalar(uri, next(fields).type), len(rows))]
    arrays.append(pa.array(numbers, type=next(fields).type))
    columns = zip(*rows, strict=True)
    arrays += [pa.array(values, type=f.type) for values, f in zip(columns, fields, strict=True)]
    return pa.Table.from_arrays(arrays, schema=EVENT_SCHEMA)


def parse_records(
    records: Iterable[Record], options: EventOptions, uri: str, dataset_dir: Path
) -> ChunkResult:
    """Parse a run of records of one file and write its rows as Parquet parts, one per UTC date.

    The cyclic garbage collector is paused meanwhile: parsing allocates many small containers and
    none of them form cycles, so collections would only cost time (about 10%).
    """
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        return _parse_records(records, options, uri, dataset_dir)
    finally:
        if gc_was_enabled:
            gc.enable()


def _parse_records(
    records: Iterable[Record], options: EventOptions, uri: str, dataset_dir: Path
) -> ChunkResult:
    defaults = options.defaults()
    writer = PartWriter(dataset_dir, "event_date", EVENT_SCHEMA)
    by_day: dict[date, tuple[list[int], list[rt.Row]]] = {}
    quarantined: list[dict[str, Any]] = []
    count = blanks = landed = 0
    try:
        for number, raw, decoded, is_last in records:
            if decoded is None and (not raw or raw.isspace()):
                blanks += 1
                continue
            count += 1
            try:
                if isinstance(decoded, rt.RecordError):
                    raise decoded
                if decoded is None:
                    row = rt.parse_record(raw[:-1] if raw.endswith(b"\r") else raw, defaults)
                else:
                    row = rt.parse_object(decoded, raw, defaults)
            except rt.RecordError as exc:
                reason = str(exc)
                if is_last and decoded is None and reason.startswith("not valid JSON"):
                    reason = f"truncated last line (no newline at end of file): {reason}"
                quarantined.append(
                    {
                        "source_uri": uri,
                        "record_number": number,
                        "reason": reason,
                        "raw_record": raw,
                        "quarantined_at": datetime.now(UTC),
                    }
                )
                continue
            day = row[_RECEIVED_AT].date()
            batch = by_day.get(day)
            if batch is None:
                batch = by_day[day] = ([], [])
            numbers, rows = batch
            numbers.append(number)
            rows.append(row)
            if len(rows) >= BATCH_ROWS:
                writer.write(day.isoformat(), _table(uri, numbers, rows))
                landed += len(rows)
                numbers.clear()
                rows.clear()
        for day, (numbers, rows) in by_day.items():
            if rows:
                writer.write(day.isoformat(), _table(uri, numbers, rows))
                landed += len(rows)
    except BaseException:
        writer.abort()
        raise
    parts = writer.close()
    return ChunkResult(parts, landed, count, blanks, quarantined)


def parse_jsonl_chunk(
    data: bytes,
    first_number: int,
    unterminated: bool,
    options: EventOptions,
    uri: str,
    dataset_dir: Path,
) -> ChunkResult:
    """Parse whole lines of a JSONL log (`unterminated`: the last line ends the file without a
    newline). Runs in worker processes: top-level and picklable."""
    lines = data.split(b"\n")
    last = len(lines) - 1
    records = (
        (first_number + i, line, None, unterminated and i == last) for i, line in enumerate(lines)
    )
    return parse_records(records, options, uri, dataset_dir)


def _array_records(stream: io.BufferedIOBase) -> Iterator[Record]:
    """A .json file holding an array of events (read whole: use JSONL for large logs)."""
    content = stream.read()
    try:
        events = orjson.loads(content)
    except orjson.JSONDecodeError as exc:
        yield 1, content, rt.RecordError(f"file is not a valid JSON array: {exc}"), True
        return
    if not isinstance(events, list):
        yield 1, content, rt.RecordError("a .json file must hold an array of events"), True
        return
    for index, event in enumerate(events, start=1):
        yield index, orjson.dumps(event), event, index == len(events)


def _open_log(stream: io.BufferedIOBase, name: str) -> tuple[io.BufferedIOBase, str]:
    """(readable stream, kind): kind is `array` for a `.json` file starting with `[`, else
    `gzip` or `plain` JSONL; `.gz` files are gunzipped on the fly."""
    lowered = name.lower()
    kind = "plain"
    if lowered.endswith(".gz"):
        stream = io.BufferedReader(gzip.GzipFile(fileobj=stream, mode="rb"), READ_CHUNK)
        lowered, kind = lowered[:-3], "gzip"
    if lowered.endswith(".json") and stream.peek(64).lstrip()[:1] == b"[":
        kind = "array"
    return stream, kind


def parse_jsonl_range(
    path: Path,
    offset: int,
    length: int,
    first_number: int,
    unterminated: bool,
    options: EventOptions,
    uri: str,
    dataset_dir: Path,
) -> ChunkResult:
    """parse_jsonl_chunk on a byte range of a local file, read by the worker itself."""
    with path.open("rb") as f:
        f.seek(offset)
        data = f.read(length)
    return parse_jsonl_chunk(data, first_number, unterminated, options, uri, dataset_dir)


def _jsonl_chunks(
    stream: io.BufferedIOBase, keep: bool
) -> Iterator[tuple[int, int, int, bool, bytes]]:
    """A JSONL stream cut into blocks of whole lines: (offset, length, first line number,
    unterminated, data). `data` is the block without its final newline when `keep`, else empty
    (the caller only hashes and counts lines; workers read the byte range themselves)."""
    position = start = newlines = 0
    first = 1
    kept: list[bytes] = []
    while block := stream.read(READ_CHUNK):
        last = block.rfind(b"\n")
        newlines += block.count(b"\n")
        if keep:
            kept.append(block)
        if last >= 0:
            end = position + last
            data = b""
            if keep:
                joined = b"".join(kept)
                data, kept = joined[: end - start], [joined[end - start + 1 :]]
            yield start, end - start, first, False, data
            start, first = end + 1, newlines + 1
        position += len(block)
    if start < position:
        yield start, position - start, first, True, b"".join(kept)


Task = tuple[Callable[..., ChunkResult], tuple[Any, ...]]


def _chunk_tasks(stream: io.BufferedIOBase, local_path: Path | None) -> Iterator[Task]:
    """Parse calls for a JSONL log: byte ranges of a plain local file (workers read them), else
    the bytes themselves (gzip, Blob)."""
    chunks = _jsonl_chunks(stream, keep=local_path is None)
    for offset, length, first, unterminated, data in chunks:
        if local_path is not None:
            yield parse_jsonl_range, (local_path, offset, length, first, unterminated)
        else:
            yield parse_jsonl_chunk, (data, first, unterminated)


def _chunk_results(
    stream: io.BufferedIOBase,
    kind: str,
    file: InputFile,
    options: EventOptions,
    dataset_dir: Path,
    pool: Executor | None,
    workers: int,
) -> Iterator[ChunkResult]:
    """Results in file order. With a process pool, up to 2 x workers chunks are parsed at once;
    memory stays bounded by that window whatever the file size."""
    common = (options, file.uri, dataset_dir)
    if kind == "array":
        yield parse_records(_array_records(stream), *common)
        return
    # workers read a plain local file's ranges themselves; in-process, the bytes are at hand
    local_path = file.local_path if kind == "plain" and pool is not None else None
    tasks = _chunk_tasks(stream, local_path)
    if pool is None:
        for function, args in tasks:
            yield function(*args, *common)
        return
    window: deque[Future[ChunkResult]] = deque()
    try:
        for function, args in tasks:
            window.append(pool.submit(function, *args, *common))
            if len(window) >= 2 * workers:
                yield window.popleft().result()
        while window:
            yield window.popleft().result()
    finally:  # on error: let running chunks finish, and drop what they wrote
        for future in window:
            if not future.cancel() and future.exception() is None:
                abort_parts(future.result().parts)


def read_events(
    file: InputFile,
    options: EventOptions,
    zone: LandingZone,
    done_keys: set[str],
    landed: dict[str, str],
    progress: Callable[[int], None] | None = None,
    pool: Executor | None = None,
    workers: int = 1,
) -> FileResult:
    """Land one input file. Never raises for bad records; a failure to read is a failed load.

    `done_keys` are load keys already final in the load log (skipped without reading); `landed`
    maps the content id of every landed file to the options it was landed with. The same content
    with the same options is a duplicate (a copied log) and lands nothing; the same content with
    other options replaces the earlier landing. With `pool`, JSONL chunks are parsed and written
    by `workers` processes; the rows are the same as in one process.
    """
    options_json = options.as_json()
    key = load_key(file.uri, file.size, file.version, options_json)
    record = LoadRecord(key, DATASET, file.uri, file.size, file.version, options_json)
    if key in done_keys:
        return FileResult(record, skipped=True)

    dataset_dir = zone.dataset_dir(DATASET)
    parts: list[Path] = []
    quarantined: list[dict[str, Any]] = []
    hashing: _HashingReader | None = None
    try:
        hashing = _HashingReader(file.open())
        stream, kind = _open_log(io.BufferedReader(hashing, READ_CHUNK), file.name)
        last_reported = 0
        for result in _chunk_results(stream, kind, file, options, dataset_dir, pool, workers):
            parts.extend(result.parts)
            record.records_read += result.records
            record.blank_lines += result.blank_lines
            record.rows_landed += result.rows
            quarantined.extend(result.quarantined)
            if progress is not None:
                progress(hashing.bytes_read - last_reported)
                last_reported = hashing.bytes_read
    except (OSError, EOFError, zlib.error, gzip.BadGzipFile) as exc:
        abort_parts(parts)
        record.status = "failed"
        record.rows_landed = 0
        record.message = f"{file.uri}: could not be read: {exc}"
        zone.record_load(record)
        return FileResult(record)
    except BaseException:
        abort_parts(parts)
        raise
    finally:
        if hashing is not None:
            hashing.close()
    echo = [
        f"{row['source_uri']}:{row['record_number']}: {row['reason']}"
        for row in quarantined[:QUARANTINE_ECHO]
    ]

    record.file_id = hashing.hash.hexdigest()
    record.rows_quarantined = len(quarantined)
    if landed.get(record.file_id) == options_json:
        abort_parts(parts)
        record.status = "duplicate_content"
        record.message = "same content and options already landed from another source"
        record.rows_duplicate = record.rows_landed + record.rows_quarantined
        record.rows_landed = 0
        record.rows_quarantined = 0
    elif record.records_read == 0:
        abort_parts(parts)
        record.status = "empty"
        record.message = "file holds no records"
    else:
        zone.remove_landed(DATASET, record.file_id)
        zone.write_quarantine(DATASET, record.file_id, quarantined)
        record.partitions = sorted({p.parent.name.partition("=")[2] for p in parts})
        commit_parts(parts, record.file_id)
        record.status = "landed"
        landed[record.file_id] = options_json
    zone.record_load(record)
    return FileResult(record, quarantine_echo=echo)
