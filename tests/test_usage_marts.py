"""End to end: land logs, `dbt build` the real project on a real DuckDB file, read the marts."""

from __future__ import annotations

import copy
import subprocess
import sys

import pytest

from tests.conftest import PROJECT_ROOT, REFERENCE_LOG, Workspace, write_jsonl


@pytest.fixture
def reference_warehouse(workspace: Workspace) -> Workspace:
    assert workspace.ingest("events", str(REFERENCE_LOG)).exit_code == 0
    workspace.dbt("build")
    return workspace


def test_reference_case_numbers(reference_warehouse: Workspace) -> None:
    [row] = reference_warehouse.query_dicts("from marts.fct_response_usage")
    assert row["response_id"] == "resp_RefCase20260331"
    assert row["session_id"] == "sess_RefCase20260331"
    assert row["resource_name"] == "contoso-voice-swc"
    assert row["deployment_name"] == "gpt-realtime-mini"
    assert row["model"] == "gpt-realtime-mini-2025-12-15"
    assert row["response_status"] == "completed"
    assert str(row["usage_date"]) == "2026-03-31"
    assert {
        k: row[k]
        for k in (
            "input_text_tokens",
            "input_audio_tokens",
            "input_image_tokens",
            "cached_text_tokens",
            "cached_audio_tokens",
            "cached_image_tokens",
            "uncached_text_tokens",
            "uncached_audio_tokens",
            "output_text_tokens",
            "output_audio_tokens",
            "input_tokens",
            "cached_tokens",
            "output_tokens",
            "total_tokens",
        )
    } == {
        "input_text_tokens": 119,
        "input_audio_tokens": 110,
        "input_image_tokens": 0,
        "cached_text_tokens": 64,
        "cached_audio_tokens": 64,
        "cached_image_tokens": 0,
        "uncached_text_tokens": 55,
        "uncached_audio_tokens": 46,
        "output_text_tokens": 117,
        "output_audio_tokens": 420,
        "input_tokens": 229,
        "cached_tokens": 128,
        "output_tokens": 537,
        "total_tokens": 766,
    }
    assert row["has_usage_violation"] is False


def test_reference_session_audio_and_transcription(reference_warehouse: Workspace) -> None:
    [session] = reference_warehouse.query_dicts("from marts.fct_session_usage")
    assert session["events"] == 162
    assert session["error_events"] == 1
    assert session["responses"] == 1
    assert session["total_tokens"] == 766
    assert session["output_audio_bytes"] == 1_008_000
    assert session["output_audio_seconds"] == session["output_audio_bytes"] / 48_000 == 21.0
    assert session["user_speech_seconds"] == 12.0
    assert session["has_client_events"] is False
    assert session["input_audio_appended_seconds"] is None
    assert session["transcription_model"] == "whisper-1"

    [transcription] = reference_warehouse.query_dicts("from marts.fct_transcription_usage")
    assert transcription["item_id"] == "item_RefUser0001"
    assert transcription["response_id"] == "resp_RefCase20260331"
    assert transcription["transcription_model"] == "whisper-1"
    assert transcription["usage_type"] == "duration"
    assert transcription["duration_seconds"] == 0.0


def test_load_log_is_balanced_in_the_warehouse(reference_warehouse: Workspace) -> None:
    [load] = reference_warehouse.query_dicts("from marts.fct_loads")
    assert (load["records_read"], load["rows_landed"], load["rows_quarantined"]) == (162, 162, 0)
    assert load["is_balanced"] is True


def test_copied_and_overlapping_logs_count_each_response_once(
    workspace: Workspace, reference_envelopes: list[dict]
) -> None:
    # the whole session, a byte copy of it, and a rotated log that repeats its last 60 events
    write_jsonl(workspace.root / "logs" / "a.jsonl", reference_envelopes)
    write_jsonl(workspace.root / "logs" / "copy-of-a.jsonl", reference_envelopes)
    write_jsonl(workspace.root / "logs" / "rotated.jsonl", reference_envelopes[-60:])
    assert workspace.ingest("events", str(workspace.root / "logs")).exit_code == 0
    workspace.dbt("build")

    assert workspace.query("select count(*) from staging.stg_realtime__events") == [(162 + 60,)]
    assert workspace.query("select count(*), sum(total_tokens) from marts.fct_response_usage") == [
        (1, 766)
    ]
    assert workspace.query("select events, output_audio_bytes from marts.fct_session_usage") == [
        (162, 1_008_000)
    ]


def test_bare_logs_get_their_sessions_from_file_order(
    workspace: Workspace, reference_envelopes: list[dict]
) -> None:
    events = [e["event"] for e in reference_envelopes]
    write_jsonl(workspace.root / "bare.jsonl", events)
    options = ["--resource", "Contoso-Voice-SWC", "--deployment", "gpt-realtime-mini"]
    result = workspace.ingest(
        "events", str(workspace.root / "bare.jsonl"), *options, "--received-at", "2026-03-31"
    )
    assert result.exit_code == 0
    workspace.dbt("build")

    assert workspace.query(
        "select session_id_source, count(*) from intermediate.int_events_sessionised "
        "group by all order by all"
    ) == [("event", 2), ("file_context", 160)]
    assert workspace.query(
        "select session_id, resource_name, responses, total_tokens, output_audio_seconds "
        "from marts.fct_session_usage"
    ) == [("sess_RefCase20260331", "contoso-voice-swc", 1, 766, 21.0)]


def test_usage_breaking_the_invariants_is_flagged_not_dropped(
    workspace: Workspace, reference_envelopes: list[dict]
) -> None:
    broken = copy.deepcopy(reference_envelopes)
    for e in broken:
        if e["event"]["type"] == "response.done":
            e["event"]["response"]["usage"]["total_tokens"] = 700  # != 229 + 537
            e["event"]["response"]["usage"]["input_token_details"]["cached_tokens"] = 100
    write_jsonl(workspace.root / "broken.jsonl", broken)
    assert workspace.ingest("events", str(workspace.root / "broken.jsonl")).exit_code == 0
    workspace.dbt("build")

    assert workspace.query(
        "select total_tokens, has_usage_violation, usage_violations from marts.fct_response_usage"
    ) == [(700, True, "total_tokens != input + output; cached_tokens != sum of cached details")]


def test_the_duckdb_cli_opens_the_warehouse(reference_warehouse: Workspace) -> None:
    cli = PROJECT_ROOT / ".venv" / "bin" / "duckdb"
    if not cli.exists():
        cli = subprocess.run(
            [sys.executable, "-c", "import shutil; print(shutil.which('duckdb') or '')"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    assert cli, "the duckdb CLI (PyPI duckdb-cli) is installed by the set-up"
    out = subprocess.run(
        [
            str(cli),
            str(reference_warehouse.warehouse),
            "-csv",
            "-c",
            "select total_tokens from marts.fct_response_usage",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert out.split() == ["total_tokens", "766"]
