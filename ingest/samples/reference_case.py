"""The reference case: one isolated voice turn on gpt-realtime-mini-2025-12-15, Sweden Central,
2026-03-31, rebuilt event by event from its published numbers.

162 server events: session.created/updated (whisper-1 transcription, server VAD threshold 0.9,
silence 1000 ms, prefix 300 ms, voice alloy), one user turn of about 11 s of speech, a whisper-1
transcription reporting `{"type": "duration", "seconds": 0}`, one response of 21 s of audio whose
`response.done` usage is 766 = 229 (text 119 incl. 64 cached, audio 110 incl. 64 cached) + 537 (text
117, audio 420), and an error event. Audio is silent PCM16 at 24 kHz (48,000 bytes a second).

Also the reference bill: the Cost Management FOCUS export of the same account for March 2026
(write_bill). Regenerate both with `python -m ingest.samples.reference_case samples/reference_case`.
"""

from __future__ import annotations

import base64
import gzip
import json
import sys
import zlib
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from ingest.samples import cost_exports

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
    folder = folder / "realtime_logs"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "realtime_events.jsonl.gz"
    body = b"".join(orjson.dumps(e) + b"\n" for e in enveloped_events())
    path.write_bytes(gzip.compress(body, mtime=0))
    return path


# --- The reference bill ------------------------------------------------------------------------
# Cost Management FOCUS export of the reference account for March 2026: the six realtime meters
# of the reference case on 2026-03-31, plus unrelated services; two runs of the month-to-date
# export (an early one whose 03-31 quantities are partial, and the final one).

SUBSCRIPTION = "00000000-0000-0000-0000-00000000c0de"
EXPORT_NAME = "tokenrecon-focus"
EXPORT_SCOPE = (
    f"/subscriptions/{SUBSCRIPTION}/providers/Microsoft.CostManagement/exports/{EXPORT_NAME}"
)
ACCOUNT_ID = (
    f"/subscriptions/{SUBSCRIPTION}/resourcegroups/rg-voice/providers/"
    f"microsoft.cognitiveservices/accounts/{RESOURCE}"
)
# meter name -> (meter id, USD per 1M tokens, final-run tokens on 03-31, early-run tokens)
REALTIME_METERS: dict[str, tuple[str, str, int, int]] = {
    "gpt rt aud mn in gl 1215 1M Tokens": ("4f1c2a10-0001-4d6e-9a51-7b3c1e0a1215", "10", 640, 320),
    "gpt rt aud mn out gl 1215 1M Tokens": ("4f1c2a10-0002-4d6e-9a51-7b3c1e0a1215", "20", 631, 300),
    "gpt rt txt mn in gl 1215 1M Tokens": ("4f1c2a10-0003-4d6e-9a51-7b3c1e0a1215", "0.6", 357, 180),
    "gpt rt txt mn out gl 1215 1M Tokens": ("4f1c2a10-0004-4d6e-9a51-7b3c1e0a1215", "2.4", 181, 90),
    "gpt rt txt mn cd in gl 1215 1M Tokens": ("4f1c2a10-0005-4d6e-9a51-7b3c1e0a1215", "0.06", 0, 0),
    "gpt rt aud mn cd in gl 1215 1M Tokens": ("4f1c2a10-0006-4d6e-9a51-7b3c1e0a1215", "0.3", 0, 0),
}
RUNS = {  # run -> (run id, submitted, end date, folder timestamp)
    "early": (
        "5d0d6c0e-6a43-4a0e-8a3e-0b7f2a310001",
        "2026-03-31T05:10:12.4471234Z",
        "2026-03-30T00:00:00",
        "202603310510",
    ),
    "final": (
        "5d0d6c0e-6a43-4a0e-8a3e-0b7f2a310002",
        "2026-04-01T05:12:43.5123456Z",
        "2026-03-31T00:00:00",
        "202604010512",
    ),
}


def _focus_columns(version: str) -> list[str]:
    from ingest.sources.focus import METADATA_DIR

    name = {"1.0": "FocusCost_1.0.json", "1.0r2": "FocusCost_1.0.json"}[version]
    return [c["ColumnName"] for c in json.loads((METADATA_DIR / name).read_text())["Columns"]]


def bill_rows(run: str, consumed_in_blocks: bool = False) -> list[dict[str, Any]]:
    """FOCUS rows of one run (values as text, the way a CSV export holds them)."""
    from decimal import Decimal

    rows: list[dict[str, Any]] = []
    base = {
        "BillingAccountId": "/providers/Microsoft.Billing/billingAccounts/contoso",
        "BillingAccountName": "Contoso",
        "BillingCurrency": "USD",
        "BillingPeriodStart": "2026-03-01T00:00Z",
        "BillingPeriodEnd": "2026-04-01T00:00Z",
        "ChargeCategory": "Usage",
        "ChargeFrequency": "Usage-Based",
        "ProviderName": "Microsoft",
        "PublisherName": "Microsoft",
        "InvoiceIssuerName": "Microsoft",
        "PricingCategory": "Standard",
        "SubAccountId": f"/subscriptions/{SUBSCRIPTION}",
        "SubAccountName": "voice-prod",
        "x_PricingCurrency": "USD",
        "x_BillingExchangeRate": "1",
    }
    for meter, (meter_id, price, final_tokens, early_tokens) in REALTIME_METERS.items():
        tokens = final_tokens if run == "final" else early_tokens
        blocks = Decimal(tokens) / Decimal(1_000_000)
        cost = blocks * Decimal(price)
        rows.append(
            {
                **base,
                "ChargePeriodStart": "2026-03-31T00:00Z",
                "ChargePeriodEnd": "2026-04-01T00:00Z",
                "ChargeDescription": meter,
                "BilledCost": f"{cost:f}",
                "EffectiveCost": f"{cost:f}",
                "ListCost": f"{cost:f}",
                "ContractedCost": f"{cost:f}",
                "ListUnitPrice": price,
                "ContractedUnitPrice": price,
                "PricingQuantity": f"{blocks:f}",
                "PricingUnit": "1M Tokens",
                "ConsumedQuantity": f"{blocks:f}" if consumed_in_blocks else str(tokens),
                "ConsumedUnit": "Tokens",
                "RegionId": "swedencentral",
                "RegionName": "Sweden Central",
                "ResourceId": ACCOUNT_ID,
                "ResourceName": RESOURCE,
                "ResourceType": "Azure AI services multi-service account",
                "ServiceCategory": "AI and Machine Learning",
                "ServiceName": "Azure OpenAI",
                "SkuId": "DZH318Z0CJRT",
                "SkuPriceId": f"DZH318Z0CJRT/{meter_id}",
                "Tags": '{"team": "voice", "Env ": "prod"}',
                "x_ResourceGroupName": "rg-voice",
                "x_SkuMeterCategory": "Cognitive Services",
                "x_SkuMeterSubcategory": "Azure OpenAI Media",
                "x_SkuMeterName": meter,
                "x_SkuMeterId": meter_id,
                "x_PricingUnitDescription": "1M",
                "x_PricingBlockSize": "1000000",
                "x_BilledCostInUsd": f"{cost:f}",
                "x_EffectiveCostInUsd": f"{cost:f}",
            }
        )
    unrelated = [
        ("Storage", "Tables", "Hot LRS Data Stored", "GB/Month", "0.02", "12.5", "storage01"),
        ("Virtual Machines", "Dv5 Series", "D2 v5", "1 Hour", "0.096", "24", "vm-agent-01"),
        (
            "Azure Monitor",
            "Log Analytics",
            "Analytics Logs Data Ingestion",
            "1 GB",
            "2.3",
            "0.4",
            "law-voice",
        ),
    ]
    days = ["2026-03-29", "2026-03-30"] + (["2026-03-31"] if run == "final" else [])
    for day in days:
        for category, subcategory, meter, unit, price, quantity, resource in unrelated:
            cost = Decimal(price) * Decimal(quantity)
            next_day = f"2026-03-{int(day[-2:]) + 1:02d}" if day != "2026-03-31" else "2026-04-01"
            rows.append(
                {
                    **base,
                    "ChargePeriodStart": f"{day}T00:00Z",
                    "ChargePeriodEnd": f"{next_day}T00:00Z",
                    "ChargeDescription": meter,
                    "BilledCost": f"{cost:f}",
                    "EffectiveCost": f"{cost:f}",
                    "ListCost": f"{cost:f}",
                    "ListUnitPrice": price,
                    "PricingQuantity": quantity,
                    "PricingUnit": unit,
                    "ConsumedQuantity": quantity,
                    "ConsumedUnit": unit,
                    "RegionId": "swedencentral",
                    "RegionName": "Sweden Central",
                    "ResourceId": f"/subscriptions/{SUBSCRIPTION}/resourcegroups/rg/{resource}",
                    "ResourceName": resource,
                    "ServiceName": category,
                    "x_SkuMeterCategory": category,
                    "x_SkuMeterSubcategory": subcategory,
                    "x_SkuMeterName": meter,
                    "x_SkuMeterId": f"00000000-0000-0000-0000-{zlib.crc32(meter.encode()):012d}",
                    "x_PricingUnitDescription": unit,
                    "x_PricingBlockSize": "1",
                    "Tags": "",
                }
            )
    return rows


def _export_run(run: str) -> cost_exports.ExportRun:
    run_id, submitted, end, _ = RUNS[run]
    return cost_exports.ExportRun(
        EXPORT_NAME, EXPORT_SCOPE, run_id, submitted, "2026-03-01T00:00:00", end
    )


def write_bill(
    container: Path,
    file_format: str = "Csv",
    runs: tuple[str, ...] = ("early", "final"),
    bill_format: str = "focus",
) -> list[Path]:
    """Write the reference export runs in the Cost Management layout under `container`:
    costs/<export>/20260301-20260331/<yyyyMMddHHmm>/<run id>/part_0_0001.<ext> + manifest.json.
    Csv: FOCUS 1.0 (or, with `bill_format`, EA or MCA actual or amortized cost details), gzip,
    dates without seconds, ConsumedQuantity in tokens. Parquet: FOCUS 1.0r2, snappy,
    DECIMAL(38,18) costs, INT96 dates, ConsumedQuantity in blocks."""
    manifests = []
    for run in runs:
        run_id, _, _, stamp = RUNS[run]
        folder_rel = f"costs/{EXPORT_NAME}/20260301-20260331/{stamp}/{run_id}"
        if file_format == "Csv":
            manifests.append(
                cost_exports.write_run(
                    container,
                    folder_rel,
                    _export_run(run),
                    bill_rows(run),
                    bill_format,
                    focus_columns=_focus_columns("1.0"),
                )
            )
            continue
        folder = container / folder_rel
        folder.mkdir(parents=True, exist_ok=True)
        data = _parquet_bill(run)
        name = "part_0_0001.snappy.parquet"
        (folder / name).write_bytes(data)
        manifest = cost_exports.manifest(
            _export_run(run),
            "focus",
            [(f"{folder_rel}/{name}", len(data), len(bill_rows(run)))],
            file_format="Parquet",
            data_version="1.0r2",
        )
        (folder / "manifest.json").write_text(json.dumps(manifest, indent=2))
        manifests.append(folder / "manifest.json")
    return manifests


def _parquet_bill(run: str) -> bytes:
    import io
    from decimal import Decimal

    import pyarrow as pa
    import pyarrow.parquet as pq

    from ingest.sources.focus import METADATA_DIR

    meta = json.loads((METADATA_DIR / "FocusCost_1.0.json").read_text())["Columns"]
    rows = bill_rows(run, consumed_in_blocks=True)
    arrays, fields = [], []
    for column in meta:
        name, kind = column["ColumnName"], column["DataType"]
        values = [r.get(name) or None for r in rows]
        if name == "x_BillingExchangeRate":
            typ = pa.string()  # as Cost Management writes it
        elif kind in ("Decimal", "Number") and name != "ConsumedUnit":
            typ = pa.decimal128(38, 18)
            values = [None if v is None else Decimal(v) for v in values]
        elif kind == "DateTime":
            typ = pa.timestamp("ns")
            values = [
                None if v is None else datetime.fromisoformat(v.replace("Z", "")) for v in values
            ]
        elif kind == "Boolean":
            typ = pa.bool_()
        else:
            typ = pa.string()
        arrays.append(pa.array(values, typ))
        fields.append(pa.field(name, typ))
    buffer = io.BytesIO()
    pq.write_table(
        pa.Table.from_arrays(arrays, schema=pa.schema(fields)),
        buffer,
        compression="snappy",
        use_deprecated_int96_timestamps=True,
    )
    return buffer.getvalue()


if __name__ == "__main__":
    target = Path(sys.argv[1] if len(sys.argv) > 1 else "samples/reference_case")
    print(write(target))
    for manifest in write_bill(target / "cost_exports"):
        print(manifest)
