"""`ingest events`: Realtime event logs (local or Azure Blob) -> landed Parquet.

One input file is read as a stream: records are parsed by ingest.sources.realtime_events,
buffered per event date and written in batches, so memory stays flat whatever the file size.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import operator
import zlib
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Executor, Future
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.compute as pc

from ingest.inputs import InputFile
from ingest.landing import LandingZone, LoadRecord, PartitionedWriter, load_key
from ingest.sources import realtime_events as rt

DATASET = "realtime_events"
ACCEPTED_SUFFIXES = (".jsonl", ".ndjson", ".json", ".jsonl.gz", ".ndjson.gz", ".json.gz")
READ_CHUNK = 8 << 20  # bytes of whole lines parsed as one chunk (by one worker)
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


def accepts(name: str) -> bool:
    return name.lower().endswith(ACCEPTED_SUFFIXES)


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
    """Passes bytes through while hashing them: the content identity of the stored file."""

    def __init__(self, inner: io.BufferedIOBase) -> None:
        self.inner = inner
        self.sha256 = hashlib.sha256()
        self.bytes_read = 0

    def readable(self) -> bool:
        return True

    def readinto(self, target) -> int:
        n = self.inner.readinto(target)
        if n:
            self.sha256.update(memoryview(target)[:n])
            self.bytes_read += n
        return n or 0

    def close(self) -> None:
        self.inner.close()
        super().close()


Record = tuple[int, bytes, Any, bool]  # (record number, raw bytes, decoded object or None, is_last)


@dataclass
class ChunkResult:
    """What parsing one run of records produced: landed rows by UTC date, quarantined records."""

    tables: dict[str, pa.Table]
    quarantined: list[dict[str, Any]]
    records: int
    blank_lines: int
    last_session_id: str | None


_ROW_VALUES = operator.itemgetter(*EVENT_SCHEMA.names)


def _table(rows: list[tuple[Any, ...]]) -> pa.Table:
    """Rows (tuples in EVENT_SCHEMA order) -> an Arrow table, column by column."""
    columns = zip(*rows, strict=True)
    arrays = [
        pa.array(values, type=f.type) for values, f in zip(columns, EVENT_SCHEMA, strict=True)
    ]
    return pa.Table.from_arrays(arrays, schema=EVENT_SCHEMA)


def parse_records(
    records: Iterable[Record], options: EventOptions, uri: str, session_id: str | None = None
) -> ChunkResult:
    """Parse a run of records of one file. `session_id` is the session in force at its start
    (None when unknown: the caller fills rows left without a session, see `_carry_session`)."""
    ctx = rt.FileContext(defaults=options.defaults(), session_id=session_id)
    by_day: dict[date, list[tuple[Any, ...]]] = {}
    quarantined: list[dict[str, Any]] = []
    count = blanks = 0
    for number, raw, decoded, is_last in records:
        if decoded is None and not raw.strip():
            blanks += 1
            continue
        count += 1
        try:
            if isinstance(decoded, rt.RecordError):
                raise decoded
            if decoded is None:
                row = rt.parse_record(raw.rstrip(b"\r"), ctx)
            else:
                row = rt.parse_object(decoded, raw, ctx)
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
        row["source_uri"] = uri
        row["record_number"] = number
        day = row["received_at"].date()
        rows = by_day.get(day)
        if rows is None:
            rows = by_day[day] = []
        rows.append(_ROW_VALUES(row))
    tables = {day.isoformat(): _table(rows) for day, rows in by_day.items()}
    return ChunkResult(tables, quarantined, count, blanks, ctx.session_id)


def parse_jsonl_chunk(
    data: bytes, first_number: int, unterminated: bool, options: EventOptions, uri: str
) -> ChunkResult:
    """Parse whole lines of a JSONL log (`unterminated`: the last line ends the file without a
    newline). Runs in worker processes: top-level and picklable."""
    lines = data.split(b"\n")
    last = len(lines) - 1
    records = (
        (first_number + i, line, None, unterminated and i == last) for i, line in enumerate(lines)
    )
    return parse_records(records, options, uri)


def _jsonl_chunks(stream: io.BufferedIOBase) -> Iterator[tuple[bytes, int, bool]]:
    """Blocks of whole lines: (data without its final newline, first line number, unterminated)."""
    number = 1
    rest = b""
    while block := stream.read(READ_CHUNK):
        data = rest + block
        cut = data.rfind(b"\n")
        if cut < 0:
            rest = data
            continue
        chunk, rest = data[:cut], data[cut + 1 :]
        yield chunk, number, False
        number += chunk.count(b"\n") + 1
    if rest:
        yield rest, number, True


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


def _open_log(stream: io.BufferedIOBase, name: str) -> tuple[io.BufferedIOBase, bool]:
    """(decompressed stream, is a JSON array): `.gz` is gunzipped; a `.json` file starting with
    `[` is an array, anything else is read as JSONL."""
    lowered = name.lower()
    if lowered.endswith(".gz"):
        stream = io.BufferedReader(gzip.GzipFile(fileobj=stream, mode="rb"), READ_CHUNK)
        lowered = lowered[:-3]
    is_array = lowered.endswith(".json") and stream.peek(64).lstrip()[:1] == b"["
    return stream, is_array


def _carry_session(result: ChunkResult, session_id: str | None) -> None:
    """Give rows that a worker left without a session the session in force before the chunk."""
    if session_id is None:
        return
    for day, table in result.tables.items():
        missing = pc.is_null(table["session_id"])
        if not pc.any(missing).as_py():
            continue
        index = table.schema.get_field_index("session_id")
        table = table.set_column(
            index, "session_id", pc.if_else(missing, session_id, table["session_id"])
        )
        index = table.schema.get_field_index("session_id_source")
        result.tables[day] = table.set_column(
            index,
            "session_id_source",
            pc.if_else(missing, "file_context", table["session_id_source"]),
        )


def _chunk_results(
    stream: io.BufferedIOBase,
    is_array: bool,
    options: EventOptions,
    uri: str,
    pool: Executor | None,
    workers: int,
) -> Iterator[ChunkResult]:
    """Results in file order, with sessions carried across chunks. With a process pool, up to
    2 x workers chunks are parsed at once; memory stays bounded by that window."""
    if is_array:
        yield parse_records(_array_records(stream), options, uri)
        return
    chunks = _jsonl_chunks(stream)
    session_id: str | None = None
    if pool is None:
        for data, first, unterminated in chunks:
            result = parse_jsonl_chunk(data, first, unterminated, options, uri)
            _carry_session(result, session_id)
            session_id = result.last_session_id or session_id
            yield result
        return
    window: deque[Future[ChunkResult]] = deque()
    for data, first, unterminated in chunks:
        window.append(pool.submit(parse_jsonl_chunk, data, first, unterminated, options, uri))
        if len(window) >= 2 * workers:
            result = window.popleft().result()
            _carry_session(result, session_id)
            session_id = result.last_session_id or session_id
            yield result
    while window:
        result = window.popleft().result()
        _carry_session(result, session_id)
        session_id = result.last_session_id or session_id
        yield result


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
    other options replaces the earlier landing. With `pool`, JSONL chunks are parsed by
    `workers` processes; rows, line numbers and sessions are the same as parsing in order.
    """
    options_json = options.as_json()
    key = load_key(file.uri, file.size, file.version, options_json)
    record = LoadRecord(key, DATASET, file.uri, file.size, file.version, options_json)
    if key in done_keys:
        return FileResult(record, skipped=True)

    writer = PartitionedWriter(zone.dataset_dir(DATASET), "event_date", EVENT_SCHEMA)
    quarantined: list[dict[str, Any]] = []
    hashing: _HashingReader | None = None
    try:
        hashing = _HashingReader(file.open())
        stream, is_array = _open_log(io.BufferedReader(hashing, READ_CHUNK), file.name)
        last_reported = 0
        for result in _chunk_results(stream, is_array, options, file.uri, pool, workers):
            record.records_read += result.records
            record.blank_lines += result.blank_lines
            quarantined.extend(result.quarantined)
            for day, table in result.tables.items():
                record.rows_landed += table.num_rows
                writer.write(day, table)
            if progress is not None:
                progress(hashing.bytes_read - last_reported)
                last_reported = hashing.bytes_read
    except (OSError, EOFError, zlib.error, gzip.BadGzipFile) as exc:
        writer.abort()
        record.status = "failed"
        record.rows_landed = 0
        record.message = f"{file.uri}: could not be read: {exc}"
        zone.record_load(record)
        return FileResult(record)
    except BaseException:
        writer.abort()
        raise
    finally:
        if hashing is not None:
            hashing.close()
    echo = [
        f"{row['source_uri']}:{row['record_number']}: {row['reason']}"
        for row in quarantined[:QUARANTINE_ECHO]
    ]

    record.content_sha256 = hashing.sha256.hexdigest()
    record.file_id = record.content_sha256[:32]
    record.rows_quarantined = len(quarantined)
    if landed.get(record.file_id) == options_json:
        writer.abort()
        record.status = "duplicate_content"
        record.message = "same content and options already landed from another source"
        record.rows_duplicate = record.rows_landed + record.rows_quarantined
        record.rows_landed = 0
        record.rows_quarantined = 0
    elif record.records_read == 0:
        writer.abort()
        record.status = "empty"
        record.message = "file holds no records"
    else:
        zone.remove_landed(DATASET, record.file_id)
        zone.write_quarantine(DATASET, record.file_id, quarantined)
        record.partitions = writer.partitions
        writer.commit(record.file_id)
        record.status = "landed"
        landed[record.file_id] = options_json
    zone.record_load(record)
    return FileResult(record, quarantine_echo=echo)
