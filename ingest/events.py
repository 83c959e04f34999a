"""`ingest events`: Realtime event logs (local or Azure Blob) -> landed Parquet.

One input file is read as a stream of chunks of whole lines (READ_CHUNK bytes). Each chunk is
parsed by ingest.sources.realtime_events and written as its own Parquet part per UTC event
date - in worker processes when there are several CPUs - so memory stays flat whatever the file
size. Parts are written in the run's scratch folder and get their final names only when the
whole file has been read (landing.Scratch.commit_load).

Whatever a record holds, it is landed or quarantined with its reason, never both, never
neither: the parser checks every value against the landed type, an unexpected exception while
parsing one record quarantines that record, a batch Arrow refuses is salvaged row by row, a line
longer than MAX_LINE_BYTES is quarantined by its length without ever being held whole, and a
UTF-8 byte order mark opening a file is skipped. Only a file that cannot be read (an I/O error,
a corrupt gzip) fails its load.
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
from dataclasses import asdict, dataclass, replace
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
    Scratch,
    abort_parts,
    load_key,
)
from ingest.sources import realtime_events as rt

DATASET = "realtime_events"
ACCEPTED_SUFFIXES = (".jsonl", ".ndjson", ".json", ".jsonl.gz", ".ndjson.gz", ".json.gz")
READ_CHUNK = 16 << 20  # bytes of whole lines parsed as one chunk, by one worker, into one part
BATCH_ROWS = 10_000  # rows buffered per date before they are written as a row group
QUARANTINE_ECHO = 20  # quarantined records echoed to stderr per file
MAX_LINE_BYTES = 64 << 20  # a longer line is quarantined by its length, never held whole
MAX_ARRAY_BYTES = 256 << 20  # a larger .json array is quarantined whole: write it as JSONL
QUARANTINE_EXCERPT = 4096  # bytes kept of a record quarantined for its size
BOM = b"\xef\xbb\xbf"  # a UTF-8 byte order mark, skipped at the start of a file

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
        """Parser defaults; RecordError when --received-at is not a plausible time."""
        defaults = rt.Defaults(self.resource_name, self.deployment_name)
        if not self.received_at:
            return defaults
        received = rt.parse_received_at(self.received_at)
        rt.check_received_at(received, self.received_at, defaults.latest_received_at)
        return replace(defaults, received_at=received)

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
    names in the scratch folder, see landing.Scratch.commit_load), counts and the quarantined
    records."""

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


def _quarantine_row(
    uri: str, number: int, raw: bytes, reason: str, raw_bytes: int | None = None
) -> dict[str, Any]:
    row = {
        "source_uri": uri,
        "record_number": number,
        "reason": reason,
        "raw_record": raw,
        "quarantined_at": datetime.now(UTC),
    }
    if raw_bytes is not None:
        row["raw_bytes"] = raw_bytes
    return row


def _too_long(uri: str, number: int, excerpt: bytes, length: int, limit: int, last: bool):
    """The quarantine row of a line over the limit: its length, and only its first bytes."""
    where = " (the last line, no newline at end of file)" if last else ""
    reason = (
        f"line of {length} bytes exceeds the {limit}-byte limit{where}; "
        f"only its first {min(length, QUARANTINE_EXCERPT)} bytes are kept"
    )
    return _quarantine_row(uri, number, excerpt[:QUARANTINE_EXCERPT], reason, length)


class _Batch:
    """Rows of one UTC date waiting to be written: record numbers, Rows and raw records (the
    raw records only to quarantine a row Arrow refuses)."""

    __slots__ = ("numbers", "raws", "rows")

    def __init__(self) -> None:
        self.numbers: list[int] = []
        self.rows: list[rt.Row] = []
        self.raws: list[bytes] = []


_ARROW_ERRORS = (pa.ArrowException, OverflowError, TypeError, ValueError)


def _batch_table(uri: str, batch: _Batch, quarantined: list[dict[str, Any]]) -> pa.Table | None:
    """The batch as a table. Should Arrow refuse a value the parser let through, the batch is
    converted row by row and each refused row is quarantined instead (a safety net: the parser
    checks every value's type)."""
    try:
        return _table(uri, batch.numbers, batch.rows)
    except _ARROW_ERRORS:
        pass
    tables = []
    for number, row, raw in zip(batch.numbers, batch.rows, batch.raws, strict=True):
        try:
            tables.append(_table(uri, [number], [row]))
        except _ARROW_ERRORS as exc:
            reason = f"a value does not fit the landed schema: {type(exc).__name__}: {exc}"
            quarantined.append(_quarantine_row(uri, number, raw, reason))
    return pa.concat_tables(tables) if tables else None


def parse_records(
    records: Iterable[Record],
    options: EventOptions,
    uri: str,
    parts_dir: Path,
    max_line: int = MAX_LINE_BYTES,
) -> ChunkResult:
    """Parse a run of records of one file and write its rows as Parquet parts, one per UTC date.

    The cyclic garbage collector is paused meanwhile: parsing allocates many small containers and
    none of them form cycles, so collections would only cost time (about 10%).
    """
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        return _parse_records(records, options, uri, parts_dir, max_line)
    finally:
        if gc_was_enabled:
            gc.enable()


def _parse_records(
    records: Iterable[Record], options: EventOptions, uri: str, parts_dir: Path, max_line: int
) -> ChunkResult:
    defaults = options.defaults()
    writer = PartWriter(parts_dir, "event_date", EVENT_SCHEMA)
    by_day: dict[date, _Batch] = {}
    quarantined: list[dict[str, Any]] = []
    count = blanks = landed = 0

    def write(day: date, batch: _Batch) -> None:
        nonlocal landed
        table = _batch_table(uri, batch, quarantined)
        if table is not None:
            writer.write(day.isoformat(), table)
            landed += table.num_rows
        batch.numbers.clear()
        batch.rows.clear()
        batch.raws.clear()

    try:
        for number, raw, decoded, is_last in records:
            if decoded is None and len(raw) > max_line:
                count += 1
                quarantined.append(_too_long(uri, number, raw, len(raw), max_line, is_last))
                continue
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
                day = row[_RECEIVED_AT].date()
            except rt.RecordError as exc:
                reason = str(exc)
                if is_last and decoded is None and reason.startswith("not valid JSON"):
                    reason = f"truncated last line (no newline at end of file): {reason}"
                size = exc.size if isinstance(exc, _TooLarge) else None
                quarantined.append(_quarantine_row(uri, number, raw, reason, size))
                continue
            except Exception as exc:  # a reader bug must cost one record, never the file
                reason = f"unexpected {type(exc).__name__} while parsing the record: {exc}"
                quarantined.append(_quarantine_row(uri, number, raw, reason))
                continue
            batch = by_day.get(day)
            if batch is None:
                batch = by_day[day] = _Batch()
            batch.numbers.append(number)
            batch.rows.append(row)
            batch.raws.append(raw)
            if len(batch.rows) >= BATCH_ROWS:
                write(day, batch)
        for day, batch in by_day.items():
            if batch.rows:
                write(day, batch)
    except BaseException:
        writer.abort()
        raise
    parts = writer.close()
    quarantined.sort(key=lambda row: row["record_number"])
    return ChunkResult(parts, landed, count, blanks, quarantined)


def parse_jsonl_chunk(
    data: bytes,
    first_number: int,
    unterminated: bool,
    max_line: int,
    options: EventOptions,
    uri: str,
    parts_dir: Path,
) -> ChunkResult:
    """Parse whole lines of a JSONL log (`unterminated`: the last line ends the file without a
    newline). Runs in worker processes: top-level and picklable."""
    lines = data.split(b"\n")
    last = len(lines) - 1
    records = (
        (first_number + i, line, None, unterminated and i == last) for i, line in enumerate(lines)
    )
    return parse_records(records, options, uri, parts_dir, max_line)


def parse_jsonl_range(
    path: Path,
    offset: int,
    length: int,
    first_number: int,
    unterminated: bool,
    max_line: int,
    options: EventOptions,
    uri: str,
    parts_dir: Path,
) -> ChunkResult:
    """parse_jsonl_chunk on a byte range of a local file, read by the worker itself."""
    with path.open("rb") as f:
        f.seek(offset)
        data = f.read(length)
    return parse_jsonl_chunk(data, first_number, unterminated, max_line, options, uri, parts_dir)


def long_line(
    number: int,
    length: int,
    excerpt: bytes,
    unterminated: bool,
    max_line: int,
    options: EventOptions,
    uri: str,
    parts_dir: Path,
) -> ChunkResult:
    """The result of a line the chunker skipped for its length: one quarantined record."""
    row = _too_long(uri, number, excerpt, length, max_line, unterminated)
    return ChunkResult([], 0, 1, 0, [row])


class _TooLarge(rt.RecordError):
    """A record quarantined for its size: only its first bytes are kept."""

    def __init__(self, reason: str, size: int) -> None:
        super().__init__(reason)
        self.size = size


def _array_records(stream: io.BufferedIOBase) -> Iterator[Record]:
    """A .json file holding an array of events, read whole (use JSONL for large logs): one over
    MAX_ARRAY_BYTES is quarantined as one record, by its size, and read no further than that."""
    content = stream.read(MAX_ARRAY_BYTES + 1)
    if len(content) > MAX_ARRAY_BYTES:
        size = len(content)
        while block := stream.read(READ_CHUNK):  # to the end: the size, and the content hash
            size += len(block)
        reason = (
            f"a .json array of {size} bytes exceeds the {MAX_ARRAY_BYTES}-byte limit "
            "(write large logs as JSONL, one event a line)"
        )
        yield 1, content[:QUARANTINE_EXCERPT], _TooLarge(reason, size), True
        return
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


def _open_log(stream: io.BufferedIOBase, name: str) -> tuple[io.BufferedIOBase, str, int]:
    """(readable stream, kind, bytes skipped): kind is `array` for a `.json` file starting with
    `[`, else `gzip` or `plain` JSONL; `.gz` files are gunzipped on the fly. A UTF-8 byte order
    mark at the start is read past (3 bytes skipped)."""
    lowered = name.lower()
    kind = "plain"
    if lowered.endswith(".gz"):
        stream = io.BufferedReader(gzip.GzipFile(fileobj=stream, mode="rb"), READ_CHUNK)
        lowered, kind = lowered[:-3], "gzip"
    skipped = 0
    if stream.peek(len(BOM))[: len(BOM)] == BOM:
        skipped = len(stream.read(len(BOM)))
    if lowered.endswith(".json") and stream.peek(64).lstrip()[:1] == b"[":
        kind = "array"
    return stream, kind, skipped


Lines = tuple[int, int, int, bool, bytes]  # offset, length, first line number, unterminated, data
LongLine = tuple[int, int, bytes, bool]  # line number, length, first bytes, unterminated


def _jsonl_chunks(
    stream: io.BufferedIOBase, keep: bool, position: int = 0, max_line: int = MAX_LINE_BYTES
) -> Iterator[Lines | LongLine]:
    """A JSONL stream cut into blocks of whole lines: Lines (offset, length, first line number,
    unterminated, data) - `data` is the block without its final newline when `keep`, else empty
    (the caller only hashes and counts lines; workers read the byte range themselves) - and, for
    a line that grows past `max_line` bytes, a LongLine (line number, length, its first
    QUARANTINE_EXCERPT bytes, unterminated): such a line is read past, never held whole.
    `position` is the stream's offset in the file (after a byte order mark)."""
    start = position  # offset of the first byte not yet handed out: the start of a line
    number = 1  # its line number
    kept: list[bytes] = []  # with `keep`: the bytes from `start` on
    head = b""  # the first bytes of the line at `start`
    skipping = False  # reading past a line longer than max_line
    while block := stream.read(READ_CHUNK):
        if skipping:
            newline = block.find(b"\n")
            if newline < 0:
                position += len(block)
                continue
            yield number, position + newline - start, head, False
            number += 1
            skipping = False
            block = block[newline + 1 :]
            position = start = position + newline + 1
            head = b""
        last = block.rfind(b"\n")
        if last >= 0:
            data = b""
            if keep:
                kept.append(block[:last])
                data = b"".join(kept)
                kept = [block[last + 1 :]]
            yield start, position + last - start, number, False, data
            number += block.count(b"\n")
            start = position + last + 1
            head = block[last + 1 : last + 1 + QUARANTINE_EXCERPT]
        else:
            if keep:
                kept.append(block)
            if len(head) < QUARANTINE_EXCERPT:
                head += block[: QUARANTINE_EXCERPT - len(head)]
        position += len(block)
        if position - start > max_line:  # the line at `start` is too long: read past it
            skipping = True
            kept = []
    if skipping:
        yield number, position - start, head, True
    elif start < position:
        yield start, position - start, number, True, b"".join(kept)


Task = tuple[Callable[..., ChunkResult], tuple[Any, ...]]


def _chunk_tasks(
    stream: io.BufferedIOBase, local_path: Path | None, skipped: int, max_line: int
) -> Iterator[Task]:
    """Parse calls for a JSONL log: byte ranges of a plain local file (workers read them), else
    the bytes themselves (gzip, Blob); a line too long to parse is quarantined in-process."""
    chunks = _jsonl_chunks(stream, local_path is None, skipped, max_line)
    for chunk in chunks:
        if len(chunk) == 4:
            yield long_line, (*chunk, max_line)
        elif local_path is not None:
            offset, length, first, unterminated, _ = chunk
            yield parse_jsonl_range, (local_path, offset, length, first, unterminated, max_line)
        else:
            _, _, first, unterminated, data = chunk
            yield parse_jsonl_chunk, (data, first, unterminated, max_line)


def _chunk_results(
    stream: io.BufferedIOBase,
    kind: str,
    skipped: int,
    file: InputFile,
    options: EventOptions,
    parts_dir: Path,
    pool: Executor | None,
    workers: int,
) -> Iterator[ChunkResult]:
    """Results in file order. With a process pool, up to 2 x workers chunks are parsed at once;
    memory stays bounded by that window whatever the file size."""
    common = (options, file.uri, parts_dir)
    if kind == "array":
        yield parse_records(_array_records(stream), *common)
        return
    # workers read a plain local file's ranges themselves; in-process, the bytes are at hand
    local_path = file.local_path if kind == "plain" and pool is not None else None
    tasks = _chunk_tasks(stream, local_path, skipped, MAX_LINE_BYTES)
    if pool is None:
        for function, args in tasks:
            yield function(*args, *common)
        return
    window: deque[Future[ChunkResult]] = deque()
    try:
        for function, args in tasks:
            if function is long_line:  # nothing to parse: done here, in its place in the order
                done: Future[ChunkResult] = Future()
                done.set_result(function(*args, *common))
                window.append(done)
            else:
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
    scratch: Scratch | None = None,
) -> FileResult:
    """Land one input file. Never raises for bad records; a failure to read is a failed load.

    `done_keys` are load keys already final in the load log (skipped without reading); `landed`
    maps the content id of every landed file to the options it was landed with. The same content
    with the same options is a duplicate (a copied log) and lands nothing; the same content with
    other options replaces the earlier landing. With `pool`, JSONL chunks are parsed and written
    by `workers` processes; the rows are the same as in one process. Parts are written in
    `scratch` (the run's scratch folder; one of its own when not given).
    """
    options_json = options.as_json()
    key = load_key(file.uri, file.size, file.version, options_json)
    record = LoadRecord(key, DATASET, file.uri, file.size, file.version, options_json)
    if key in done_keys:
        return FileResult(record, skipped=True)
    if scratch is None:
        with zone.scratch(DATASET) as own:
            return read_events(file, options, zone, done_keys, landed, progress, pool, workers, own)

    parts_dir = scratch.parts_dir()
    parts: list[Path] = []
    quarantined: list[dict[str, Any]] = []
    hashing: _HashingReader | None = None
    try:
        hashing = _HashingReader(file.open())
        stream, kind, skipped = _open_log(io.BufferedReader(hashing, READ_CHUNK), file.name)
        last_reported = 0
        results = _chunk_results(stream, kind, skipped, file, options, parts_dir, pool, workers)
        for result in results:
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
        scratch.record_load(zone, record)
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
        scratch.record_load(zone, record)
    elif record.records_read == 0:
        abort_parts(parts)
        record.status = "empty"
        record.message = "file holds no records"
        scratch.record_load(zone, record)
    else:
        record.partitions = sorted({p.parent.name.partition("=")[2] for p in parts})
        record.status = "landed"
        scratch.commit_load(zone, record, parts, quarantined)
        landed[record.file_id] = options_json
    return FileResult(record, quarantine_echo=echo)
