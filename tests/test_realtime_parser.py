"""The pure event reader: shapes, spellings, and the reasons it gives for bad records."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import orjson
import pytest

from ingest.sources import realtime_events as rt

REFERENCE_USAGE = {
    "total_tokens": 766,
    "input_tokens": 229,
    "output_tokens": 537,
    "input_text_tokens": 119,
    "input_audio_tokens": 110,
    "input_image_tokens": 0,
    "cached_tokens": 128,
    "cached_text_tokens": 64,
    "cached_audio_tokens": 64,
    "cached_image_tokens": 0,
    "output_text_tokens": 117,
    "output_audio_tokens": 420,
}
GA_USAGE = {
    "total_tokens": 766,
    "input_tokens": 229,
    "output_tokens": 537,
    "input_token_details": {
        "text_tokens": 119,
        "audio_tokens": 110,
        "image_tokens": 0,
        "cached_tokens": 128,
        "cached_tokens_details": {"text_tokens": 64, "audio_tokens": 64, "image_tokens": 0},
    },
    "output_token_details": {"text_tokens": 117, "audio_tokens": 420},
}
DOTNET_USAGE = {
    "TotalTokenCount": 766,
    "InputTokenCount": 229,
    "OutputTokenCount": 537,
    "InputTokenDetails": {
        "TextTokenCount": 119,
        "AudioTokenCount": 110,
        "ImageTokenCount": 0,
        "CachedTokenCount": 128,
        "CachedTokenDetails": {"TextTokenCount": 64, "AudioTokenCount": 64, "ImageTokenCount": 0},
    },
    "OutputTokenDetails": {"TextTokenCount": 117, "AudioTokenCount": 420},
}
WHEN = "2026-03-31T09:14:05.123Z"


def parse(record: dict, defaults: rt.Defaults | None = None) -> dict:
    return rt.as_dict(rt.parse_record(orjson.dumps(record), defaults or rt.Defaults()))


def envelope(event: dict, **extra) -> dict:
    return {"received_at": WHEN, "resource": "Contoso-SWC", "event": event, **extra}


def usage_of(row: dict) -> dict:
    return {k: v for k, v in row["usage"].items() if k in REFERENCE_USAGE}


def test_ga_response_done_in_an_envelope() -> None:
    row = parse(
        envelope(
            {
                "type": "response.done",
                "event_id": "event_1",
                "response": {"id": "resp_1", "status": "cancelled", "usage": GA_USAGE},
            },
            deployment="rt-mini",
            session_id="sess_1",
        )
    )
    assert row["received_at"] == datetime(2026, 3, 31, 9, 14, 5, 123000, tzinfo=UTC)
    assert row["resource_name"] == "contoso-swc"  # lower-cased: the bill's ResourceName is
    assert row["deployment_name"] == "rt-mini"
    assert (row["session_id"], row["session_id_source"]) == ("sess_1", "envelope")
    assert (row["response_id"], row["response_status"]) == ("resp_1", "cancelled")
    assert row["usage"]["usage_type"] == "tokens"
    assert usage_of(row) == REFERENCE_USAGE
    assert row["event_key"] == "event_1"


def test_dotnet_pascal_case_usage_without_type_reads_as_the_same_fields() -> None:
    event = {
        "EventId": "event_9",
        "Response": {"Id": "resp_9", "Status": "completed", "Usage": DOTNET_USAGE},
    }
    row = parse(envelope(event))
    assert row["event_type"] == "response.done"  # inferred: a response carrying usage
    assert row["response_id"] == "resp_9"
    assert row["event_id"] == "event_9"
    assert usage_of(row) == REFERENCE_USAGE


def test_dotnet_pascal_case_usage_with_type() -> None:
    event = {"type": "response.done", "response": {"id": "resp_9", "usage": DOTNET_USAGE}}
    assert usage_of(parse(envelope(event))) == REFERENCE_USAGE


def test_beta_event_names_are_normalised_and_audio_is_measured_not_stored() -> None:
    audio = base64.b64encode(bytes(4801)).decode()  # padded base64
    row = parse(envelope({"type": "response.audio.delta", "response_id": "r", "delta": audio}))
    assert row["event_type"] == "response.output_audio.delta"
    assert row["wire_event_type"] == "response.audio.delta"
    assert row["audio_payload_bytes"] == 4801
    kept = orjson.loads(row["event_json"])
    assert "delta" not in kept["event"]
    assert kept["event"]["delta_decoded_bytes"] == 4801
    assert kept["resource"] == "Contoso-SWC"  # the envelope is kept too


def test_client_append_is_a_client_event_with_measured_audio() -> None:
    audio = base64.b64encode(bytes(960)).decode()
    row = parse(envelope({"type": "input_audio_buffer.append", "audio": audio}))
    assert row["direction"] == "client"
    assert row["audio_payload_bytes"] == 960
    assert row["event_key"].startswith("sha1:")  # client events may carry no event_id


@pytest.mark.parametrize(
    ("session", "expected"),
    [
        (
            {
                "id": "sess_ga",
                "type": "realtime",
                "model": "gpt-realtime",
                "audio": {
                    "input": {
                        "format": {"type": "audio/pcm", "rate": 24000},
                        "transcription": {"model": "gpt-4o-mini-transcribe"},
                    },
                    "output": {"format": {"type": "audio/pcmu"}},
                },
            },
            {
                "model": "gpt-realtime",
                "session_type": "realtime",
                "transcription_model": "gpt-4o-mini-transcribe",
                "input_audio_format": "audio/pcm",
                "input_audio_rate": 24000,
                "output_audio_format": "audio/pcmu",
                "output_audio_rate": 8000,
            },
        ),
        (
            {
                "id": "sess_beta",
                "object": "realtime.session",
                "model": "gpt-4o-realtime-preview-2024-12-17",
                "input_audio_format": "pcm16",
                "output_audio_format": "g711_alaw",
                "input_audio_transcription": {"model": "whisper-1"},
            },
            {
                "model": "gpt-4o-realtime-preview-2024-12-17",
                "session_type": "realtime",
                "transcription_model": "whisper-1",
                "input_audio_format": "audio/pcm",
                "input_audio_rate": 24000,
                "output_audio_format": "audio/pcma",
                "output_audio_rate": 8000,
            },
        ),
    ],
    ids=["ga", "beta"],
)
def test_session_shapes(session: dict, expected: dict) -> None:
    row = parse(envelope({"type": "session.updated", "session": session}))
    assert row["session_config"] == expected
    assert row["session_id"] == session["id"]


def test_bare_events_take_time_and_resource_from_the_options() -> None:
    defaults = rt.Defaults("contoso", "rt", datetime(2026, 3, 31, tzinfo=UTC))
    created = parse(
        {"type": "session.created", "session": {"id": "sess_7", "model": "m"}}, defaults
    )
    row = parse({"type": "response.created", "response": {"id": "resp_7"}}, defaults)
    assert (created["session_id"], created["session_id_source"]) == ("sess_7", "event")
    assert row["session_id"] is None  # placed by file order in dbt (int_events_sessionised)
    assert row["received_at"] == datetime(2026, 3, 31, tzinfo=UTC)
    assert (row["resource_name"], row["deployment_name"]) == ("contoso", "rt")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-03-31T09:14:05Z", datetime(2026, 3, 31, 9, 14, 5, tzinfo=UTC)),
        ("2026-03-31T11:14:05+02:00", datetime(2026, 3, 31, 9, 14, 5, tzinfo=UTC)),
        ("2026-03-31 09:14:05", datetime(2026, 3, 31, 9, 14, 5, tzinfo=UTC)),  # no zone: UTC
        (1774948445123, datetime(2026, 3, 31, 9, 14, 5, 123000, tzinfo=UTC)),  # epoch ms
        ("1774948445123", datetime(2026, 3, 31, 9, 14, 5, 123000, tzinfo=UTC)),
    ],
)
def test_received_at_forms(value, expected) -> None:
    assert rt.parse_received_at(value) == expected


@pytest.mark.parametrize(
    ("record", "reason"),
    [
        ({"type": "error"}, "no receive time"),
        ({"received_at": WHEN, "event": {"type": "error"}}, "no resource"),
        ({"received_at": "yesterday", "resource": "r", "event": {"type": "error"}}, "not ISO-8601"),
        (envelope({"event_id": "e"}), "event has no 'type'"),
        (envelope({"type": "response.done", "response": {"usage": GA_USAGE}}), "no response.id"),
        (
            envelope(
                {"type": "response.done", "response": {"id": "r", "usage": {"total_tokens": -1}}}
            ),
            "negative",
        ),
        (
            envelope(
                {"type": "response.done", "response": {"id": "r", "usage": {"type": "credits"}}}
            ),
            "usage.type",
        ),
        (envelope({"type": "response.output_audio.delta", "delta": "abc"}), "not valid base64"),
        ({**envelope({"type": "error"}), "direction": "sideways"}, "direction"),
        ([1, 2], "not an object"),
    ],
)
def test_bad_records_say_what_is_wrong(record, reason) -> None:
    with pytest.raises(rt.RecordError, match=reason):
        parse(record)


def test_invalid_json_and_invalid_utf8_reasons() -> None:
    with pytest.raises(rt.RecordError, match="not valid JSON"):
        rt.parse_record(b'{"type": "error"', rt.Defaults())
    with pytest.raises(rt.RecordError, match="invalid UTF-8 at byte 10"):
        rt.parse_record(b'{"type": "\xff\xfe"}', rt.Defaults())


def test_transcription_usage_of_both_kinds() -> None:
    tokens = parse(
        envelope(
            {
                "type": "conversation.item.input_audio_transcription.completed",
                "item_id": "item_1",
                "usage": {
                    "type": "tokens",
                    "input_tokens": 14,
                    "output_tokens": 7,
                    "total_tokens": 21,
                    "input_token_details": {"text_tokens": 0, "audio_tokens": 14},
                },
            }
        )
    )
    assert tokens["item_id"] == "item_1"
    assert tokens["usage"]["input_audio_tokens"] == 14
    assert tokens["usage"]["total_tokens"] == 21
    duration = parse(
        envelope(
            {
                "type": "conversation.item.input_audio_transcription.completed",
                "item_id": "item_2",
                "usage": {"type": "duration", "seconds": 2.5},
            }
        )
    )
    assert duration["usage"] == {"usage_type": "duration", "usage_seconds": 2.5}


@pytest.mark.parametrize(
    ("record", "reason"),
    [
        (
            envelope({"type": "error", "event_id": 123}),
            "field event_id: expected text, got number 123",
        ),
        (
            envelope({"type": "error", "event_id": True}),
            "field event_id: expected text, got boolean true",
        ),
        (
            envelope({"type": "response.created", "response": {"id": {"x": 1}}}),
            'field response.id: expected text, got object {"x":1}',
        ),
        (
            envelope({"type": "error", "response_id": 5}),
            "field response_id: expected text, got number 5",
        ),
        (envelope({"type": "error", "item_id": 0}), "field item_id: expected text, got number 0"),
        (
            envelope({"type": "error", "previous_item_id": 1}),
            "field previous_item_id: expected text",
        ),
        (
            envelope({"type": "error"}, session_id=7),
            "field session_id: expected text, got number 7",
        ),
        (
            envelope({"type": "error"}, deployment=7),
            "field deployment: expected text, got number 7",
        ),
        (
            {**envelope({"type": "error"}), "resource": 7},
            "field resource: expected text, got number 7",
        ),
        (
            envelope({"type": "session.created", "session": {"id": "s", "model": 4}}),
            "field session.model: expected text, got number 4",
        ),
        (
            envelope({"type": "error", "error": {"type": ["a"]}}),
            'field error.type: expected text, got array ["a"]',
        ),
        (
            envelope({"type": "error", "item_id": {"k": "v" * 100}}),
            'field item_id: expected text, got object {"k":"' + "v" * 51 + "...",  # 60 characters
        ),
    ],
)
def test_values_of_the_wrong_type_name_their_field(record, reason) -> None:
    with pytest.raises(rt.RecordError) as caught:
        parse(record)
    assert str(caught.value).startswith(reason)


def test_counts_beyond_64_bits_are_refused_not_overflowed() -> None:
    usage = b'{"total_tokens": %d, "input_tokens": 1}'
    cases = (
        (rt.MAX_COUNT, rt.MAX_COUNT),  # the largest plausible count lands
        (rt.MAX_COUNT + 1, "is not a plausible count"),  # sums of such would overflow BIGINT
        (2**63 - 1, "is not a plausible count"),
        (2**63, "is beyond the 64-bit integer range"),
        (2**64 - 1, "is beyond the 64-bit integer range"),
    )
    for value, expected in cases:
        raw = (
            b'{"received_at": "2026-03-31T09:14:05Z", "resource": "r", "event": {"type": '
            b'"response.done", "response": {"id": "r", "usage": ' + usage % value + b"}}}"
        )
        if isinstance(expected, str):
            with pytest.raises(rt.RecordError, match=expected):
                rt.parse_record(raw, rt.Defaults())
        else:
            row = rt.as_dict(rt.parse_record(raw, rt.Defaults()))
            assert row["usage"]["total_tokens"] == expected
    # orjson reads integers beyond 64 bits as floats: refused by their value, not as fractions
    raw = (
        b'{"received_at": "2026-03-31T09:14:05Z", "resource": "r", "event": {"type": '
        b'"response.done", "response": {"id": "r", "usage": {"output_tokens": 1e30}}}}'
    )
    with pytest.raises(rt.RecordError) as caught:
        rt.parse_record(raw, rt.Defaults())
    assert str(caught.value).startswith(
        "field usage.output_tokens: 1000000000000000019884624838656 is beyond the 64-bit"
    )


@pytest.mark.parametrize(
    ("received_at", "reason"),
    [
        (1774948445, "before 2015-01-01: epoch seconds written where milliseconds are expected?"),
        ("2014-12-31T23:59:59Z", "before 2015-01-01: a clock or time zone gone wrong?"),
        (
            "2026-04-03T00:00:01Z",
            "more than 2 days after this run: a clock or time zone gone wrong?",
        ),
    ],
)
def test_implausible_receive_times_are_refused(received_at, reason) -> None:
    now = rt.Defaults(latest_received_at=datetime(2026, 4, 3, tzinfo=UTC))
    with pytest.raises(rt.RecordError) as caught:
        parse({"received_at": received_at, "resource": "r", "event": {"type": "error"}}, now)
    assert str(caught.value).startswith(f"field received_at: {received_at!r} reads as ")
    assert str(caught.value).endswith(reason)
    # the bounds themselves are plausible
    for edge in ("2015-01-01T00:00:00Z", "2026-04-03T00:00:00Z"):
        parse({"received_at": edge, "resource": "r", "event": {"type": "error"}}, now)
