"""The reference case: one isolated voice turn on gpt-realtime-mini-2025-12-15, Sweden Central,
2026-03-31, rebuilt event by event from its published numbers.

162 server events: session.created/updated (whisper-1 transcription, server VAD threshold 0.9,
silence 1000 ms, prefix 300 ms, voice alloy), one user turn of about 11 s of speech, a whisper-1
transcription reporting `{"type": "duration", "seconds": 0}`, one response of 21 s of audio whose
`response.done` usage is 766 = 229 (text 119 incl. 64 cached, audio 110 incl. 64 cached) + 537 (text
117, audio 420), and an error event. Audio is silent PCM16 at 24 kHz (48,000 bytes a second).

Regenerate the bundled file with `python -m ingest.samples.reference_case samples/reference_case`.
"""

from __future__ import annotations

import base64
import gzip
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

RESOURCE = "contoso-voice-swc"
DEPLOYMENT = "gpt-realtime-mini"
MODEL = "gpt-realtime-mini-2025-12-15"
SESSION_ID = "sess_RefCase20260331"
RESPONSE_ID = "resp_RefCase20260331"
USER_ITEM_ID = "item_RefUser0001"
ASSISTANT_ITEM_ID = "item_RefAsst0001"
STARTED_AT = datetime(2026, 3, 31, 9, 14, 5, tzinfo=UTC)

AUDIO_DELTAS = 84
AUDIO_DELTA_BYTES = 12_000  # 0.25 s of PCM16 24 kHz mono
TRANSCRIPT_DELTAS = 59
OUTPUT_AUDIO_BYTES = AUDIO_DELTAS * AUDIO_DELTA_BYTES  # 1,008,000 bytes = 21.0 s
SPEECH_START_MS = 500
SPEECH_END_MS = 12_500

USAGE: dict[str, Any] = {
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


def _session(transcription: dict[str, Any] | None, vad: dict[str, Any]) -> dict[str, Any]:
    pcm = {"type": "audio/pcm", "rate": 24000}
    return {
        "type": "realtime",
        "object": "realtime.session",
        "id": SESSION_ID,
        "model": MODEL,
        "output_modalities": ["audio"],
        "instructions": "",
        "tools": [],
        "tool_choice": "auto",
        "max_output_tokens": "inf",
        "audio": {
            "input": {
                "format": pcm,
                "transcription": transcription,
                "noise_reduction": None,
                "turn_detection": vad,
            },
            "output": {"format": pcm, "voice": "alloy", "speed": 1.0},
        },
    }


def server_events() -> list[dict[str, Any]]:
    """The 162 server events of the reference session, in wire order (GA names)."""
    default_vad = {
        "type": "server_vad",
        "threshold": 0.5,
        "prefix_padding_ms": 300,
        "silence_duration_ms": 200,
        "create_response": True,
        "interrupt_response": True,
    }
    vad = {**default_vad, "threshold": 0.9, "silence_duration_ms": 1000}
    assistant_item = {
        "id": ASSISTANT_ITEM_ID,
        "object": "realtime.item",
        "type": "message",
        "status": "in_progress",
        "role": "assistant",
        "content": [],
    }
    events: list[dict[str, Any]] = [
        {"type": "session.created", "session": _session(None, default_vad)},
        {"type": "session.updated", "session": _session({"model": "whisper-1"}, vad)},
        {
            "type": "input_audio_buffer.speech_started",
            "audio_start_ms": SPEECH_START_MS,
            "item_id": USER_ITEM_ID,
        },
        {
            "type": "input_audio_buffer.speech_stopped",
            "audio_end_ms": SPEECH_END_MS,
            "item_id": USER_ITEM_ID,
        },
        {"type": "input_audio_buffer.committed", "previous_item_id": None, "item_id": USER_ITEM_ID},
        {
            "type": "conversation.item.added",
            "previous_item_id": None,
            "item": {
                "id": USER_ITEM_ID,
                "object": "realtime.item",
                "type": "message",
                "status": "completed",
                "role": "user",
                "content": [{"type": "input_audio", "transcript": None}],
            },
        },
        {
            "type": "response.created",
            "response": {
                "id": RESPONSE_ID,
                "object": "realtime.response",
                "status": "in_progress",
                "conversation_id": "conv_RefCase20260331",
                "output": [],
                "usage": None,
            },
        },
        {
            "type": "rate_limits.updated",
            "rate_limits": [
                {"name": "tokens", "limit": 100000, "remaining": 95000, "reset_seconds": 3.0}
            ],
        },
        {
            "type": "conversation.item.input_audio_transcription.completed",
            "item_id": USER_ITEM_ID,
            "content_index": 0,
            "transcript": "Hi, could you tell me what the weather is usually like in Stockholm?",
            "usage": {"type": "duration", "seconds": 0},
        },
        {
            "type": "response.output_item.added",
            "response_id": RESPONSE_ID,
            "output_index": 0,
            "item": assistant_item,
        },
        {
            "type": "conversation.item.added",
            "previous_item_id": USER_ITEM_ID,
            "item": assistant_item,
        },
        {
            "type": "response.content_part.added",
            "response_id": RESPONSE_ID,
            "item_id": ASSISTANT_ITEM_ID,
            "output_index": 0,
            "content_index": 0,
            "part": {"type": "audio", "transcript": ""},
        },
    ]
    silence = base64.b64encode(bytes(AUDIO_DELTA_BYTES)).decode()
    words = ("Stockholm has mild summers and cold, dark winters; " * 12).split(" ")
    transcript_left, audio_left = TRANSCRIPT_DELTAS, AUDIO_DELTAS
    while transcript_left or audio_left:
        # Interleave as the service does: transcript runs a little ahead of the audio.
        if transcript_left and transcript_left * AUDIO_DELTAS >= audio_left * TRANSCRIPT_DELTAS:
            events.append(
                {
                    "type": "response.output_audio_transcript.delta",
                    "response_id": RESPONSE_ID,
                    "item_id": ASSISTANT_ITEM_ID,
                    "output_index": 0,
                    "content_index": 0,
                    "delta": words[TRANSCRIPT_DELTAS - transcript_left] + " ",
                }
            )
            transcript_left -= 1
        else:
            events.append(
                {
                    "type": "response.output_audio.delta",
                    "response_id": RESPONSE_ID,
                    "item_id": ASSISTANT_ITEM_ID,
                    "output_index": 0,
                    "content_index": 0,
                    "delta": silence,
                }
            )
            audio_left -= 1
    transcript = " ".join(words[:TRANSCRIPT_DELTAS])
    done_item = {
        **assistant_item,
        "status": "completed",
        "content": [{"type": "output_audio", "transcript": transcript}],
    }
    part_ref = {"response_id": RESPONSE_ID, "item_id": ASSISTANT_ITEM_ID, "output_index": 0}
    events += [
        {"type": "response.output_audio.done", **part_ref, "content_index": 0},
        {
            "type": "response.output_audio_transcript.done",
            **part_ref,
            "content_index": 0,
            "transcript": transcript,
        },
        {
            "type": "response.content_part.done",
            **part_ref,
            "content_index": 0,
            "part": {"type": "audio", "transcript": transcript},
        },
        {
            "type": "response.output_item.done",
            "response_id": RESPONSE_ID,
            "output_index": 0,
            "item": done_item,
        },
        {"type": "conversation.item.done", "previous_item_id": USER_ITEM_ID, "item": done_item},
        {
            "type": "response.done",
            "response": {
                "id": RESPONSE_ID,
                "object": "realtime.response",
                "status": "completed",
                "status_details": None,
                "conversation_id": "conv_RefCase20260331",
                "output": [done_item],
                "output_modalities": ["audio"],
                "audio": {
                    "output": {"format": {"type": "audio/pcm", "rate": 24000}, "voice": "alloy"}
                },
                "usage": USAGE,
            },
        },
        {
            "type": "error",
            "error": {
                "type": "invalid_request_error",
                "code": "response_cancel_not_active",
                "message": "Cancellation failed: no active response found.",
                "param": None,
                "event_id": None,
            },
        },
    ]
    return [{"event_id": f"event_Ref{n:04d}", **event} for n, event in enumerate(events, 1)]


def enveloped_events() -> list[dict[str, Any]]:
    """The server events wrapped as a logger writes them: receive time, resource, deployment."""
    wrapped = []
    for n, event in enumerate(server_events()):
        at = STARTED_AT + timedelta(milliseconds=85 * n)
        wrapped.append(
            {
                "received_at": at.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
                "resource": RESOURCE,
                "deployment": DEPLOYMENT,
                "direction": "server",
                "event": event,
            }
        )
    return wrapped


def write(folder: Path) -> Path:
    """Write the bundled sample: one envelope per line, gzip (mtime 0: byte-for-byte stable)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "realtime_events.jsonl.gz"
    body = b"".join(orjson.dumps(e) + b"\n" for e in enveloped_events())
    path.write_bytes(gzip.compress(body, mtime=0))
    return path


if __name__ == "__main__":
    print(write(Path(sys.argv[1] if len(sys.argv) > 1 else "samples/reference_case")))
