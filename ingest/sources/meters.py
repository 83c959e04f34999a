"""Azure OpenAI / Foundry Models meter names -> what they bill.

Meter names are terse and irregular (`gpt rt aud mn cd in gl 1215 1M Tokens`,
`gpt4o realtimePrvwAudInp DataZone Tokens`, `GPT 5 Mini Batch Inpt cchd Dzone 1M Tokens`,
`gpt-4.1-mini-ft mdl grdr cchd inpt Tokens`, `Provisioned Managed Data Zone Unit`). The grammar
below is inferred, not official (DOMAIN section 4); the few names it reads wrong go to
OVERRIDES. `parse_meter` serves twice, by one mechanism: `python -m ingest meters` classifies
the catalogue into seeds/azure_openai_meters.csv (ingest.meter_catalogue), and `ingest focus`
classifies every meter a bill names, so a meter newer than any catalogue is still understood.

A name reads as: model words (the family, with a version stamp MMDD somewhere), attribute words
in any order and spelling, and a unit suffix. Words are split at spaces, `-`, `_`, camelCase and
letter-digit joins (`aud1217`, `turbo16K`). Attributes:
    modality    aud/audio, txt/text, img/image; embeddings and video by their family
    direction   in/inp/inpt/input, out/outp/outpt/opt/output
    cached      cd/cchd/cched/cached (cache writes: `cache write`/`cw`)
    deployment  gl/glbl/global, dz/dzn/dzone/datazone/`data zone`, rg/regn/regnl/rgnl/regional
    tier        batch, pp/prty/priority, fl/flex, provisioned (PTU); otherwise standard
    workload    ft (fine-tuned model), trng/training/rft (training), hstng/hosting, grader,
                tools (assistants, code interpreter, file search), PTU
and the unit: `1M Tokens`, `Tokens` (1K), `Unit` (hours), `Characters`, `Images`, `Video`
(seconds), `Calls`, `Session`; the price list's unit of measure (`1K`, `1M`, `1 Hour`, `100`),
when given, fixes the block size. The product (the bill's meter subcategory, such as
`Azure OpenAI GPT5`) names the family where the meter name leaves it out.

Each meter also gets its scope and the usage field it bills under the documented semantics
(cached tokens are a subset of input tokens, so an uncached input meter bills input - cached):
    realtime models (scope realtime):   uncached_<m>_tokens, cached_<m>_tokens, output_<m>_tokens
    transcription and speech models     transcription_input_audio_tokens, ..._input_text_tokens,
    (scope transcription_speech):       ..._output_tokens; Whisper by the hour:
                                        transcription_hours; text-to-speech: none (null)
    everything else (other_azure_openai): null - Realtime logs cannot explain it
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields, replace
from decimal import Decimal

MODALITIES = ("text", "audio", "image", "embedding", "video", "other")
DIRECTIONS = ("input", "output", "none")
DEPLOYMENT_TYPES = ("global", "data_zone", "regional", "unknown")
SERVICE_TIERS = ("standard", "batch", "priority", "flex", "provisioned")
WORKLOADS = (
    "inference",
    "fine_tuned_inference",
    "fine_tuning_training",
    "fine_tuning_hosting",
    "grader",
    "tool",
    "provisioned_throughput",
)
PRICING_UNITS = ("tokens", "characters", "images", "seconds", "hours", "requests", "other")
SCOPES = ("realtime", "transcription_speech", "other_azure_openai")
# The block sizes each pricing unit is sold in (a catalogue entry outside these is suspect).
UNIT_BLOCKS = {
    "tokens": (1_000, 1_000_000),
    "characters": (1_000_000,),
    "images": (1, 100),
    "seconds": (1,),
    "hours": (1,),
    "requests": (1, 1_000),
    "other": (1,),
}


class MeterError(ValueError):
    """A meter name the grammar cannot classify; the message says why."""


@dataclass(frozen=True)
class Meter:
    """What a meter bills."""

    family: str
    model_version: str | None
    modality: str
    direction: str
    is_cached: bool
    deployment_type: str
    service_tier: str
    workload: str
    pricing_unit: str
    block_size: int
    usage_field: str | None  # the usage column it bills under the documented semantics
    scope: str
    note: str  # how the name was read (not part of the classification)


CLASSIFIED_FIELDS = tuple(f.name for f in fields(Meter) if f.name != "note")


def _meter(**values) -> Meter:
    return Meter(note="override", **values)


# Names the grammar reads wrong, by lower-cased meter name. Keep this short: each entry is a
# name the parser could not generalise to (tests/test_meters.py measures the parser without it).
OVERRIDES: dict[str, Meter] = {
    "standard unit": _meter(  # the free tier's hourly meter (product "Azure OpenAI Free Meter")
        family="azure-openai-free",
        model_version=None,
        modality="other",
        direction="none",
        is_cached=False,
        deployment_type="unknown",
        service_tier="standard",
        workload="inference",
        pricing_unit="hours",
        block_size=1,
        usage_field=None,
        scope="other_azure_openai",
    ),
}

_DIRECTION = {
    "in": "input",
    "inp": "input",
    "inpt": "input",
    "input": "input",
    "out": "output",
    "outp": "output",
    "outpt": "output",
    "opt": "output",
    "output": "output",
}
_MODALITY = {"aud": "audio", "audio": "audio", "txt": "text", "text": "text"}
_MODALITY |= {"img": "image", "image": "image"}
_CACHED = {"cd", "cchd", "cched", "cached"}
_DEPLOYMENT = {
    "gl": "global",
    "glbl": "global",
    "global": "global",
    "dz": "data_zone",
    "dzn": "data_zone",
    "dzone": "data_zone",
    "datazone": "data_zone",
    "rg": "regional",
    "regn": "regional",
    "regnl": "regional",
    "rgnl": "regional",
    "regional": "regional",
}
_TIER = {"batch": "batch", "pp": "priority", "prty": "priority", "priority": "priority"}
_TIER |= {"fl": "flex", "flex": "flex"}
_WORKLOAD = {
    "ft": "fine_tuned_inference",
    "trng": "fine_tuning_training",
    "training": "fine_tuning_training",
    "rft": "fine_tuning_training",
    "hstng": "fine_tuning_hosting",
    "hosting": "fine_tuning_hosting",
    "grader": "grader",
    "grdr": "grader",
}
# Words that end the model words but say nothing the row needs (kept in the note).
_FILLER = {"model", "mdl", "mdel", "tkn", "base", "dev", "rsng", "ep", "sq"}
_FILLER_NOTES = {"dev": "developer tier", "rsng": "reasoning", "base": "base model"}
# Context sizes that are a model's default (16k and 32k stay: they name other models).
_CONTEXT_DROPPED = {"4k", "8k", "128k"}
_WORD_ALIASES = {"trb": "turbo", "mn": "mini"}

# The unit word ending the name -> (pricing unit, block size when no unit of measure says).
_UNIT_WORDS = {
    "tokens": ("tokens", 1_000),
    "characters": ("characters", 1_000_000),
    "images": ("images", 100),
    "video": ("seconds", 1),
    "unit": ("hours", 1),
    "units": ("other", 1),
    "calls": ("requests", 1_000),
    "session": ("requests", 1),
    "sessions": ("requests", 1),
    "requests": ("requests", 1),
    "gb": ("other", 1),
}
# Multi-word families: (pattern over the joined words, family, modality, pricing hint).
_PHRASES: list[tuple[str, str, str | None]] = [
    (r"^speech to text batch whisper\b", "whisper", "audio"),
    (r"^speech text to speech\b", "azure-speech-tts", "text"),
    (r"^(?:image )?dall e (\d)\b", "dall-e-{0}", "image"),
    (r"^gpt image (\d(?:\.\d)?)\b", "gpt-image-{0}", None),
    (r"^(?:text )?embedding ada\b(?: 002\b)?", "text-embedding-ada-002", "embedding"),
    (r"^text embedding (\d) (large|small)\b", "text-embedding-{0}-{1}", "embedding"),
    (r"^sora(?: (\d))?\b", "sora{0}", "video"),
    (r"^provisioned managed\b", "provisioned-managed", "other"),
    (r"^provisioned throughput\b", "provisioned-throughput", "other"),
    (r"^assistants file search\b", "assistants-file-search", "other"),
    (r"^code interpreter\b", "code-interpreter", "other"),
    (r"^file search tool calls\b", "file-search-tool-calls", "other"),
    (r"^computer use\b", "computer-use-preview", None),
]
# Words that start a model name: a family read from the name must begin with one of these.
# OpenAI's models only: other Foundry Models (Llama, Phi, DeepSeek...) are not Azure OpenAI.
_MODEL_STEMS = re.compile(
    r"^(gpt|o\d|codex|davinci|babbage|ada|curie|text-embedding|dall-e|sora|whisper|tts|"
    r"computer-use|model-router)"
)
_REALTIME_WORDS = {"rt", "realtime", "realtimeprvw", "rtime"}
_SPEECH_WORDS = {"trscb", "tcrb", "transcribe", "tts", "whisper", "translate"}


def _words(name: str) -> list[str]:
    """Lower-case words: camelCase split, letter-digit joins split (`aud1217`, `turbo16K`, but
    not `o3` or `4o`), separators (space, -, _) removed; `DataZone`/`Data Zone` -> `datazone`."""
    text = name.replace("DataZone", "Datazone").replace("DZone", "Dzone").replace("DZn", "Dzn")
    text = re.sub(r"(?i)\bgpt4omini\b", "gpt 4o mini", text)
    text = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", text)
    text = re.sub(r"(?<=[A-Za-z]{2})(?=\d)", " ", text)
    words = [w for w in re.split(r"[\s\-_]+", text.lower()) if w]
    joined = " ".join(words).replace("data zone", "datazone").replace("cache write", "cachewrite")
    return joined.split()


def _unit(words: list[str], unit_of_measure: str | None, name: str) -> tuple[str, int, list[str]]:
    """(pricing unit, block size, the words before the unit suffix)."""
    if not words or words[-1] not in _UNIT_WORDS:
        raise MeterError(
            f"unknown unit suffix in {name!r} (expected Tokens, 1M Tokens, Unit, Characters, "
            "Images, Video, Calls, Session or GB)"
        )
    pricing_unit, block = _UNIT_WORDS[words[-1]]
    body = words[:-1]
    if pricing_unit == "tokens" and body and body[-1] in ("1m", "1k"):
        block = 1_000_000 if body[-1] == "1m" else 1_000
        body = body[:-1]
    measured = block_size_of(unit_of_measure)
    if measured is not None:
        block = measured
        if pricing_unit == "other" and re.search(r"hour", unit_of_measure or "", re.I):
            pricing_unit = "hours"
    return pricing_unit, block, body


def block_size_of(unit_of_measure: str | None) -> int | None:
    """Units per priced block from a price list's or bill's unit of measure: `1K` -> 1000,
    `1M` -> 1000000, `100` -> 100, `10K` -> 10000, `1 Hour`, `1/Hour`, `1/Day` -> 1."""
    if not unit_of_measure or not unit_of_measure.strip():
        return None
    match = re.match(r"^\s*(\d+(?:\.\d+)?)\s*([KM])?\b", unit_of_measure.strip(), re.I)
    if not match:
        return None
    scale = {None: 1, "K": 1_000, "M": 1_000_000}[
        match.group(2).upper() if match.group(2) else None
    ]
    size = Decimal(match.group(1)) * scale
    # a block is a whole number of units, at most a billion: anything else is not a unit of measure
    return int(size) if size == size.to_integral_value() and 1 <= size <= 10**9 else None


def _speech_or_realtime_family(words: list[str]) -> tuple[str, str | None] | None:
    """Realtime, audio, transcription and speech families (the names Realtime logs can explain),
    as (family, modality implied by the family word); None for any other name."""
    joined = " ".join(words)
    if re.search(r"\bgpt realtime (whisper|translate)\b", joined):
        return "gpt-realtime-" + re.search(r"(whisper|translate)", joined).group(1), "audio"
    numbered = re.search(r"\bgpt (?:realtime|rt|aud|audio) (\d{1,2}(?:\.\d{1,2})?)\b", joined)
    mini = bool(re.search(r"\b(mn|mini)\b", joined))
    if "tts" in words:
        return "gpt-4o-mini-tts", None
    if {"trscb", "tcrb", "transcribe"} & set(words):
        if ("tcrb" in words and "d" in words) or "diarize" in words:
            return "gpt-4o-transcribe-diarize", None
        return ("gpt-4o-mini-transcribe" if mini else "gpt-4o-transcribe"), None
    realtime = bool(_REALTIME_WORDS & set(words))
    starts_4o = words[:2] == ["gpt", "4o"]
    if numbered and (realtime or numbered.group(0).split()[1] in ("aud", "audio")):
        base = "gpt-realtime" if realtime else "gpt-audio"
        return f"{base}-{numbered.group(1)}{'-mini' if mini else ''}", None
    audio_word = words[3 if words[2:3] == ["mini"] else 2 : 4 if words[2:3] == ["mini"] else 3]
    if starts_4o and (realtime or audio_word in (["aud"], ["audio"])):
        base = "gpt-4o-mini" if mini else "gpt-4o"
        if realtime:
            return f"{base}-realtime-preview", None
        return f"{base}-audio-preview", "audio"
    if words[:2] == ["gpt", "rt"] or words[:2] == ["gpt", "realtime"]:
        return ("gpt-realtime-mini" if mini else "gpt-realtime"), None
    if words[:2] == ["gpt", "aud"] or words[:2] == ["gpt", "audio"]:
        return ("gpt-audio-mini" if mini else "gpt-audio"), "audio"
    return None


def _generic_family(words: list[str], product: str | None) -> tuple[str, list[str], list[str]]:
    """(family, the words after the model words, notes) for any other model: the model words
    are those before the first attribute word, joined with `-` (`gpt 4.1 mini` ->
    `gpt-4.1-mini`), with known multi-word names read whole (`gpt image 1`, `dall e 3`)."""
    joined = " ".join(words)
    for pattern, family, _ in _PHRASES:
        match = re.match(pattern, joined)
        if match:
            consumed = len(match.group(0).split())
            return family.format(*(g or "" for g in match.groups())), words[consumed:], []
    model: list[str] = []
    notes: list[str] = []
    index = 0
    for index, word in enumerate(words):  # noqa: B007 - index is read after the loop
        if _is_attribute(word):
            break
        word = _WORD_ALIASES.get(word, word)
        if word in _CONTEXT_DROPPED:
            continue
        model.append(word)
    else:
        index = len(words)
    family = "-".join(model)
    family = re.sub(r"^gpt-?(\d)", r"gpt-\1", family)  # gpt4o -> gpt-4o
    if not _MODEL_STEMS.match(family):
        hinted = _family_from_product(product)
        if hinted:
            notes.append(f"family from the product {product!r}")
            number = hinted.split("-", 1)[1]
            model = model[1:] if model[:1] == [number] else model
            return "-".join([hinted, *model]), words[index:], notes
        raise MeterError(f"no known model family in {' '.join(words)!r}")
    return family, words[index:], notes


def _family_from_product(product: str | None) -> str | None:
    """The family a product names (`Azure OpenAI GPT5` -> gpt-5), for meter names without one."""
    match = re.search(r"\b(gpt)[\s-]?(\d+(?:\.\d+)?)\b", product or "", re.I)
    return f"gpt-{match.group(2)}" if match else None


def _is_attribute(word: str) -> bool:
    return (
        word in _DIRECTION
        or word in _MODALITY
        or word in _CACHED
        or word in _DEPLOYMENT
        or word in _TIER
        or word in _WORKLOAD
        or word in _FILLER
        or word in ("cachewrite", "cw", "1m", "1k")
        or bool(re.fullmatch(r"\d{4}", word))
    )


def _scope(family: str) -> str:
    if "realtime" in family and not family.endswith(("-whisper", "-translate")):
        return "realtime"
    if re.search(r"transcribe|whisper|tts|translate", family):
        return "transcription_speech"
    return "other_azure_openai"


def _usage_field(meter: Meter) -> str | None:
    if meter.scope == "other_azure_openai" or meter.workload != "inference":
        return None
    if meter.service_tier not in ("standard",) or meter.family in ("azure-speech-tts",):
        return None
    if "tts" in meter.family or meter.family == "gpt-realtime-translate":
        return None
    if meter.pricing_unit == "hours":
        return "transcription_hours"
    if meter.pricing_unit != "tokens" or meter.modality not in ("text", "audio", "image"):
        return None
    if meter.scope == "transcription_speech":
        if meter.direction == "output":
            return "transcription_output_tokens"
        return f"transcription_input_{meter.modality}_tokens"
    if meter.direction == "output":
        return f"output_{meter.modality}_tokens"
    return f"{'cached' if meter.is_cached else 'uncached'}_{meter.modality}_tokens"


def parse_meter(
    name: str,
    product: str | None = None,
    unit_of_measure: str | None = None,
    *,
    use_overrides: bool = True,
) -> Meter:
    """Classify one meter name (with its product and unit of measure where known). Raises
    MeterError, naming what is missing, when it cannot."""
    if use_overrides:
        override = OVERRIDES.get(name.strip().lower())
        if override is not None:
            return override
    words = _words(name.strip())
    pricing_unit, block_size, body = _unit(words, unit_of_measure, name)
    if not body:
        raise MeterError(f"no model words in {name!r}")
    notes: list[str] = []
    speech = _speech_or_realtime_family(body)
    # the words the family took are not read again as attributes (`gpt aud 1.5` is a family)
    if speech is not None:
        family, implied = speech
        rest = body
    else:
        family, rest, notes = _generic_family(body, product)
        implied = next((hint for p, _, hint in _PHRASES if re.match(p, " ".join(body))), None)
    found: dict[str, object] = {}
    for word in rest:
        for kind, table in (
            ("modality", _MODALITY),
            ("direction", _DIRECTION),
            ("deployment", _DEPLOYMENT),
            ("tier", _TIER),
            ("workload", _WORKLOAD),
        ):
            if word in table:
                if kind == "workload" and found.get("workload") in (
                    "fine_tuning_training",
                    "fine_tuning_hosting",
                    "grader",
                ):
                    continue  # `FT Trng`, `ft mdl grdr`: the more specific word wins
                found[kind] = table[word]  # otherwise the last one wins: `aud-0603-txt` is text
        if word in _CACHED:
            found["cached"] = True
        if word in ("cachewrite", "cw"):
            found["cache_write"] = True
        if word in _FILLER_NOTES:
            notes.append(_FILLER_NOTES[word])
        if re.fullmatch(r"\d{3,4}", word) and "version" not in found:
            found["version"] = word.zfill(4)
    version = found.get("version")
    if speech is not None:  # realtime names carry the version among the model words
        version = next((w for w in body if re.fullmatch(r"\d{4}", w)), None)
    workload = str(found.get("workload") or "inference")
    tier = str(found.get("tier") or "standard")
    modality = str(found.get("modality") or implied or "")
    direction = str(found.get("direction") or "")
    if family.startswith("provisioned"):
        tier, workload, modality, direction = (
            "provisioned",
            "provisioned_throughput",
            "other",
            "none",
        )
    elif family in ("assistants-file-search", "code-interpreter", "file-search-tool-calls"):
        workload, modality, direction = "tool", "other", "none"
    elif family == "whisper":
        tier, modality, direction = "standard", "audio", "input"
        notes.append("speech-to-text by the hour")
    elif family == "azure-speech-tts":
        modality, direction = "text", "input"
    elif family.startswith("text-embedding"):
        modality, direction = "embedding", direction or "input"
    elif family.startswith("sora"):
        modality, direction = "video", "output"
    elif family.startswith("dall-e"):
        modality, direction = "image", "output"
    if workload == "fine_tuning_hosting" or (
        workload == "fine_tuning_training" and pricing_unit == "hours"
    ):
        modality, direction = "other", "none"
    elif workload == "fine_tuning_training":
        direction = "none"
        modality = modality or "text"
    if not modality and speech is not None:
        raise MeterError(f"no modality (aud/txt/img) in {name!r}")
    if not modality:
        modality = "text" if pricing_unit == "tokens" else "other"
    if not direction:
        if family == "gpt-4o-mini-tts":
            direction = "output"
        elif pricing_unit == "tokens" and speech is not None:
            raise MeterError(f"no direction (in/out) in {name!r}")
        else:
            direction = "none"
            if pricing_unit == "tokens":
                notes.append("no direction in the name")
    if found.get("cache_write"):
        notes.append("cache write")
    deployment = str(found.get("deployment") or "unknown")
    if deployment == "unknown" and speech is not None:
        raise MeterError(f"no deployment type (gl/dz/rg) in {name!r}")
    meter = Meter(
        family=family,
        model_version=version if isinstance(version, str) else None,
        modality=modality,
        direction=direction,
        is_cached=bool(found.get("cached", False)),
        deployment_type=deployment,
        service_tier=tier,
        workload=workload,
        pricing_unit=pricing_unit,
        block_size=block_size,
        usage_field=None,
        scope=_scope(family),
        note="; ".join(["parsed", *notes]),
    )
    return replace(meter, usage_field=_usage_field(meter))
