"""Pure reader for Realtime API event logs: one log line (or JSON array element) in, one row out.

No I/O happens here. `parse_record` takes the raw bytes of one record and the parsing context of
its file, and returns either a normalised row (a dict keyed by `EVENT_COLUMNS`) or raises
`RecordError` with a human-readable reason. The caller (ingest.events) owns files, line numbers
and the quarantine.

Understood shapes (see shared DOMAIN.md section 2):
- bare wire events (`{"type": ..., "event_id": ...}`) and envelopes
  (`{"received_at", "resource", "deployment", "direction", "session_id", "event": {...}}`);
- GA and beta event names (`response.output_audio.delta` / `response.audio.delta`, ...) and
  session shapes (`audio.input.format` / `input_audio_format`);
- usage objects as written by the .NET SDK's System.Text.Json (`TotalTokenCount`,
  `InputTokenDetails`, `CachedTokenDetails`, `AudioTokenCount`, ...): keys are matched by a
  canonical form (lower case, no underscores, `...TokenCount` == `..._tokens`).

Audio payloads (`delta` of output audio deltas, `audio` of client `input_audio_buffer.append`) are
replaced by their decoded byte length; everything else of the event is kept as JSON text.

Every value is checked against the type of the column it lands in (ingest.events.EVENT_SCHEMA):
text must be a JSON string, counts whole numbers within 64 bits, receive times plausible
(between EARLIEST_RECEIVED_AT and RECEIVED_AT_MAX_AHEAD after now). A value that is not is the
record's quarantine reason, naming the field ("field event_id: expected text, got number 123").
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

import orjson

# Beta event names -> GA names. The landed `event_type` is always the GA name; the name seen on
# the wire is kept in `wire_event_type`.
BETA_TO_GA_EVENT_TYPES: dict[str, str] = {
    "response.audio.delta": "response.output_audio.delta",
    "response.audio.done": "response.output_audio.done",
    "response.audio_transcript.delta": "response.output_audio_transcript.delta",
    "response.audio_transcript.done": "response.output_audio_transcript.done",
    "response.text.delta": "response.output_text.delta",
    "response.text.done": "response.output_text.done",
    "conversation.item.created": "conversation.item.added",
}

# Events whose base64 audio payload is dropped and measured: GA event type -> payload key.
AUDIO_PAYLOAD_KEYS: dict[str, str] = {
    "response.output_audio.delta": "delta",
    "input_audio_buffer.append": "audio",
}

CLIENT_EVENT_TYPES = frozenset(
    {
        "session.update",
        "input_audio_buffer.append",
        "input_audio_buffer.commit",
        "input_audio_buffer.clear",
        "conversation.item.create",
        "conversation.item.retrieve",
        "conversation.item.truncate",
        "conversation.item.delete",
        "response.create",
        "response.cancel",
        "output_audio_buffer.clear",
        "transcription_session.update",
    }
)

# Landed columns, in order; types in ingest.events.EVENT_SCHEMA. Fields that only a few event
# types carry are grouped in struct columns (session_config, usage, error): null on other events.
EVENT_COLUMNS: tuple[str, ...] = (
    "received_at",
    "resource_name",
    "deployment_name",
    "direction",
    "session_id",
    "session_id_source",
    "event_type",
    "wire_event_type",
    "event_id",
    "event_key",
    "response_id",
    "response_status",
    "conversation_id",
    "item_id",
    "previous_item_id",
    "audio_start_ms",
    "audio_end_ms",
    "audio_payload_bytes",
    "session_config",
    "usage",
    "error",
    "event_json",
)
Row = tuple[Any, ...]  # one landed event, values in EVENT_COLUMNS order
SESSION_CONFIG_FIELDS: tuple[str, ...] = (
    "model",
    "session_type",
    "transcription_model",
    "input_audio_format",
    "input_audio_rate",
    "output_audio_format",
    "output_audio_rate",
)
USAGE_FIELDS: tuple[str, ...] = (
    "usage_type",
    "total_tokens",
    "input_tokens",
    "output_tokens",
    "input_text_tokens",
    "input_audio_tokens",
    "input_image_tokens",
    "cached_tokens",
    "cached_text_tokens",
    "cached_audio_tokens",
    "cached_image_tokens",
    "output_text_tokens",
    "output_audio_tokens",
    "output_reasoning_tokens",
    "usage_seconds",
)
ERROR_FIELDS: tuple[str, ...] = ("error_type", "error_code", "error_message")

# Beta audio format names -> (GA format type, sample rate in Hz).
BETA_AUDIO_FORMATS: dict[str, tuple[str, int]] = {
    "pcm16": ("audio/pcm", 24000),
    "g711_ulaw": ("audio/pcmu", 8000),
    "g711_alaw": ("audio/pcma", 8000),
}


# Plausible receive times. Realtime logs cannot predate the API; a time before 2015 is almost
# always epoch seconds read as milliseconds (1970), one far ahead epoch microseconds or a clock
# gone wrong. Neither is guessed: the record is quarantined with the value it held.
EARLIEST_RECEIVED_AT = datetime(2015, 1, 1, tzinfo=UTC)
RECEIVED_AT_MAX_AHEAD = timedelta(days=2)  # tolerated clock skew past the time of the run
INT64_MAX = 2**63 - 1  # landed counts are BIGINT
# Counts and durations beyond these are no real response's (and their sums would overflow the
# warehouse's integers): quarantined as implausible.
MAX_COUNT = 10**12
MAX_SECONDS = 10**7


class RecordError(ValueError):
    """A record that cannot be landed; the message is the quarantine reason."""


def _latest_received_at() -> datetime:
    return datetime.now(UTC) + RECEIVED_AT_MAX_AHEAD


@dataclass(frozen=True)
class Defaults:
    """What bare lines lack, supplied on the command line, and the latest plausible receive time
    (fixed when the run starts, so that every record of a run is held to the same bound)."""

    resource_name: str | None = None
    deployment_name: str | None = None
    received_at: datetime | None = None
    direction: str | None = None
    latest_received_at: datetime = field(default_factory=_latest_received_at)


_JSON_TYPE_NAMES = {
    bool: "boolean",
    int: "number",
    float: "number",
    str: "text",
    list: "array",
    dict: "object",
    type(None): "null",
}


def _json_value(value: Any) -> str:
    """A JSON value as quoted in a reason: its type and (the start of) its text."""
    kind = _JSON_TYPE_NAMES.get(type(value), type(value).__name__)
    try:
        text = orjson.dumps(value).decode()
    except TypeError:
        text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{kind} {text}"


def not_text(name: str, value: Any) -> RecordError:
    return RecordError(f"field {name}: expected text, got {_json_value(value)}")


def _text(value: Any, name: str) -> str | None:
    """A text field: a JSON string or null. (Hot fields are checked inline, the same way.)"""
    if value is not None and value.__class__ is not str:
        raise not_text(name, value)
    return value


@lru_cache(maxsize=4096)
def canonical_key(key: str) -> str:
    """`input_token_details`, `InputTokenDetails` and `InputTokensDetails` compare equal."""
    k = key.lower().replace("_", "")
    if k.endswith("count"):
        k = k[:-5]
    return k.replace("tokens", "token")


@lru_cache(maxsize=1024)
def _lower(text: str) -> str:
    return text.lower()


def canonical_view(obj: Any) -> dict[str, Any]:
    """The object's fields keyed by their canonical names (empty for non-objects)."""
    if not isinstance(obj, dict):
        return {}
    return {canonical_key(key): value for key, value in obj.items()}


def field_of(obj: Any, name: str) -> Any:
    """Case- and naming-insensitive field access on a JSON object (None when absent)."""
    if not isinstance(obj, dict):
        return None
    if name in obj:
        return obj[name]
    return canonical_view(obj).get(canonical_key(name))


def _int_or_none(value: Any, what: str) -> int | None:
    """A count: a non-negative whole number within 64 bits, or null. (orjson reads integers
    beyond 64 bits as floats: they fail here as beyond the range, not later in Arrow.)"""
    if value is None:
        return None
    if value.__class__ is int and 0 <= value <= MAX_COUNT:  # the fast, common case
        return value
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise RecordError(f"field {what}: expected a whole number, got {_json_value(value)}")
    if isinstance(value, float):
        if not value.is_integer():
            raise RecordError(f"field {what}: expected a whole number, got {value!r}")
        value = int(value)
    if value < 0:
        raise RecordError(f"field {what}: negative value {value}")
    if value > INT64_MAX:
        raise RecordError(
            f"field {what}: {value} is beyond the 64-bit integer range (max {INT64_MAX})"
        )
    if value > MAX_COUNT:
        raise RecordError(f"field {what}: {value} is not a plausible count (over {MAX_COUNT})")
    return value


def check_received_at(value: datetime, written: Any, latest: datetime) -> datetime:
    """`value` (parsed from `written`) if it is a plausible receive time, else RecordError
    naming the value and the likely mix-up of units."""
    if EARLIEST_RECEIVED_AT <= value <= latest:
        return value
    numeric = isinstance(written, int | float) and not isinstance(written, bool)
    numeric = numeric or (isinstance(written, str) and written.strip().isdigit())
    if value < EARLIEST_RECEIVED_AT:
        problem = f"before {EARLIEST_RECEIVED_AT.date().isoformat()}"
        hint = "epoch seconds written where milliseconds are expected?"
    else:
        problem = f"more than {RECEIVED_AT_MAX_AHEAD.days} days after this run"
        hint = "a number in another unit than epoch milliseconds, or a clock gone wrong?"
    if not numeric:
        hint = "a clock or time zone gone wrong?"
    raise RecordError(
        f"field received_at: {written!r} reads as {value.isoformat()}, {problem}: {hint}"
    )


def parse_received_at(value: Any) -> datetime:
    """ISO-8601 (zone optional, UTC assumed) or epoch milliseconds -> aware UTC datetime.
    (Not checked for plausibility: see check_received_at.)"""
    if type(value) is str:  # fast path: what loggers write
        try:
            parsed = datetime.fromisoformat(value)
            if parsed.tzinfo is None:
                return parsed.replace(tzinfo=UTC)
            return parsed if parsed.tzinfo is UTC else parsed.astimezone(UTC)
        except (ValueError, OverflowError):
            pass
    if isinstance(value, bool):
        raise RecordError(f"received_at is not a time: {value!r}")
    if isinstance(value, int | float):
        try:
            return datetime.fromtimestamp(value / 1000, tz=UTC)
        except (OverflowError, OSError, ValueError) as exc:
            raise RecordError(
                f"received_at epoch milliseconds out of range: {value!r} "
                "(epoch microseconds or nanoseconds written where milliseconds are expected?)"
            ) from exc
    if isinstance(value, str):
        text = value.strip()
        if text.isascii() and text.isdigit() and len(text) <= 20:
            return parse_received_at(int(text))
        shown = value if len(value) <= 60 else value[:57] + "..."
        try:
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
        except ValueError as exc:
            raise RecordError(
                f"received_at is not ISO-8601 or epoch ms (or is out of range): {shown!r}"
            ) from exc
        if parsed.tzinfo is None:
            return parsed.replace(tzinfo=UTC)
        try:
            return parsed.astimezone(UTC)
        except OverflowError as exc:
            raise RecordError(f"received_at is out of range in UTC: {shown!r}") from exc
    raise RecordError(f"received_at is not a time: {_json_value(value)}")


def base64_decoded_length(payload: Any, what: str) -> int:
    """Decoded byte length of a base64 string, without decoding it."""
    if payload is None:
        return 0
    if not isinstance(payload, str):
        raise RecordError(f"{what} is not a base64 string")
    n = len(payload)
    if n == 0:
        return 0
    if n % 4:
        raise RecordError(f"{what} is not valid base64 (length {n} is not a multiple of 4)")
    padding = 2 if payload.endswith("==") else 1 if payload.endswith("=") else 0
    return n // 4 * 3 - padding


def _audio_format(fmt: Any, name: str) -> tuple[str | None, int | None]:
    """GA `{"type": "audio/pcm", "rate": 24000}` or beta `"pcm16"` -> (type, rate)."""
    if fmt is None:
        return None, None
    if isinstance(fmt, str):
        return BETA_AUDIO_FORMATS.get(fmt, (fmt, None))
    if isinstance(fmt, dict):
        kind = _text(field_of(fmt, "type"), f"{name}.type")
        rate = field_of(fmt, "rate")
        if kind in ("audio/pcmu", "audio/pcma") and rate is None:
            rate = 8000
        if kind == "audio/pcm" and rate is None:
            rate = 24000
        return kind, _int_or_none(rate, f"{name}.rate")
    return None, None


def _session_config(session: Any) -> dict[str, Any] | None:
    """Model, type, transcription model and audio formats of a GA or beta session object."""
    if not isinstance(session, dict):
        return None
    audio = field_of(session, "audio")
    audio_in = field_of(audio, "input")
    audio_out = field_of(audio, "output")
    transcription = field_of(audio_in, "transcription")
    if transcription is None:
        transcription = field_of(session, "input_audio_transcription")
    in_fmt = field_of(audio_in, "format") or field_of(session, "input_audio_format")
    out_fmt = field_of(audio_out, "format") or field_of(session, "output_audio_format")
    in_kind, in_rate = _audio_format(in_fmt, "session input audio format")
    out_kind, out_rate = _audio_format(out_fmt, "session output audio format")
    return {
        "model": _text(field_of(session, "model"), "session.model"),
        "session_type": _text(field_of(session, "type"), "session.type") or "realtime",
        "transcription_model": _text(field_of(transcription, "model"), "transcription model"),
        "input_audio_format": in_kind,
        "input_audio_rate": in_rate,
        "output_audio_format": out_kind,
        "output_audio_rate": out_rate,
    }


def _token_usage(usage: dict[str, Any]) -> dict[str, Any]:
    """Token columns of a Realtime or transcription usage object (any spelling)."""
    out: dict[str, Any] = {"usage_type": "tokens"}
    for name in ("total_tokens", "input_tokens", "output_tokens"):
        out[name] = _int_or_none(field_of(usage, name), f"usage.{name}")
    details_in = field_of(usage, "input_token_details")
    details_out = field_of(usage, "output_token_details")
    cached_details = field_of(details_in, "cached_tokens_details")
    for prefix, details, path in (
        ("input", details_in, "input_token_details"),
        ("cached", cached_details, "input_token_details.cached_tokens_details"),
    ):
        for modality in ("text", "audio", "image"):
            value = field_of(details, f"{modality}_tokens")
            out[f"{prefix}_{modality}_tokens"] = _int_or_none(
                value, f"usage.{path}.{modality}_tokens"
            )
    out["cached_tokens"] = _int_or_none(
        field_of(details_in, "cached_tokens"), "usage.input_token_details.cached_tokens"
    )
    for kind in ("text", "audio", "reasoning"):
        out[f"output_{kind}_tokens"] = _int_or_none(
            field_of(details_out, f"{kind}_tokens"), f"usage.output_token_details.{kind}_tokens"
        )
    return out


def _usage(usage: Any) -> dict[str, Any] | None:
    if usage is None:
        return None
    if not isinstance(usage, dict):
        raise RecordError(f"usage is not an object: {usage!r}")
    kind = field_of(usage, "type")
    if kind == "duration":
        seconds = field_of(usage, "seconds")
        if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds < 0:
            raise RecordError(f"usage.seconds is not a non-negative number: {seconds!r}")
        if seconds > MAX_SECONDS:
            raise RecordError(
                f"field usage.seconds: {seconds!r} is not a plausible duration (over {MAX_SECONDS})"
            )
        return {"usage_type": "duration", "usage_seconds": float(seconds)}
    if kind in (None, "tokens"):
        return _token_usage(usage)
    raise RecordError(f"usage.type is neither 'tokens' nor 'duration': {kind!r}")


def _infer_type(ev: dict[str, Any]) -> str | None:
    """SDK objects serialised without `type`: only a response carrying usage is recognisable."""
    response = ev.get("response")
    if isinstance(response, dict) and field_of(response, "usage") is not None:
        return "response.done"
    return None


def _load(raw: bytes) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError as uexc:
            raise RecordError(f"invalid UTF-8 at byte {uexc.start}") from None
        raise RecordError(f"not valid JSON: {exc}") from None


def parse_record(raw: bytes, defaults: Defaults) -> Row:
    """Normalise one raw record. Raises RecordError with the quarantine reason."""
    return parse_object(_load(raw), raw, defaults)


# Top-level event fields read below, by snake_case name; `_event_fields` maps other spellings
# (PascalCase from System.Text.Json, `...TokenCount`) onto these names.
EVENT_FIELDS = (
    "type",
    "event_id",
    "session",
    "response",
    "response_id",
    "item",
    "item_id",
    "previous_item_id",
    "usage",
    "audio_start_ms",
    "audio_end_ms",
    "error",
)
_NO_ENVELOPE: dict[str, Any] = {}
_SNAKE_OF_CANONICAL = {canonical_key(name): name for name in EVENT_FIELDS}


def _event_fields(event: dict[str, Any]) -> dict[str, Any]:
    """The event itself when its keys are wire snake_case (the fast, common case), else a copy
    with the fields this reader uses renamed to their snake_case names."""
    first = next(iter(event), "")
    if first[:1].islower():
        return event
    return {_SNAKE_OF_CANONICAL.get(canonical_key(k), k): v for k, v in event.items()}


def parse_object(obj: Any, raw: bytes, defaults: Defaults) -> Row:
    """Normalise one decoded record into a Row (EVENT_COLUMNS order); `raw` is its text, kept
    as event_json when it holds no audio payload."""
    if not isinstance(obj, dict):
        raise RecordError(f"record is a JSON {type(obj).__name__}, not an object")
    if "event" in obj and "type" not in obj:
        envelope, event = obj, obj["event"]
        if not isinstance(event, dict):
            raise RecordError("envelope 'event' is not an object")
    else:
        envelope, event = _NO_ENVELOPE, obj
    ev = _event_fields(event)

    wire_type = ev.get("type")
    if wire_type is None:
        wire_type = _infer_type(ev)
        if wire_type is None:
            raise RecordError("event has no 'type' (and is not a recognisable response with usage)")
    if not isinstance(wire_type, str):
        raise RecordError(f"event 'type' is not a string: {wire_type!r}")
    event_type = BETA_TO_GA_EVENT_TYPES.get(wire_type, wire_type)

    received = envelope.get("received_at")
    if received is None:
        if defaults.received_at is None:
            raise RecordError(
                "no receive time: the line has no envelope 'received_at' "
                "and --received-at was not given"
            )
        received_at = defaults.received_at
    else:
        received_at = parse_received_at(received)
        if not EARLIEST_RECEIVED_AT <= received_at <= defaults.latest_received_at:
            check_received_at(received_at, received, defaults.latest_received_at)

    # Text fields are checked where they are read (inline, as in _text: this is the hot path),
    # before any `or` fallback, so that a number never passes for a missing value.
    resource = envelope.get("resource")
    if resource is not None and resource.__class__ is not str:
        raise not_text("resource", resource)
    resource = resource or defaults.resource_name
    if not resource:
        raise RecordError(
            "no resource: the line has no envelope 'resource' and --resource was not given"
        )
    deployment = envelope.get("deployment")
    if deployment is not None and deployment.__class__ is not str:
        raise not_text("deployment", deployment)
    direction = envelope.get("direction") or defaults.direction
    if direction is None:
        direction = "client" if event_type in CLIENT_EVENT_TYPES else "server"
    if direction not in ("server", "client"):
        raise RecordError(f"direction is neither 'server' nor 'client': {direction!r}")
    event_id = ev.get("event_id")
    if event_id is not None and event_id.__class__ is not str:
        raise not_text("event_id", event_id)

    # Session: the envelope's, else the event's own (session.created / session.updated). Bare
    # events of one connection get theirs from the file order in dbt (int_events_sessionised).
    session = ev.get("session")
    session_id = session_id_source = session_config = None
    envelope_session_id = envelope.get("session_id")
    if envelope_session_id is not None and envelope_session_id.__class__ is not str:
        raise not_text("session_id", envelope_session_id)
    if envelope_session_id:
        session_id, session_id_source = envelope_session_id, "envelope"
    elif isinstance(session, dict):
        own_session_id = _text(field_of(session, "id"), "session.id")
        if own_session_id:
            session_id, session_id_source = own_session_id, "event"
    if event_type in ("session.created", "session.updated", "transcription_session.updated"):
        session_config = _session_config(session)

    usage = response_status = conversation_id = None
    response = ev.get("response")
    if isinstance(response, dict):
        response_id = field_of(response, "id")
        response_status = field_of(response, "status")
        conversation_id = field_of(response, "conversation_id")
        for name, value in (
            ("response.id", response_id),
            ("response.status", response_status),
            ("response.conversation_id", conversation_id),
        ):
            if value is not None and value.__class__ is not str:
                raise not_text(name, value)
        if event_type == "response.done":
            usage = _usage(field_of(response, "usage"))
    else:
        response_id = ev.get("response_id")
        if response_id is not None and response_id.__class__ is not str:
            raise not_text("response_id", response_id)
    if event_type == "response.done" and not response_id:
        raise RecordError("response.done has no response.id")

    item_id = ev.get("item_id")
    if item_id is not None and item_id.__class__ is not str:
        raise not_text("item_id", item_id)
    if not item_id and "item" in ev:
        item_id = _text(field_of(ev["item"], "id"), "item.id")
    previous_item_id = ev.get("previous_item_id")
    if previous_item_id is not None and previous_item_id.__class__ is not str:
        raise not_text("previous_item_id", previous_item_id)
    if event_type.startswith("conversation.item.input_audio_transcription."):
        usage = _usage(ev.get("usage"))
    audio_start_ms = audio_end_ms = audio_payload_bytes = error = None
    if "audio_start_ms" in ev:
        audio_start_ms = _int_or_none(ev["audio_start_ms"], "audio_start_ms")
    if "audio_end_ms" in ev:
        audio_end_ms = _int_or_none(ev["audio_end_ms"], "audio_end_ms")

    error_object = ev.get("error")
    if isinstance(error_object, dict):
        code = field_of(error_object, "code")
        error = {
            "error_type": _text(field_of(error_object, "type"), "error.type"),
            "error_code": None if code is None else str(code),
            "error_message": _text(field_of(error_object, "message"), "error.message"),
        }

    payload_key = AUDIO_PAYLOAD_KEYS.get(event_type)
    if payload_key is not None and payload_key in event:
        audio_payload_bytes = base64_decoded_length(event[payload_key], payload_key)
        event = {k: v for k, v in event.items() if k != payload_key}
        event[f"{payload_key}_decoded_bytes"] = audio_payload_bytes
        kept = {**envelope, "event": event} if envelope else event
        event_json = orjson.dumps(kept).decode()
    else:
        event_json = raw.decode("utf-8")

    # Identity used to count an event once when the same log is landed twice: the server's
    # event_id (unique across sessions), else - client events, whose ids the application picks -
    # a fingerprint of the record's bytes.
    if event_id and direction == "server":
        event_key = event_id
    else:
        event_key = "sha1:" + hashlib.sha1(raw, usedforsecurity=False).hexdigest()

    return (  # EVENT_COLUMNS order
        received_at,
        _lower(resource),
        deployment or defaults.deployment_name,
        direction,
        session_id,
        session_id_source,
        event_type,
        wire_type,
        event_id,
        event_key,
        response_id,
        response_status,
        conversation_id,
        item_id,
        previous_item_id,
        audio_start_ms,
        audio_end_ms,
        audio_payload_bytes,
        session_config,
        usage,
        error,
        event_json,
    )


def as_dict(row: Row) -> dict[str, Any]:
    """A Row keyed by column name (for tests and debugging)."""
    return dict(zip(EVENT_COLUMNS, row, strict=True))
