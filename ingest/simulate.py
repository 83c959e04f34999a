"""`ingest simulate`: a realistic month of Realtime traffic and the Cost Management exports that
bill it, under a billing truth chosen by option (written alongside, for checking the fit).

Traffic: sessions on two accounts (gpt-realtime-mini-2025-12-15 global on contoso-voice-swc,
gpt-realtime-2025-08-28 data zone on contoso-voice-weu), multi-turn conversations whose input
grows with the context (each response re-sends the conversation), cache hits on the repeated
prefix, cancelled and failed responses, whisper-1 (duration) and gpt-4o-mini-transcribe (tokens)
transcription, GA and beta event names, base64 audio deltas of plausible size (or none, with
--no-audio), client events on some sessions. Logs are envelope JSONL files, one per account and
day, except the last day of the second account, written as a bare log (raw wire events) under
logs-bare/<resource>/<deployment>/: billing_truth.json says which options ingest it.

Bill: for every day, the meters of each account charge what the truth says:
  documented  each meter bills its documented usage field exactly;
  observed    cached input billed at the uncached meters (cached meters bill 0), input
              transcription billed as audio input (10 tokens a second of Whisper audio, the
              transcribe model's tokens as they are), and 180 hidden text-input tokens per
              response - with multiplicative noise (--noise).
Exports are FOCUS 1.0 CSV gzip runs in the real layout: a month-to-date run every day (each
re-delivering the month so far), plus the early-month re-run of the month on the 3rd of the next;
or, with --overwrite, one folder the latest run overwrites. Deterministic for a given --seed.
"""

from __future__ import annotations

import base64
import csv
import json
import random
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson

from ingest.meter_catalogue import SEED
from ingest.samples import cost_exports
from ingest.samples.reference_case import _focus_columns

AUDIO_TOKENS_PER_SECOND_IN = 10
AUDIO_TOKENS_PER_SECOND_OUT = 20
INSTRUCTION_TOKENS = 180  # hidden per-response text input under the "observed" truth
SUBSCRIPTION = "00000000-0000-0000-0000-00000000c0de"
ACCOUNTS_PREFIX = (
    f"/subscriptions/{SUBSCRIPTION}/resourcegroups/rg-voice/providers/"
    "microsoft.cognitiveservices/accounts"
)
BILLING_SCOPE = f"/subscriptions/{SUBSCRIPTION}"  # what the simulated exports read


@dataclass(frozen=True)
class Account:
    resource: str
    deployment: str
    model: str
    family: str
    version: str
    deployment_type: str
    region: str


ACCOUNTS = (
    Account(
        "contoso-voice-swc",
        "rt-mini",
        "gpt-realtime-mini-2025-12-15",
        "gpt-realtime-mini",
        "1215",
        "global",
        "swedencentral",
    ),
    Account(
        "contoso-voice-weu",
        "rt-full-dz",
        "gpt-realtime-2025-08-28",
        "gpt-realtime",
        "0828",
        "data_zone",
        "westeurope",
    ),
)
FIELDS = (
    "uncached_text_tokens",
    "cached_text_tokens",
    "uncached_audio_tokens",
    "cached_audio_tokens",
    "output_text_tokens",
    "output_audio_tokens",
)


def _meters(account: Account) -> dict[str, dict[str, Any]]:
    """usage field -> catalogue meter of the account's model, version and deployment type."""
    found = {}
    with SEED.open(encoding="utf-8") as f:
        catalogue = list(csv.DictReader(f))
    for row in catalogue:
        if (
            row["family"] == account.family
            and row["model_version"] == account.version
            and row["deployment_type"] == account.deployment_type
            and row["usage_field"] in FIELDS
        ):
            found[row["usage_field"]] = row
    missing = set(FIELDS) - set(found)
    if missing:
        raise ValueError(f"no catalogue meter for {account.model} {sorted(missing)}")
    return found


def _usage(text_in, audio_in, cached_text, cached_audio, text_out, audio_out) -> dict[str, Any]:
    return {
        "total_tokens": text_in + audio_in + text_out + audio_out,
        "input_tokens": text_in + audio_in,
        "output_tokens": text_out + audio_out,
        "input_token_details": {
            "text_tokens": text_in,
            "audio_tokens": audio_in,
            "image_tokens": 0,
            "cached_tokens": cached_text + cached_audio,
            "cached_tokens_details": {
                "text_tokens": cached_text,
                "audio_tokens": cached_audio,
                "image_tokens": 0,
            },
        },
        "output_token_details": {"text_tokens": text_out, "audio_tokens": audio_out},
    }


class Simulator:
    def __init__(self, seed: int, audio: bool) -> None:
        self.rng = random.Random(seed)
        self.audio = audio
        self.counter = 0
        # (day, resource) -> usage field -> tokens; and the day's features
        self.usage: dict[tuple[date, str], dict[str, int]] = defaultdict(lambda: defaultdict(int))

    def _id(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}_Sim{self.counter:09d}"

    def session(self, account: Account, start: datetime) -> list[dict[str, Any]]:
        """The envelopes of one session; adds its usage to self.usage."""
        rng = self.rng
        beta = rng.random() < 0.3
        whisper = rng.random() < 0.5
        client_events = rng.random() < 0.25
        session_id = self._id("sess")
        now = start
        out: list[dict[str, Any]] = []

        def emit(event: dict[str, Any], direction: str = "server") -> None:
            nonlocal now
            now += timedelta(milliseconds=rng.randint(5, 60))
            out.append(
                {
                    "received_at": now.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
                    "resource": account.resource,
                    "deployment": account.deployment,
                    "direction": direction,
                    "event": {"event_id": self._id("event"), **event},
                }
            )

        transcription = {"model": "whisper-1" if whisper else "gpt-4o-mini-transcribe"}
        if beta:
            session = {
                "id": session_id,
                "object": "realtime.session",
                "model": account.model,
                "input_audio_format": "pcm16",
                "output_audio_format": "pcm16",
                "input_audio_transcription": transcription,
            }
        else:
            pcm = {"type": "audio/pcm", "rate": 24000}
            session = {
                "id": session_id,
                "type": "realtime",
                "model": account.model,
                "audio": {
                    "input": {"format": pcm, "transcription": transcription},
                    "output": {"format": pcm},
                },
            }
        emit({"type": "session.created", "session": session})
        emit({"type": "session.updated", "session": session})
        context_text, context_audio, cached_prefix = 120, 0, 0
        day = start.date()
        usage = self.usage[(day, account.resource)]
        for _ in range(rng.randint(1, 8)):
            speech = rng.uniform(1.5, 12.0)
            item = self._id("item")
            if client_events:
                chunk = base64.b64encode(bytes(4800)).decode() if self.audio else ""
                for _ in range(int(speech * 10)):
                    emit({"type": "input_audio_buffer.append", "audio": chunk}, "client")
            emit(
                {"type": "input_audio_buffer.speech_started", "audio_start_ms": 0, "item_id": item}
            )
            now += timedelta(seconds=speech)
            emit(
                {
                    "type": "input_audio_buffer.speech_stopped",
                    "audio_end_ms": int(speech * 1000),
                    "item_id": item,
                }
            )
            emit(
                {"type": "input_audio_buffer.committed", "previous_item_id": None, "item_id": item}
            )
            user_audio = int(speech * AUDIO_TOKENS_PER_SECOND_IN)
            words = int(speech * 2.5)
            if whisper:
                tx_usage = {"type": "duration", "seconds": round(speech, 1)}
                usage["transcription_seconds_x10"] += round(speech * 10)
            else:
                tx_usage = {
                    "type": "tokens",
                    "input_tokens": user_audio,
                    "output_tokens": words,
                    "total_tokens": user_audio + words,
                    "input_token_details": {"text_tokens": 0, "audio_tokens": user_audio},
                }
                usage["transcription_audio_tokens"] += user_audio
                usage["transcription_output_tokens"] += words
            response_id = self._id("resp")
            emit(
                {
                    "type": "response.created",
                    "response": {"id": response_id, "status": "in_progress", "usage": None},
                }
            )
            emit(
                {
                    "type": "conversation.item.input_audio_transcription.completed",
                    "item_id": item,
                    "transcript": "...",
                    "usage": tx_usage,
                }
            )
            roll = rng.random()
            status = "failed" if roll < 0.01 else "cancelled" if roll < 0.06 else "completed"
            answer = rng.uniform(2.0, 14.0) * (
                0.4 if status == "cancelled" else 0 if status == "failed" else 1
            )
            audio_out = int(answer * AUDIO_TOKENS_PER_SECOND_OUT)
            text_out = int(audio_out * 0.27)
            audio_in = context_audio + user_audio
            text_in = context_text
            hit = rng.random() < 0.85
            cached_total = (min(cached_prefix, text_in + audio_in) // 64) * 64 if hit else 0
            cached_text = min(
                text_in, cached_total * text_in // max(text_in + audio_in, 1) // 64 * 64
            )
            cached_audio = min(audio_in, cached_total - cached_text)
            delta_bytes = 9600  # 0.1 s of PCM16 24 kHz
            for _ in range(int(answer * 10)):
                delta = base64.b64encode(bytes(delta_bytes)).decode() if self.audio else None
                event = {
                    "type": "response.audio.delta" if beta else "response.output_audio.delta",
                    "response_id": response_id,
                    "item_id": item,
                }
                if delta is not None:
                    event["delta"] = delta
                emit(event)
            emit(
                {
                    "type": "response.done",
                    "response": {
                        "id": response_id,
                        "status": status,
                        "conversation_id": "conv_" + session_id,
                        "usage": _usage(
                            text_in, audio_in, cached_text, cached_audio, text_out, audio_out
                        ),
                    },
                }
            )
            usage["responses"] += 1
            usage["uncached_text_tokens"] += text_in - cached_text
            usage["cached_text_tokens"] += cached_text
            usage["uncached_audio_tokens"] += audio_in - cached_audio
            usage["cached_audio_tokens"] += cached_audio
            usage["output_text_tokens"] += text_out
            usage["output_audio_tokens"] += audio_out
            cached_prefix = text_in + audio_in
            context_text += words + text_out
            context_audio += user_audio + audio_out
        return out


def billed_tokens(truth: str, usage: dict[str, int], field: str) -> int:
    """What the bill charges for one meter and day, under the chosen truth."""
    if truth == "documented":
        return usage[field]
    cached_audio_as_uncached = usage["uncached_audio_tokens"] + usage["cached_audio_tokens"]
    transcription_audio = (
        usage["transcription_audio_tokens"]
        + usage["transcription_seconds_x10"] * AUDIO_TOKENS_PER_SECOND_IN // 10
    )
    return {
        "uncached_audio_tokens": cached_audio_as_uncached + transcription_audio,
        "cached_audio_tokens": 0,
        "uncached_text_tokens": usage["uncached_text_tokens"]
        + usage["cached_text_tokens"]
        + INSTRUCTION_TOKENS * usage["responses"],
        "cached_text_tokens": 0,
        "output_text_tokens": usage["output_text_tokens"] + usage["transcription_output_tokens"],
        "output_audio_tokens": usage["output_audio_tokens"],
    }[field]


def _bill_row(
    account: Account, meter: dict[str, Any], day: date, tokens: int, month: date
) -> dict[str, str]:
    block = Decimal(meter["block_size"])
    blocks = Decimal(tokens) / block
    price = Decimal(meter["unit_price_usd"])
    cost = (blocks * price).quantize(Decimal("0.0000000001"))
    next_month = (month.replace(day=28) + timedelta(days=4)).replace(day=1)
    return {
        "BilledCost": f"{cost:f}",
        "EffectiveCost": f"{cost:f}",
        "ListCost": f"{cost:f}",
        "ListUnitPrice": f"{price:f}",
        "PricingQuantity": f"{blocks:f}",
        "PricingUnit": f"{meter['unit_of_measure']} Tokens",
        "ConsumedQuantity": str(tokens),
        "ConsumedUnit": "Tokens",
        "BillingCurrency": "USD",
        "BillingPeriodStart": f"{month.isoformat()}T00:00Z",
        "BillingPeriodEnd": f"{next_month.isoformat()}T00:00Z",
        "ChargePeriodStart": f"{day.isoformat()}T00:00Z",
        "ChargePeriodEnd": f"{(day + timedelta(days=1)).isoformat()}T00:00Z",
        "ChargeCategory": "Usage",
        "ChargeFrequency": "Usage-Based",
        "ChargeDescription": meter["meter_name"],
        "ProviderName": "Microsoft",
        "PublisherName": "Microsoft",
        "RegionId": account.region,
        "ResourceId": f"{ACCOUNTS_PREFIX}/{account.resource}",
        "ResourceName": account.resource,
        "ServiceName": "Azure OpenAI",
        "SubAccountId": f"/subscriptions/{SUBSCRIPTION}",
        "x_SkuMeterCategory": "Cognitive Services",
        "x_SkuMeterSubcategory": "Azure OpenAI Media",
        "x_SkuMeterName": meter["meter_name"],
        "x_SkuMeterId": f"sim-{meter['meter_key'].replace(' ', '-')}",
        "x_PricingUnitDescription": meter["unit_of_measure"],
        "x_PricingBlockSize": str(meter["block_size"]),
        "x_PricingCurrency": "USD",
        "x_BillingExchangeRate": "1",
    }


def _write_run(
    folder: Path,
    rel: str,
    run_id: str,
    submitted: datetime,
    month: date,
    end: date,
    rows: list[dict[str, str]],
    overwrite: bool,
    bill_format: str = "focus",
) -> None:
    run = cost_exports.ExportRun(
        export_name=f"sim-{bill_format}",
        resource_id=f"{BILLING_SCOPE}/providers/Microsoft.CostManagement/exports/sim-{bill_format}",
        run_id=run_id,
        submitted=submitted.isoformat().replace("+00:00", "Z"),
        start=f"{month.isoformat()}T00:00:00",
        end=f"{end.isoformat()}T00:00:00",
    )
    cost_exports.write_run(
        folder,
        rel,
        run,
        rows,
        bill_format,
        focus_columns=_focus_columns("1.0"),
        overwrite=overwrite,
    )


def simulate(
    out: Path,
    month: date,
    days: int,
    sessions_per_day: int,
    seed: int,
    truth: str,
    noise: float,
    audio: bool,
    overwrite: bool,
    bill_format: str = "focus",
) -> dict[str, Any]:
    """Write logs/, logs-bare/, cost_exports/ and billing_truth.json under `out`; returns the
    truth (with the options each bare log must be ingested with). The bill is a FOCUS export,
    or (`bill_format`) an EA or MCA actual or amortized cost export (cost_exports.BILL_FORMATS)."""
    cost_exports.export_type(bill_format)  # an unknown format fails before anything is written
    if truth not in ("documented", "observed"):
        raise ValueError(f"unknown billing truth {truth!r} (documented or observed)")
    sim = Simulator(seed, audio)
    logs = out / "logs"
    bare_logs: list[dict[str, str]] = []
    for day_number in range(days):
        day = month + timedelta(days=day_number)
        for account in ACCOUNTS:
            envelopes: list[dict[str, Any]] = []
            for n in range(sessions_per_day):
                start = datetime(day.year, day.month, day.day, 8, tzinfo=UTC) + timedelta(
                    minutes=n * 29
                )
                envelopes.extend(sim.session(account, start))
            if account is ACCOUNTS[-1] and day_number == days - 1:
                # the last day of the second account as a bare log (wire events only), the way
                # a logger that keeps raw frames writes it: time and resource come from options
                path = out / "logs-bare" / account.resource / account.deployment / f"{day}.jsonl"
                records = [e["event"] for e in envelopes]
                bare_logs.append(
                    {
                        "path": str(path.relative_to(out)),
                        "resource": account.resource,
                        "deployment": account.deployment,
                        "received_at": f"{day.isoformat()}T12:00:00Z",
                    }
                )
            else:
                path = logs / account.resource / f"{day.isoformat()}.jsonl"
                records = envelopes
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in records))
    rng = random.Random(seed + 1)
    meters = {a.resource: _meters(a) for a in ACCOUNTS}
    daily_rows: dict[date, list[dict[str, str]]] = defaultdict(list)
    for (day, resource), usage in sorted(sim.usage.items()):
        account = next(a for a in ACCOUNTS if a.resource == resource)
        for field, meter in meters[resource].items():
            tokens = billed_tokens(truth, usage, field)
            if truth == "observed" and tokens:
                tokens = max(0, round(tokens * (1 + rng.uniform(-noise, noise))))
            daily_rows[day].append(_bill_row(account, meter, day, tokens, month))
    exports = out / "cost_exports"
    month_folder = (
        f"costs/sim-{bill_format}/{month:%Y%m%d}-{(month + timedelta(days=days - 1)):%Y%m%d}"
    )
    for d in range(days):
        end = month + timedelta(days=d)
        submitted = datetime(end.year, end.month, end.day, 5, 12, tzinfo=UTC) + timedelta(days=1)
        rows = [r for day in sorted(daily_rows) if day <= end for r in daily_rows[day]]
        run_id = f"sim-{month:%Y%m}-{d + 1:02d}"
        rel = (
            f"{month_folder}/{run_id}"
            if overwrite
            else f"{month_folder}/{submitted:%Y%m%d%H%M}/{run_id}"
        )
        _write_run(
            exports,
            month_folder if overwrite else rel,
            run_id,
            submitted,
            month,
            end,
            rows,
            overwrite,
            bill_format,
        )
    if not overwrite:  # the early-month re-run of the month, two days after it ends
        end = month + timedelta(days=days - 1)
        submitted = datetime(end.year, end.month, end.day, 6, tzinfo=UTC) + timedelta(days=3)
        rows = [r for day in sorted(daily_rows) for r in daily_rows[day]]
        _write_run(
            exports,
            f"{month_folder}/{submitted:%Y%m%d%H%M}/sim-{month:%Y%m}-rerun",
            f"sim-{month:%Y%m}-rerun",
            submitted,
            month,
            end,
            rows,
            False,
            bill_format,
        )
    truth_doc = {
        "truth": truth,
        "noise": noise if truth == "observed" else 0,
        "seed": seed,
        "formula": (
            {
                "uncached_audio_tokens": {
                    "uncached_audio_tokens": 1,
                    "cached_audio_tokens": 1,
                    "transcription_seconds": AUDIO_TOKENS_PER_SECOND_IN,
                    "transcription_audio_tokens": 1,
                },
                "cached_audio_tokens": {},
                "uncached_text_tokens": {
                    "uncached_text_tokens": 1,
                    "cached_text_tokens": 1,
                    "responses": INSTRUCTION_TOKENS,
                },
                "cached_text_tokens": {},
                "output_text_tokens": {"output_text_tokens": 1, "transcription_output_tokens": 1},
                "output_audio_tokens": {"output_audio_tokens": 1},
            }
            if truth == "observed"
            else {field: {field: 1} for field in FIELDS}
        ),
        "meters": {
            a.resource: {f: m["meter_name"] for f, m in meters[a.resource].items()}
            for a in ACCOUNTS
        },
        "bare_logs": bare_logs,
    }
    (out / "billing_truth.json").write_text(json.dumps(truth_doc, indent=1))
    return truth_doc
