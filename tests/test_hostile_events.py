"""`ingest events` against hostile logs and hostile runs: bad values, byte order marks, clocks in
the wrong unit, endless lines, logs of many days, linked folders, SIGKILL, concurrent runs.

The rule every test holds: a record is landed or quarantined with its reason - never both, never
neither - the load log balances, and the command fails only when it could not do its job.
"""

from __future__ import annotations

import gzip
import io
import os
import resource
import signal
import subprocess
import sys
import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import orjson
import pyarrow.parquet as pq
import pytest

from ingest import events, landing
from ingest.inputs import resolve
from ingest.sources import realtime_events as rt
from tests.conftest import PROJECT_ROOT, Workspace, write_jsonl

WHEN = "2026-03-31T09:14:05Z"


def envelope(event_id: str, **fields) -> dict:
    event = {"type": "response.output_text.delta", "event_id": event_id, "delta": "hi"}
    event.update(fields.pop("event", {}))
    return {"received_at": WHEN, "resource": "contoso", "event": event, **fields}


def line(record: dict | bytes) -> bytes:
    return record if isinstance(record, bytes) else orjson.dumps(record)


def load_log(ws: Workspace) -> list[dict]:
    return ws.landed(
        "select source_uri, status, records_read, rows_landed, rows_quarantined, "
        "rows_duplicate, blank_lines from load_log order by source_uri"
    )


def quarantine(ws: Workspace) -> list[dict]:
    return ws.landed(
        "select record_number, reason, raw_record, raw_bytes from quarantine "
        "order by source_uri, record_number"
    )


def landed_ids(ws: Workspace) -> list[str]:
    return [r["event_id"] for r in ws.landed("select event_id from landed order by event_id")]


def assert_balanced(ws: Workspace) -> None:
    for row in load_log(ws):
        assert row["records_read"] == (
            row["rows_landed"] + row["rows_quarantined"] + row["rows_duplicate"]
        ), row


# 1. One bad value costs its line, never the file --------------------------------------------

BAD_VALUES = [
    (
        "event_id",
        envelope("e2") | {"event": {"type": "error", "event_id": 123}},
        "field event_id: expected text, got number 123",
    ),
    (
        "response_id",
        envelope("e2", event={"response_id": 42}),
        "field response_id: expected text, got number 42",
    ),
    (
        "response.id",
        envelope("e2", event={"type": "response.done", "response": {"id": 7, "usage": None}}),
        "field response.id: expected text, got number 7",
    ),
    ("item_id", envelope("e2", event={"item_id": 5}), "field item_id: expected text, got number 5"),
    (
        "item.id",
        envelope("e2", event={"item": {"id": ["a"]}}),
        'field item.id: expected text, got array ["a"]',
    ),
    (
        "envelope session_id",
        envelope("e2", session_id=99),
        "field session_id: expected text, got number 99",
    ),
    (
        "session.id",
        envelope("e2", event={"type": "session.created", "session": {"id": 1.5}}),
        "field session.id: expected text, got number 1.5",
    ),
    (
        "deployment",
        envelope("e2", deployment=4),
        "field deployment: expected text, got number 4",
    ),
    ("resource", envelope("e2", resource=0), "field resource: expected text, got number 0"),
    (
        "resource object",
        envelope("e2", resource={"name": "x"}),
        'field resource: expected text, got object {"name":"x"}',
    ),
    (
        "usage beyond 64 bits",
        b'{"received_at": "2026-03-31T09:14:05Z", "resource": "r", "event": {"type": '
        b'"response.done", "event_id": "e2", "response": {"id": "resp_1", "usage": '
        b'{"total_tokens": 1180591620717411303424}}}}',
        "field usage.total_tokens: 1180591620717411303424 is beyond the 64-bit integer range",
    ),
    (
        "usage just beyond int64",
        b'{"received_at": "2026-03-31T09:14:05Z", "resource": "r", "event": {"type": '
        b'"response.done", "event_id": "e2", "response": {"id": "resp_1", "usage": '
        b'{"total_tokens": 9223372036854775808}}}}',
        "field usage.total_tokens: 9223372036854775808 is beyond the 64-bit integer range",
    ),
    (
        "year 99999",
        envelope("e2", received_at="99999-01-01T00:00:00Z"),
        "received_at is not ISO-8601 or epoch ms (or is out of range): '99999-01-01T00:00:00Z'",
    ),
    (
        "end of time in another zone",
        envelope("e2", received_at="9999-12-31T23:00:00-05:00"),
        "received_at is out of range in UTC: '9999-12-31T23:00:00-05:00'",
    ),
    (
        "huge epoch",
        envelope("e2", received_at=2**63),
        "received_at epoch milliseconds out of range: 9223372036854775808",
    ),
    (
        "unicode digits",
        envelope("e2", received_at="\u00b9\u00b2\u00b3"),
        "received_at is not ISO-8601 or epoch ms",
    ),
    (
        "error message",
        envelope("e2", event={"type": "error", "error": {"type": "x", "message": {"a": 1}}}),
        'field error.message: expected text, got object {"a":1}',
    ),
    (
        "audio rate",
        envelope(
            "e2",
            event={
                "type": "session.updated",
                "session": {
                    "audio": {"output": {"format": {"type": "audio/pcm", "rate": 2**64 - 1}}}
                },
            },
        ),
        "field session output audio format.rate: 18446744073709551615 is beyond",
    ),
]


@pytest.mark.parametrize(
    ("bad", "reason"), [case[1:] for case in BAD_VALUES], ids=[case[0] for case in BAD_VALUES]
)
def test_a_bad_value_quarantines_its_line_and_the_rest_of_the_file_lands(
    workspace: Workspace, bad: dict | bytes, reason: str
) -> None:
    path = workspace.root / "log.jsonl"
    path.write_bytes(b"\n".join([line(envelope("e1")), line(bad), line(envelope("e3"))]) + b"\n")

    result = workspace.ingest("events", str(path))

    assert result.exit_code == 0, result.stderr
    assert "3 records read, 2 landed, 1 quarantined" in result.stdout
    assert f"{path.resolve()}:2: {reason}" in result.stderr
    [row] = quarantine(workspace)
    assert row["record_number"] == 2
    assert row["reason"].startswith(reason)
    assert row["raw_record"] == line(bad)
    assert landed_ids(workspace) == ["e1", "e3"]
    assert_balanced(workspace)


def test_a_bad_value_in_a_parallel_chunk_costs_only_its_line(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    records = [envelope(f"e{i:04d}") for i in range(3000)]
    records[1500] = envelope("bad", event={"event_id": 1500})
    path = write_jsonl(workspace.root / "many.jsonl", records)
    monkeypatch.setattr(events, "READ_CHUNK", 32 << 10)

    result = workspace.ingest("events", str(path), "--workers", "2")

    assert result.exit_code == 0, result.stderr
    assert "3000 records read, 2999 landed, 1 quarantined" in result.stdout
    assert [(r["record_number"], r["reason"]) for r in quarantine(workspace)] == [
        (1501, "field event_id: expected text, got number 1500")
    ]
    assert_balanced(workspace)


def test_an_unexpected_exception_while_parsing_costs_one_record(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    parse = rt.parse_record

    def flaky(raw: bytes, defaults: rt.Defaults) -> rt.Row:
        if b'"e2"' in raw:
            return {}["missing"]  # a bug in the reader: KeyError
        return parse(raw, defaults)

    monkeypatch.setattr(rt, "parse_record", flaky)
    path = write_jsonl(workspace.root / "log.jsonl", [envelope(f"e{i}") for i in (1, 2, 3)])

    result = workspace.ingest("events", str(path))

    assert result.exit_code == 0, result.stderr
    assert "3 records read, 2 landed, 1 quarantined" in result.stdout
    [row] = quarantine(workspace)
    assert (row["record_number"], row["reason"]) == (
        2,
        "unexpected KeyError while parsing the record: 'missing'",
    )
    assert_balanced(workspace)


def test_a_value_arrow_refuses_is_quarantined_row_by_row(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The safety net behind the parser's checks: a row Arrow cannot store costs that row."""
    parse = rt.parse_record
    event_id = rt.EVENT_COLUMNS.index("event_id")

    def lax(raw: bytes, defaults: rt.Defaults) -> rt.Row:
        row = parse(raw, defaults)
        if row[event_id] == "e2":  # as if the parser had let a number through
            row = (*row[:event_id], 2, *row[event_id + 1 :])
        return row

    monkeypatch.setattr(rt, "parse_record", lax)
    path = write_jsonl(workspace.root / "log.jsonl", [envelope(f"e{i}") for i in (1, 2, 3)])

    result = workspace.ingest("events", str(path))

    assert result.exit_code == 0, result.stderr
    assert "3 records read, 2 landed, 1 quarantined" in result.stdout
    [row] = quarantine(workspace)
    assert row["record_number"] == 2
    assert row["reason"].startswith("a value does not fit the landed schema: ArrowTypeError")
    assert landed_ids(workspace) == ["e1", "e3"]
    assert_balanced(workspace)


# 2. A byte order mark is not part of the first line ------------------------------------------

BOM = b"\xef\xbb\xbf"


@pytest.mark.parametrize("name", ["log.jsonl", "log.jsonl.gz", "log.json", "log.json.gz"])
@pytest.mark.parametrize("shape", ["envelope", "bare"])
def test_a_byte_order_mark_is_skipped(workspace: Workspace, name: str, shape: str) -> None:
    records = [envelope(f"e{i}") for i in (1, 2)]
    if shape == "bare":
        records = [r["event"] for r in records]
    if name.endswith((".json", ".json.gz")):
        body = BOM + orjson.dumps(records)
    else:
        body = BOM + b"".join(orjson.dumps(r) + b"\n" for r in records)
    path = workspace.root / name
    path.write_bytes(gzip.compress(body) if name.endswith(".gz") else body)
    options = ["--resource", "contoso", "--received-at", WHEN] if shape == "bare" else []

    result = workspace.ingest("events", str(path), *options)

    assert result.exit_code == 0, result.stderr
    assert "2 records read, 2 landed, 0 quarantined" in result.stdout
    assert landed_ids(workspace) == ["e1", "e2"]
    [first] = workspace.landed("select event_json from landed where record_number = 1")
    assert first["event_json"].startswith("{")


@pytest.mark.azurite
def test_a_byte_order_mark_is_skipped_in_blob_streams(
    workspace: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from azure.storage.blob import BlobServiceClient

    from tests.azurite import azurite

    def body(*ids: str) -> bytes:
        return BOM + b"".join(orjson.dumps(envelope(i)) + b"\n" for i in ids)

    (tmp_path / "azurite").mkdir()
    with azurite(tmp_path / "azurite") as connection_string:
        monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", connection_string)
        client = BlobServiceClient.from_connection_string(connection_string)
        container = client.create_container("bom")
        container.upload_blob("logs/plain.jsonl", body("e1", "e2"))
        container.upload_blob("logs/zipped.jsonl.gz", gzip.compress(body("f1", "f2")))

        result = workspace.ingest("events", "az://bom/logs/")

    assert result.exit_code == 0, result.stderr
    assert "4 records read, 4 landed, 0 quarantined" in result.stdout
    assert landed_ids(workspace) == ["e1", "e2", "f1", "f2"]


def test_a_byte_order_mark_is_skipped_by_parallel_workers(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Workers read byte ranges of the file themselves: the ranges start after the mark."""
    body = BOM + b"".join(orjson.dumps(envelope(f"e{i:04d}")) + b"\n" for i in range(2000))
    path = workspace.root / "log.jsonl"
    path.write_bytes(body)
    monkeypatch.setattr(events, "READ_CHUNK", 16 << 10)

    result = workspace.ingest("events", str(path), "--workers", "2")

    assert result.exit_code == 0, result.stderr
    assert "2000 records read, 2000 landed, 0 quarantined" in result.stdout
    [row] = workspace.landed("select count(distinct record_number) as n from landed")
    assert row == {"n": 2000}


def test_a_byte_order_mark_later_in_the_file_is_not_skipped(workspace: Workspace) -> None:
    path = workspace.root / "log.jsonl"
    path.write_bytes(line(envelope("e1")) + b"\n" + BOM + line(envelope("e2")) + b"\n")
    result = workspace.ingest("events", str(path))
    assert "2 records read, 1 landed, 1 quarantined" in result.stdout
    assert quarantine(workspace)[0]["reason"].startswith("not valid JSON")


# 3. A receive time in the wrong unit is not 1970 ---------------------------------------------


@pytest.mark.parametrize(
    ("received_at", "reason"),
    [
        (
            1774948445,  # epoch seconds
            "field received_at: 1774948445 reads as 1970-01-21T13:02:28.445000+00:00, "
            "before 2015-01-01: epoch seconds written where milliseconds are expected?",
        ),
        (
            "1774948445",
            "field received_at: '1774948445' reads as 1970-01-21T13:02:28.445000+00:00, "
            "before 2015-01-01: epoch seconds written where milliseconds are expected?",
        ),
        (
            1774948445123000,  # epoch microseconds: beyond the year 9999
            "received_at epoch milliseconds out of range: 1774948445123000 (epoch "
            "microseconds or nanoseconds written where milliseconds are expected?)",
        ),
        (
            17749484451230,  # ten times too large: the year 2532
            "field received_at: 17749484451230 reads as 2532-06-16T20:20:51.230000+00:00, more "
            "than 2 days after this run: a number in another unit than epoch milliseconds, or "
            "a clock gone wrong?",
        ),
        (
            1774948445123000000,  # epoch nanoseconds
            "received_at epoch milliseconds out of range: 1774948445123000000 (epoch "
            "microseconds or nanoseconds written where milliseconds are expected?)",
        ),
        (
            "1970-01-01T00:00:00Z",
            "field received_at: '1970-01-01T00:00:00Z' reads as 1970-01-01T00:00:00+00:00, "
            "before 2015-01-01: a clock or time zone gone wrong?",
        ),
    ],
)
def test_an_implausible_receive_time_is_quarantined_with_the_likely_mix_up(
    workspace: Workspace, received_at, reason: str
) -> None:
    path = write_jsonl(
        workspace.root / "log.jsonl",
        [envelope("e1"), envelope("e2", received_at=received_at), envelope("e3")],
    )

    result = workspace.ingest("events", str(path))

    assert result.exit_code == 0, result.stderr
    assert "3 records read, 2 landed, 1 quarantined" in result.stdout
    [row] = quarantine(workspace)
    assert row["record_number"] == 2
    assert row["reason"].startswith(reason)
    assert f"{path.resolve()}:2: {reason}" in result.stderr


def test_a_receive_time_days_ahead_is_quarantined(workspace: Workspace) -> None:
    ahead = datetime.now(UTC) + rt.RECEIVED_AT_MAX_AHEAD + timedelta(hours=1)
    path = write_jsonl(
        workspace.root / "log.jsonl",
        [envelope("e1", received_at=ahead.isoformat()), envelope("e2")],
    )
    result = workspace.ingest("events", str(path))
    assert "2 records read, 1 landed, 1 quarantined" in result.stdout
    assert (
        "more than 2 days after this run: a clock or time zone gone wrong?"
        in (quarantine(workspace)[0]["reason"])
    )


def test_an_implausible_received_at_option_is_a_usage_error(workspace: Workspace) -> None:
    path = write_jsonl(workspace.root / "bare.jsonl", [envelope("e1")["event"]])
    result = workspace.ingest("events", str(path), "--resource", "r", "--received-at", "1774948445")
    assert result.exit_code == 2
    message = " ".join(result.stderr.replace("\u2502", " ").split())  # unwrapped from its box
    assert (
        "Invalid value for --received-at: field received_at: '1774948445' reads as "
        "1970-01-21T13:02:28.445000+00:00, before 2015-01-01: epoch seconds written where "
        "milliseconds are expected?"
    ) in message
    assert not list(workspace.landing.rglob("*.parquet"))  # nothing read


# 4. A line too long is quarantined by its length, never held whole ----------------------------


@pytest.mark.parametrize("name", ["log.jsonl", "log.jsonl.gz"])
@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_line_over_the_limit_is_quarantined_by_its_length(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch, name: str, workers: str
) -> None:
    monkeypatch.setattr(events, "MAX_LINE_BYTES", 10_000)
    monkeypatch.setattr(events, "READ_CHUNK", 4096)  # the long line spans many reads
    crashed = b'{"received_at": "2026-03-31T09:14:05Z", "event": {"type": "err' + b"\0" * 60_000
    near = line(envelope("e3", event={"delta": "x" * 9_000}))  # long, within the limit
    body = b"\n".join([line(envelope("e1")), crashed, near, line(envelope("e4"))]) + b"\n"
    path = workspace.root / name
    path.write_bytes(gzip.compress(body) if name.endswith(".gz") else body)

    result = workspace.ingest("events", str(path), "--workers", workers)

    assert result.exit_code == 0, result.stderr
    assert "4 records read, 3 landed, 1 quarantined" in result.stdout
    reason = (
        f"line of {len(crashed)} bytes exceeds the 10000-byte limit; "
        f"only its first {events.QUARANTINE_EXCERPT} bytes are kept"
    )
    assert f"{path.resolve()}:2: {reason}" in result.stderr
    [row] = quarantine(workspace)
    assert (row["record_number"], row["reason"]) == (2, reason)
    assert row["raw_bytes"] == len(crashed)
    assert row["raw_record"] == crashed[: events.QUARANTINE_EXCERPT]
    assert landed_ids(workspace) == ["e1", "e3", "e4"]
    assert_balanced(workspace)


@pytest.mark.parametrize("read_chunk", [4096, 1 << 20])
def test_long_lines_anywhere_are_quarantined_alike(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch, read_chunk: int
) -> None:
    """Whether the reader skips a line (longer than a read) or the parser meets it whole in a
    chunk, the reason is the same: first line, consecutive long lines, the unterminated last."""
    monkeypatch.setattr(events, "MAX_LINE_BYTES", 5_000)
    monkeypatch.setattr(events, "READ_CHUNK", read_chunk)
    long_one = b"x" * 20_000
    body = b"\n".join(
        [long_one, line(envelope("e2")), long_one, long_one + b"y", line(envelope("e5")), long_one]
    )
    path = workspace.root / "log.jsonl"
    path.write_bytes(body)  # no newline at the end

    result = workspace.ingest("events", str(path))

    assert result.exit_code == 0, result.stderr
    assert "6 records read, 2 landed, 4 quarantined" in result.stdout
    rows = quarantine(workspace)
    assert [(r["record_number"], r["raw_bytes"]) for r in rows] == [
        (1, 20_000),
        (3, 20_000),
        (4, 20_001),
        (6, 20_000),
    ]
    assert rows[0]["reason"].startswith("line of 20000 bytes exceeds the 5000-byte limit; ")
    assert rows[-1]["reason"].startswith(
        "line of 20000 bytes exceeds the 5000-byte limit (the last line, no newline at end of file)"
    )
    assert landed_ids(workspace) == ["e2", "e5"]


def test_the_reader_skips_a_long_line_in_bounded_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    """A 32 MB line under a 1 MB limit: the chunker never holds more than a few reads."""
    monkeypatch.setattr(events, "READ_CHUNK", 64 << 10)
    before = line(envelope("e1")) + b"\n"
    after = b"\n" + line(envelope("e3")) + b"\n"

    megabyte = b"\0" * (1 << 20)

    class Source(io.RawIOBase):
        """before, a 32 MB line of NULs made up on the fly, after."""

        def __init__(self) -> None:
            self.parts = iter([before, *([megabyte] * 32), after])
            self.pending = memoryview(b"")

        def readable(self) -> bool:
            return True

        def readinto(self, target) -> int:
            while not self.pending:
                part = next(self.parts, None)
                if part is None:
                    return 0
                self.pending = memoryview(part)
            n = min(len(target), len(self.pending))
            target[:n] = self.pending[:n]
            self.pending = self.pending[n:]
            return n

    for keep in (True, False):
        tracemalloc.start()
        stream = io.BufferedReader(Source(), 64 << 10)
        chunks = list(events._jsonl_chunks(stream, keep, 0, 1 << 20))
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert peak < 4 << 20, peak
        assert [c[:4] for c in chunks] == [
            (0, len(before) - 1, 1, False),
            (2, 32 << 20, b"\0" * events.QUARANTINE_EXCERPT, False),
            (len(before) + (32 << 20) + 1, len(after) - 2, 3, False),
        ]


def test_a_json_array_over_the_limit_is_quarantined_whole(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(events, "MAX_ARRAY_BYTES", 1000)
    body = orjson.dumps([envelope(f"e{i}") for i in range(50)])
    path = workspace.root / "log.json"
    path.write_bytes(body)

    result = workspace.ingest("events", str(path))

    assert result.exit_code == 0, result.stderr
    assert "1 records read, 0 landed, 1 quarantined" in result.stdout
    [row] = quarantine(workspace)
    assert row["reason"] == (
        f"a .json array of {len(body)} bytes exceeds the 1000-byte limit "
        "(write large logs as JSONL, one event a line)"
    )
    assert row["raw_bytes"] == len(body)
    assert row["raw_record"] == body[:1001]  # what was read to find it too large


# 5. A log of many days keeps a bounded number of files open ----------------------------------


def many_days(days: int, per_day: int = 3) -> list[dict]:
    """Events of `days` UTC dates, interleaved so that every date keeps coming back."""
    start = datetime(2025, 1, 1, 12, tzinfo=UTC)
    return [
        envelope(f"e{d:04d}-{n}", received_at=(start + timedelta(days=d)).isoformat())
        for n in range(per_day)
        for d in range(days)
    ]


def test_a_log_of_more_days_than_open_parts_lands_every_row_once(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(landing, "MAX_OPEN_PARTS", 3)
    monkeypatch.setattr(events, "BATCH_ROWS", 2)  # dates written (and reopened) as rows come
    path = write_jsonl(workspace.root / "log.jsonl", many_days(20))

    result = workspace.ingest("events", str(path))

    assert result.exit_code == 0, result.stderr
    assert "60 records read, 60 landed, 0 quarantined" in result.stdout
    [row] = workspace.landed(
        "select count(*) as n, count(distinct event_id) as ids, count(distinct record_number) "
        "as numbers, count(distinct cast(received_at as date)) as days from landed"
    )
    assert row == {"n": 60, "ids": 60, "numbers": 60, "days": 20}
    parts = sorted(
        p.relative_to(workspace.landing / "realtime_events")
        for p in (workspace.landing / "realtime_events").glob("event_date=*/*.parquet")
    )
    names = sorted(p.name for p in parts)
    file_id = names[0].split("-")[0]
    assert names == [f"{file_id}-{n:05d}.parquet" for n in range(len(names))]
    assert len(parts) > 20  # dates that came back after being closed have several parts
    for part in parts:  # each part holds its own date only
        dates = pq.read_table(workspace.landing / "realtime_events" / part).column("received_at")
        assert {d.as_py().date().isoformat() for d in dates} == {part.parent.name[11:]}


def test_a_log_of_400_days_lands_under_a_low_open_file_limit(workspace: Workspace) -> None:
    """The real limit, in a process of its own: 400 dates in one chunk, 200 files allowed."""
    path = write_jsonl(workspace.root / "log.jsonl", many_days(400, per_day=1))

    def low_limit() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (200, 200))

    proc = subprocess.run(
        [sys.executable, "-m", "ingest", "events", str(path), "--workers", "1"],
        cwd=PROJECT_ROOT,
        env=_env(workspace.landing),
        capture_output=True,
        text=True,
        preexec_fn=low_limit,
        timeout=300,
    )

    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "400 records read, 400 landed, 0 quarantined" in proc.stdout
    [row] = workspace.landed(
        "select count(*) as n, count(distinct cast(received_at as date)) as days from landed"
    )
    assert row == {"n": 400, "days": 400}


# 6. Linked folders are followed, loops are not ----------------------------------------------


def test_linked_folders_are_followed_once_and_loops_end(
    workspace: Workspace, tmp_path: Path
) -> None:
    logs = tmp_path / "logs"
    shared = tmp_path / "mounted-share"
    write_jsonl(logs / "local.jsonl", [envelope("e1")])
    write_jsonl(shared / "2026" / "remote.jsonl", [envelope("e2")])
    (logs / "share").symlink_to(shared, target_is_directory=True)  # a linked folder
    (logs / "again").symlink_to(shared, target_is_directory=True)  # the same folder twice
    (shared / "2026" / "up").symlink_to(logs, target_is_directory=True)  # a loop back up
    (logs / "self").symlink_to(logs, target_is_directory=True)  # a loop onto itself

    result = workspace.ingest("events", str(logs))

    assert result.exit_code == 0, result.stderr
    assert "2 files" in result.stdout
    assert "2 records read, 2 landed" in result.stdout
    assert landed_ids(workspace) == ["e1", "e2"]


# 7 and 8. Killed runs and concurrent runs ----------------------------------------------------


def _env(landing_root: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TOKENRECON_", "AZURE_"))}
    return env | {"TOKENRECON_LANDING": str(landing_root), "PYTHONPATH": str(PROJECT_ROOT)}


def write_big_log(path: Path, tag: str, lines: int) -> Path:
    """`lines` small envelopes over three dates (every chunk writes three parts)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    template = (
        '{"received_at": "2026-03-%02dT09:14:05.%06dZ", "resource": "contoso", '
        '"deployment": "rt", "event": {"type": "response.output_text.delta", '
        '"event_id": "evt_%s_%d", "response_id": "resp_%s", "item_id": "item_%d", '
        '"delta": "hello"}}\n'
    )
    with path.open("w") as out:
        for start in range(0, lines, 10_000):
            out.write(
                "".join(
                    template % (28 + i % 3, i % 1_000_000, tag, i, tag, i // 50)
                    for i in range(start, min(start + 10_000, lines))
                )
            )
    return path


def _ingest(landing_root: Path, *sources: Path, workers: str = "2") -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "ingest", "events", *map(str, sources), "--workers", workers],
        cwd=PROJECT_ROOT,
        env=_env(landing_root),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group: SIGKILL reaches the workers too
    )


def _kill_after(proc: subprocess.Popen, seconds: float) -> bool:
    """SIGKILL the run and its workers after `seconds`; False when it had already finished."""
    try:
        proc.wait(timeout=seconds)
        return False
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        return True


def _landed(landing_root: Path, sql: str) -> list[tuple]:
    con = duckdb.connect()
    con.sql(
        "create view landed as select * from read_parquet("
        f"'{landing_root}/realtime_events/**/*.parquet', union_by_name = true, filename = true)"
    )
    con.sql(
        "create view load_log as select * from read_parquet("
        f"'{landing_root}/_load_log/**/*.parquet', union_by_name = true)"
    )
    return con.sql(sql).fetchall()


def _pending_commits(landing_root: Path) -> set[str]:
    """Parts named by commit journals of killed runs (committed; the next run finishes them)."""
    names: set[str] = set()
    for journal in (landing_root / landing.SCRATCH).glob("*/*/*.journal"):
        names.update(
            Path(target).name for _, target in orjson.loads(journal.read_bytes())["rename"]
        )
    return names


def assert_nothing_partial_is_visible(landing_root: Path) -> None:
    """What a reader's `realtime_events/**/*.parquet` glob sees belongs to committed loads, each
    whole: every part's file has a landed load log row (or its commit journal is on disk, to be
    finished by the next run), and a landed file's rows are all there. No Parquet data in the
    scratch area."""
    dataset = landing_root / "realtime_events"
    parts = [p for p in dataset.rglob("*.parquet") if p.name != "_schema.parquet"]
    log_rows = [
        pq.read_table(p).to_pylist()[0]
        for p in (landing_root / "_load_log" / "realtime_events").glob("*.parquet")
    ]
    landed = {r["file_id"]: r["rows_landed"] for r in log_rows if r["status"] == "landed"}
    pending = _pending_commits(landing_root)
    for part in parts:
        assert part.name.split("-")[0] in landed or part.name in pending, part
    if not pending:
        counts = dict.fromkeys(landed, 0)
        for part in parts:
            counts[part.name.split("-")[0]] += pq.read_metadata(part).num_rows
        assert counts == landed
    assert not [p for p in (landing_root / landing.SCRATCH).rglob("*.parquet")]


def assert_landed_exactly_once(landing_root: Path, logs: dict[Path, int]) -> None:
    rows = _landed(
        landing_root,
        "select source_uri, count(*), count(distinct record_number), min(record_number), "
        "max(record_number) from landed group by all order by source_uri",
    )
    assert rows == [(str(p.resolve()), n, n, 1, n) for p, n in sorted(logs.items())]
    log = _landed(
        landing_root,
        "select source_uri, status, records_read, rows_landed, rows_quarantined from load_log "
        "order by source_uri",
    )
    assert log == [(str(p.resolve()), "landed", n, n, 0) for p, n in sorted(logs.items())]
    leftovers = [p for p in landing_root.rglob("*") if p.is_file() and p.name.endswith(".tmp")]
    assert leftovers == []
    assert list((landing_root / landing.SCRATCH / "realtime_events").iterdir()) == []


@pytest.fixture(scope="module")
def big_logs(tmp_path_factory: pytest.TempPathFactory) -> dict[Path, int]:
    folder = tmp_path_factory.mktemp("big")
    return {
        write_big_log(folder / "logs" / "a.jsonl", "a", 100_000): 100_000,
        write_big_log(folder / "logs" / "b.jsonl", "b", 50_000): 50_000,
    }


def test_a_killed_run_leaves_nothing_partial_and_the_rerun_lands_everything_once(
    tmp_path: Path, big_logs: dict[Path, int]
) -> None:
    sources = sorted(big_logs)
    started = time.monotonic()
    full = _ingest(tmp_path / "measure", *sources)
    assert full.wait(timeout=600) == 0, full.stderr.read()
    duration = time.monotonic() - started

    killed = 0
    for trial, fraction in enumerate((0.2, 0.45, 0.7, 0.9)):
        root = tmp_path / f"trial{trial}"
        killed += _kill_after(_ingest(root, *sources), duration * fraction)
        assert_nothing_partial_is_visible(root)
        if trial == 3:  # a second kill, while the first one's leftovers are recovered
            killed += _kill_after(_ingest(root, *sources), duration * 0.5)
            assert_nothing_partial_is_visible(root)
        rerun = _ingest(root, *sources)
        assert rerun.wait(timeout=600) == 0, rerun.stderr.read()
        assert_landed_exactly_once(root, big_logs)
    assert killed >= 2  # most trials killed the run midway (timing on a loaded machine varies)


def test_concurrent_runs_on_different_inputs_land_everything(
    tmp_path: Path, big_logs: dict[Path, int]
) -> None:
    smaller = {
        write_big_log(tmp_path / "logs" / f"c{n}.jsonl", f"c{n}", 20_000): 20_000 for n in range(4)
    }
    for trial, delay in enumerate((0.0, 0.3, 0.8)):
        root = tmp_path / f"trial{trial}"
        first = _ingest(root, *sorted(big_logs))
        time.sleep(delay)
        second = _ingest(root, *sorted(smaller), workers="1")
        assert second.wait(timeout=600) == 0, second.stderr.read()
        assert first.wait(timeout=600) == 0, first.stderr.read()
        assert_landed_exactly_once(root, big_logs | smaller)


def test_leftovers_of_a_killed_run_are_removed_and_its_commit_finished(
    workspace: Workspace,
) -> None:
    """What SIGKILL leaves at the worst moments, recovered by the next run: a run killed while
    writing parts (they go), and one killed midway through its commit (it is finished)."""
    path = write_jsonl(workspace.root / "log.jsonl", [envelope(f"e{i}") for i in range(5)])
    zone = landing.LandingZone(workspace.landing)
    zone.ensure_datasets({events.DATASET: events.EVENT_SCHEMA})
    # a run killed while writing: parts in its scratch folder, no journal
    writing = zone.scratch(events.DATASET)
    (writing.parts_dir() / "event_date=2026-03-31").mkdir(parents=True)
    (writing.parts_dir() / "event_date=2026-03-31" / "x.parquet.tmp").write_bytes(b"partial")
    # a run killed while writing a schema file, and one of an earlier version writing parts
    schema_tmp = workspace.landing / "realtime_events" / "._schema.parquet.0badf00d.tmp"
    legacy_tmp = (
        workspace.landing / "realtime_events" / "event_date=2026-03-31" / ".0bad.parquet.tmp"
    )
    legacy_tmp.parent.mkdir()
    for leftover in (schema_tmp, legacy_tmp):
        leftover.write_bytes(b"partial")
    # schema files are written by every ingest as it opens the zone: only old ones are leftovers
    os.utime(schema_tmp, (time.time() - 3600, time.time() - 3600))
    young_schema_tmp = workspace.landing / "_scratch" / "._schema.parquet.0dd.tmp"
    young_schema_tmp.write_bytes(b"being written")
    # young ones named by their writer: taken when its process is gone, kept while it lives
    # (a process of another machine cannot be asked: its file is kept until old)
    ended = subprocess.Popen(["true"])
    ended.wait()
    scratch = workspace.landing / "_scratch"
    dead_writer = scratch / f"._schema.parquet.{landing.HOST}~{ended.pid}~0dead.tmp"
    live_writer = scratch / f"._schema.parquet.{landing.HOST}~{os.getppid()}~11fe.tmp"
    other_host = scratch / "._schema.parquet.another-host~1~0a.tmp"
    for tmp in (dead_writer, live_writer, other_host):
        tmp.write_bytes(b"partial")
    # a run killed midway through its commit: the journal written, the first rename done
    committing = zone.scratch(events.DATASET)
    apply_journal = landing._apply_journal

    def killed_after_one_rename(root: Path, journal: dict) -> None:
        apply_journal(root, {"remove": [], "rename": journal["rename"][:1]})
        raise _Killed

    [file] = resolve([str(path)], events.accepts)
    with pytest.MonkeyPatch.context() as patch, pytest.raises(_Killed):
        patch.setattr(landing, "_apply_journal", killed_after_one_rename)
        events.read_events(file, events.EventOptions(), zone, set(), {}, scratch=committing)
    for dead in (writing, committing):
        dead._lock.close()  # the processes are gone, their locks with them
    assert workspace.landed("select count(*) as n from load_log") == [{"n": 0}]
    assert len(workspace.landed()) == 5  # the one part renamed: visible, its load log row not

    rerun = workspace.ingest("events", str(path))

    assert rerun.exit_code == 0, rerun.stderr
    assert "1 already landed" in rerun.stdout  # the killed commit was finished, not redone
    assert landed_ids(workspace) == [f"e{i}" for i in range(5)]
    assert load_log(workspace)[0]["rows_landed"] == 5
    assert list((workspace.landing / landing.SCRATCH / events.DATASET).iterdir()) == []
    assert not schema_tmp.exists() and not legacy_tmp.exists()
    assert young_schema_tmp.exists()  # possibly another ingest's, live
    assert not dead_writer.exists()
    assert live_writer.exists() and other_host.exists()


def test_a_live_runs_scratch_folder_is_left_alone(workspace: Workspace) -> None:
    zone = landing.LandingZone(workspace.landing)
    with zone.scratch(events.DATASET) as live:
        (live.parts_dir()).mkdir()
        (live.parts_dir() / "part.parquet.tmp").write_bytes(b"being written")
        with zone.scratch(events.DATASET) as other:
            assert other.folder != live.folder
        assert (live.parts_dir() / "part.parquet.tmp").exists()
    assert not live.folder.exists()


class _Killed(Exception):
    pass
