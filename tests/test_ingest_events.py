"""`python -m ingest events`: every accepted input shape, bad input, idempotency, atomicity."""

from __future__ import annotations

import copy
import gzip
import json
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest

from ingest import events
from tests.conftest import REFERENCE_LOG, Workspace, write_jsonl

BETA_NAMES = {v: k for k, v in events.rt.BETA_TO_GA_EVENT_TYPES.items()}


def bare(envelopes: list[dict]) -> list[dict]:
    return [e["event"] for e in envelopes]


def as_beta(envelopes: list[dict]) -> list[dict]:
    out = copy.deepcopy(envelopes)
    for e in out:
        e["event"]["type"] = BETA_NAMES.get(e["event"]["type"], e["event"]["type"])
        session = e["event"].get("session")
        if session:
            audio = session.pop("audio")
            session["input_audio_format"] = "pcm16"
            session["output_audio_format"] = "pcm16"
            session["input_audio_transcription"] = audio["input"]["transcription"]
            session["turn_detection"] = audio["input"]["turn_detection"]
    return out


def as_dotnet(envelopes: list[dict]) -> list[dict]:
    """response.done as System.Text.Json writes the SDK object: PascalCase, no `type`."""
    out = copy.deepcopy(envelopes)
    for e in out:
        event = e["event"]
        if event["type"] == "response.done":
            u = event["response"]["usage"]
            d = u["input_token_details"]
            e["event"] = {
                "EventId": event["event_id"],
                "Response": {
                    "Id": event["response"]["id"],
                    "Status": "completed",
                    "Usage": {
                        "TotalTokenCount": u["total_tokens"],
                        "InputTokenCount": u["input_tokens"],
                        "OutputTokenCount": u["output_tokens"],
                        "InputTokenDetails": {
                            "TextTokenCount": d["text_tokens"],
                            "AudioTokenCount": d["audio_tokens"],
                            "CachedTokenCount": d["cached_tokens"],
                            "CachedTokenDetails": {
                                "TextTokenCount": d["cached_tokens_details"]["text_tokens"],
                                "AudioTokenCount": d["cached_tokens_details"]["audio_tokens"],
                            },
                        },
                        "OutputTokenDetails": {
                            "TextTokenCount": u["output_token_details"]["text_tokens"],
                            "AudioTokenCount": u["output_token_details"]["audio_tokens"],
                        },
                    },
                },
            }
    return out


def usage_row(ws: Workspace) -> dict:
    [row] = ws.landed(
        "select response_id, session_id, usage.* from landed where event_type = 'response.done'"
    )
    return row


REFERENCE_USAGE = {
    "total_tokens": 766,
    "input_tokens": 229,
    "output_tokens": 537,
    "input_text_tokens": 119,
    "input_audio_tokens": 110,
    "cached_text_tokens": 64,
    "cached_audio_tokens": 64,
    "output_text_tokens": 117,
    "output_audio_tokens": 420,
}
BARE_OPTIONS = ["--resource", "contoso-voice-swc", "--received-at", "2026-03-31T09:14:05Z"]


@pytest.mark.parametrize(
    ("name", "shape", "options"),
    [
        ("envelopes.jsonl", None, []),
        ("envelopes.ndjson", None, []),
        ("envelopes.jsonl.gz", None, []),
        ("envelopes.ndjson.gz", None, []),
        ("bare.jsonl", bare, BARE_OPTIONS),
        ("beta.jsonl", as_beta, []),
        ("dotnet.jsonl", as_dotnet, []),
        ("array.json", "array", []),
        ("array.json.gz", "array", []),
        ("bare_array.json", "bare_array", BARE_OPTIONS),
    ],
)
def test_every_accepted_shape_lands_the_reference_session(
    workspace: Workspace, reference_envelopes: list[dict], name: str, shape, options: list[str]
) -> None:
    path = workspace.root / "logs" / name
    if shape == "array":
        body = orjson.dumps(reference_envelopes)
    elif shape == "bare_array":
        body = orjson.dumps(bare(reference_envelopes))
    else:
        records = shape(reference_envelopes) if shape else reference_envelopes
        body = b"".join(orjson.dumps(r) + b"\n" for r in records)
    path.parent.mkdir(parents=True)
    path.write_bytes(gzip.compress(body) if name.endswith(".gz") else body)

    result = workspace.ingest("events", str(path), *options)

    assert result.exit_code == 0, result.stderr
    assert "162 records read, 162 landed, 0 quarantined" in result.stdout
    row = usage_row(workspace)
    assert row["response_id"] == "resp_RefCase20260331"
    assert {k: row[k] for k in REFERENCE_USAGE} == REFERENCE_USAGE
    [audio] = workspace.landed(
        "select count(*) as deltas, sum(audio_payload_bytes) as bytes from landed "
        "where event_type = 'response.output_audio.delta'"
    )
    assert audio == {"deltas": 84, "bytes": 1_008_000}


def test_a_folder_is_searched_recursively_for_logs_only(
    workspace: Workspace, reference_envelopes: list[dict]
) -> None:
    logs = workspace.root / "logs"
    write_jsonl(logs / "2026" / "03" / "a.jsonl", reference_envelopes[:100])
    write_jsonl(logs / "2026" / "03" / "31" / "b.jsonl.gz", reference_envelopes[100:])
    (logs / "notes.txt").write_text("not a log")

    result = workspace.ingest("events", str(logs))

    assert result.exit_code == 0, result.stderr
    assert "2 files" in result.stdout
    [row] = workspace.landed(
        "select count(*) as n, count(distinct source_uri) as files from landed"
    )
    assert row == {"n": 162, "files": 2}


def test_rerun_lands_nothing_new(workspace: Workspace) -> None:
    first = workspace.ingest("events", str(REFERENCE_LOG))
    files = sorted(p.relative_to(workspace.landing) for p in workspace.landing.rglob("*.parquet"))
    second = workspace.ingest("events", str(REFERENCE_LOG))

    assert first.exit_code == second.exit_code == 0
    assert "1 already landed" in second.stdout
    assert "0 records read, 0 landed" in second.stdout
    assert (
        sorted(p.relative_to(workspace.landing) for p in workspace.landing.rglob("*.parquet"))
        == files
    )
    assert workspace.landed("select count(*) as n from landed") == [{"n": 162}]
    assert workspace.landed("select count(*) as n from load_log") == [{"n": 1}]


def test_a_copied_log_lands_once(workspace: Workspace, tmp_path: Path) -> None:
    copy_path = tmp_path / "copy" / "realtime_events-copy.jsonl.gz"
    copy_path.parent.mkdir()
    copy_path.write_bytes(REFERENCE_LOG.read_bytes())

    result = workspace.ingest("events", str(REFERENCE_LOG), str(copy_path))

    assert result.exit_code == 0
    assert "1 copies of landed content" in result.stdout
    assert workspace.landed("select count(*) as n from landed") == [{"n": 162}]
    log = workspace.landed(
        "select source_uri, status, records_read, rows_landed, rows_duplicate from load_log "
        "order by status"
    )
    assert [
        (r["status"], r["records_read"], r["rows_landed"], r["rows_duplicate"]) for r in log
    ] == [
        ("duplicate_content", 162, 0, 162),
        ("landed", 162, 162, 0),
    ]


def test_same_content_with_other_options_replaces_the_earlier_landing(
    workspace: Workspace, reference_envelopes: list[dict]
) -> None:
    path = write_jsonl(workspace.root / "bare.jsonl", bare(reference_envelopes))
    workspace.ingest("events", str(path), "--resource", "wrong", "--received-at", "2026-03-30")
    workspace.ingest("events", str(path), *BARE_OPTIONS)

    rows = workspace.landed("select resource_name, count(*) as n from landed group by all")
    assert rows == [{"resource_name": "contoso-voice-swc", "n": 162}]


def quarantined(ws: Workspace) -> list[tuple[int, str]]:
    rows = ws.landed("select record_number, reason from quarantine order by record_number")
    return [(r["record_number"], r["reason"]) for r in rows]


def load(ws: Workspace) -> dict:
    [row] = ws.landed(
        "select status, records_read, rows_landed, rows_quarantined, blank_lines from load_log"
    )
    return row


def test_bad_lines_are_quarantined_with_line_and_reason(
    workspace: Workspace, reference_envelopes: list[dict]
) -> None:
    good = reference_envelopes[:3]
    no_type = {**good[0], "event": {"event_id": "e_notype", "item_id": "x"}}
    path = workspace.root / "bad.jsonl"
    body = b"\n".join(
        [
            orjson.dumps(good[0]),
            b"this is not json",
            orjson.dumps(no_type),
            b"",  # blank line: skipped, not a record
            b'{"received_at": "2026-03-31T09:14:05Z", "resource": "r", "event": {"type": "\xff"}}',
            orjson.dumps(good[1]),
            orjson.dumps(good[2])[:40],  # truncated last line, no newline
        ]
    )
    path.write_bytes(body)

    result = workspace.ingest("events", str(path))

    assert result.exit_code == 0
    assert "6 records read, 2 landed, 4 quarantined" in result.stdout
    reasons = quarantined(workspace)
    assert [n for n, _ in reasons] == [2, 3, 5, 7]
    assert reasons[0][1].startswith("not valid JSON")
    assert reasons[1][1].startswith("event has no 'type'")
    assert reasons[2][1] == "invalid UTF-8 at byte 76"
    assert reasons[3][1].startswith("truncated last line (no newline at end of file)")
    assert f"{path.resolve()}:2: not valid JSON" in result.stderr
    assert load(workspace) == {
        "status": "landed",
        "records_read": 6,
        "rows_landed": 2,
        "rows_quarantined": 4,
        "blank_lines": 1,
    }
    [raw] = workspace.landed(
        "select raw_record, raw_excerpt from quarantine where record_number = 5"
    )
    assert raw["raw_record"].endswith(b'"\xff"}}')  # kept byte for byte
    assert "\\xff" in raw["raw_excerpt"]


def test_fail_on_quarantine_exits_1(workspace: Workspace) -> None:
    path = workspace.root / "bad.jsonl"
    path.write_bytes(b"not json\n")
    result = workspace.ingest("events", str(path), "--fail-on-quarantine")
    assert result.exit_code == 1
    assert "1 quarantined" in result.stdout


def test_bare_lines_without_time_are_an_error_naming_file_and_line(
    workspace: Workspace, reference_envelopes: list[dict]
) -> None:
    path = write_jsonl(workspace.root / "bare.jsonl", bare(reference_envelopes[:2]))
    result = workspace.ingest("events", str(path), "--resource", "contoso")
    assert f"{path.resolve()}:1: no receive time" in result.stderr
    assert "--received-at was not given" in result.stderr
    assert "2 records read, 0 landed, 2 quarantined" in result.stdout


def test_an_empty_file_is_recorded_as_empty(workspace: Workspace) -> None:
    path = workspace.root / "empty.jsonl"
    path.write_bytes(b"")
    result = workspace.ingest("events", str(path))
    assert result.exit_code == 0
    assert load(workspace)["status"] == "empty"
    assert workspace.landed("select count(*) as n from landed") == [{"n": 0}]
    # recorded: a second run does not read it again
    assert "1 already landed" in workspace.ingest("events", str(path)).stdout


def test_a_corrupt_gzip_fails_the_file_and_lands_nothing(
    workspace: Workspace, reference_envelopes: list[dict]
) -> None:
    path = write_jsonl(workspace.root / "broken.jsonl.gz", reference_envelopes)
    path.write_bytes(path.read_bytes()[:-200])  # cut the gzip trailer and some data

    result = workspace.ingest("events", str(path))

    assert result.exit_code == 1
    assert f"error: {path.resolve()}: could not be read" in result.stderr
    assert workspace.landed("select count(*) as n from landed") == [{"n": 0}]
    assert not list(workspace.landing.rglob("*.tmp"))
    assert load(workspace)["status"] == "failed"


def test_a_missing_source_is_a_usage_error(workspace: Workspace) -> None:
    result = workspace.ingest("events", str(workspace.root / "nope.jsonl"))
    assert result.exit_code == 2
    assert "nope.jsonl: no such file or folder" in result.stderr


def test_a_bad_received_at_option_is_a_usage_error(workspace: Workspace) -> None:
    result = workspace.ingest("events", str(REFERENCE_LOG), "--received-at", "yesterday")
    assert result.exit_code == 2
    assert "received_at is not ISO-8601" in result.stderr


def test_parallel_chunks_land_the_same_rows_as_one_process(
    workspace: Workspace, reference_envelopes: list[dict], monkeypatch: pytest.MonkeyPatch
) -> None:
    records = []
    for n in range(6):
        for e in bare(reference_envelopes):
            e = json.loads(
                json.dumps(e).replace("RefCase", f"Copy{n}").replace("event_Ref", f"e{n}_")
            )
            records.append(e)
    records.insert(500, b"not json")  # a quarantined line in the middle of a chunk
    path = write_jsonl(workspace.root / "many.jsonl", records)
    monkeypatch.setattr(events, "READ_CHUNK", 64 << 10)  # many chunks, many parts

    one = workspace.root / "one"
    two = workspace.root / "two"
    assert (
        workspace.ingest("events", str(path), *BARE_OPTIONS, "--landing", str(one)).exit_code == 0
    )
    result = workspace.ingest(
        "events", str(path), *BARE_OPTIONS, "--landing", str(two), "--workers", "2"
    )
    assert result.exit_code == 0
    assert "973 records read, 972 landed, 1 quarantined" in result.stdout

    def rows(landing: Path, table: str) -> list[dict]:
        workspace.landing = landing
        return workspace.landed(f"select * from {table} order by record_number")

    assert rows(one, "landed") == rows(two, "landed")
    assert [r["record_number"] for r in rows(two, "quarantine")] == [501]
    parts = sorted(
        p.name for p in (two / "realtime_events").rglob("*.parquet") if p.name != "_schema.parquet"
    )
    file_id = parts[0].split("-")[0]
    assert len(parts) > 10  # one part per chunk, numbered in file order
    assert parts == [f"{file_id}-{n:05d}.parquet" for n in range(len(parts))]


def test_landing_is_partitioned_by_utc_event_date(
    workspace: Workspace, reference_envelopes: list[dict]
) -> None:
    late = copy.deepcopy(reference_envelopes[:2])
    late[0]["received_at"] = "2026-03-31T23:59:59.999+00:00"
    late[1]["received_at"] = "2026-04-01T01:30:00+02:00"  # 2026-03-31 23:30 UTC
    extra = copy.deepcopy(reference_envelopes[2])
    extra["received_at"] = datetime(2026, 4, 1, 0, 0, tzinfo=UTC).timestamp() * 1000
    write_jsonl(workspace.root / "late.jsonl", [*late, extra])

    workspace.ingest("events", str(workspace.root / "late.jsonl"))

    folders = sorted(
        p.parent.name
        for p in (workspace.landing / "realtime_events").rglob("*.parquet")
        if p.name != "_schema.parquet"
    )
    assert folders == ["event_date=2026-03-31", "event_date=2026-04-01"]
