"""Azure OpenAI meter names -> what they bill, and the seed built from the meter catalogue.

Meter names are terse and irregular (`gpt rt aud mn cd in gl 1215 1M Tokens`,
`gpt4o realtimePrvwAudInp DataZone Tokens`, `gpt-4o-mini-transcribe-txt-out-dz Tokens`). The
grammar below is inferred, not official (see DOMAIN section 4); names it cannot decide go to
OVERRIDES. `parse_meter_name` is used twice, by one mechanism: to classify the bundled catalogue
into seeds/azure_openai_meters.csv (`python -m ingest meters`), and by `ingest focus` for meters a
bill names that the catalogue does not know yet (new meters appear every few months).

Each meter also gets the usage field it bills under the documented semantics (cached tokens are a
subset of input tokens, so an uncached input meter bills input minus cached):
    realtime and audio models: uncached_<m>_tokens, cached_<m>_tokens, output_<m>_tokens
    transcription models:      transcription_input_audio_tokens, ..._input_text_tokens,
                               ..._output_tokens; Whisper by the hour: transcription_hours
    text-to-speech, translation by the hour: none (not in Realtime usage)
"""

from __future__ import annotations

import csv
import re
import sys
from dataclasses import asdict, dataclass, fields
from decimal import Decimal
from pathlib import Path

CATALOGUE = Path(__file__).parent / "meter_catalogue" / "realtime_audio_meters.csv"
SEED = Path(__file__).resolve().parents[2] / "seeds" / "azure_openai_meters.csv"

MODALITIES = ("text", "audio", "image")
DIRECTIONS = ("input", "output")
DEPLOYMENT_TYPES = ("global", "data_zone", "regional")
UNITS = {"1K": 1_000, "1M": 1_000_000, "hour": 1, "1M characters": 1_000_000}

_TOKENS = {
    "modality": {
        "aud": "audio",
        "audio": "audio",
        "txt": "text",
        "text": "text",
        "img": "image",
        "image": "image",
    },
    "direction": {
        "in": "input",
        "inp": "input",
        "input": "input",
        "out": "output",
        "outp": "output",
        "opt": "output",
        "output": "output",
    },
    "cached": {"cd": True, "cchd": True, "cached": True},
    "deployment": {
        "gl": "global",
        "glbl": "global",
        "global": "global",
        "dz": "data_zone",
        "dzn": "data_zone",
        "dzone": "data_zone",
        "datazone": "data_zone",
        "rg": "regional",
        "regnl": "regional",
        "rgnl": "regional",
        "regn": "regional",
        "regional": "regional",
    },
}


@dataclass(frozen=True)
class Meter:
    """What a meter bills."""

    family: str
    model_version: str | None
    modality: str
    direction: str
    is_cached: bool
    deployment_type: str
    unit: str
    block_size: int
    usage_field: str  # the usage column it bills under the documented semantics, or 'none'


# Names the grammar cannot decide, by lower-cased meter name.
OVERRIDES: dict[str, Meter] = {}


def _usage_field(family: str, modality: str, direction: str, cached: bool, unit: str) -> str:
    if family in ("azure-speech-tts", "gpt-4o-mini-tts", "gpt-realtime-translate"):
        return "none"
    if unit == "hour":
        return "transcription_hours"
    if "transcribe" in family:
        if direction == "output":
            return "transcription_output_tokens"
        return f"transcription_input_{modality}_tokens"
    if direction == "output":
        return f"output_{modality}_tokens"
    return f"{'cached' if cached else 'uncached'}_{modality}_tokens"


def _family(words: list[str], lowered: str) -> tuple[str, str | None, str | None]:
    """(family, version, modality implied by the family word) from the name's words."""
    joined = " ".join(words)
    if "speech" in words and "to" in words and "text" not in words[:1]:
        if "whisper" in words:
            return "whisper", None, "audio"
        return "azure-speech-tts", None, "text"
    if re.search(r"\bgpt realtime (whisper|translate)\b", joined):
        name = "gpt-realtime-" + re.search(r"(whisper|translate)", joined).group(1)
        return name, None, "audio"
    version = next((w for w in words if re.fullmatch(r"\d{4}", w)), None)
    numbered = re.search(r"\bgpt (?:realtime|rt|aud) (\d(?:\.\d)?)\b", joined)
    mini = bool(re.search(r"\b(mn|mini)\b", joined)) or "gpt4omini" in lowered.replace(" ", "")
    if "tts" in words:
        return "gpt-4o-mini-tts", version, None
    if {"trscb", "tcrb", "transcribe"} & set(words):
        if "tcrb" in words and "d" in words:
            return "gpt-4o-transcribe-diarize", version, None
        return ("gpt-4o-mini-transcribe" if mini else "gpt-4o-transcribe"), version, None
    realtime = bool({"rt", "realtime", "realtimeprvw", "rtime"} & set(words))
    if numbered:
        number = numbered.group(1)
        base = "gpt-realtime" if realtime else "gpt-audio"
        return f"{base}-{number}{'-mini' if mini else ''}", None, None
    if words[:2] == ["gpt", "4o"] or words[:1] == ["gpt4o"] or words[:1] == ["gpt4omini"]:
        base = "gpt-4o-mini" if mini or words[:1] == ["gpt4omini"] else "gpt-4o"
        if realtime:
            return f"{base}-realtime-preview", version, None
        return f"{base}-audio-preview", version, "audio"
    if words[:2] == ["gpt", "rt"]:
        return ("gpt-realtime-mini" if mini else "gpt-realtime"), version, None
    if words[:2] == ["gpt", "aud"]:
        return ("gpt-audio-mini" if mini else "gpt-audio"), version, "audio"
    raise ValueError(f"no known model family in {lowered!r}")


def _words(name: str) -> list[str]:
    """Lower-case words: camelCase split, separators (space, -, _) removed; `gpt-4o` stays
    `gpt 4o`, `gpt4o` stays one word; `DataZone` -> `datazone`."""
    text = name.replace("DataZone", "Datazone").replace("DZone", "Dzone").replace("DZn", "Dzn")
    text = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", text)
    text = re.sub(r"([a-z]+)(\d{4})$|([a-z]+)(\d{4})(?=\W)", r"\1\3 \2\4", text)
    return [w for w in re.split(r"[\s\-_]+", text.lower()) if w]


def parse_meter_name(name: str) -> Meter:
    """Classify one meter name. Raises ValueError (with the reason) when it cannot."""
    override = OVERRIDES.get(name.strip().lower())
    if override is not None:
        return override
    lowered = name.strip().lower()
    if lowered.endswith(" 1m tokens"):
        unit, body = "1M", name.strip()[: -len(" 1M Tokens")]
    elif lowered.endswith(" tokens"):
        unit, body = "1K", name.strip()[: -len(" Tokens")]
    elif lowered.endswith(" unit"):
        unit, body = "hour", name.strip()[: -len(" Unit")]
    elif lowered.endswith(" characters"):
        unit, body = "1M characters", name.strip()[: -len(" Characters")]
    else:
        raise ValueError(
            f"unknown unit suffix in {name!r} (expected Tokens, 1M Tokens, Unit or Characters)"
        )
    words = _words(body)
    family, version, implied = _family(words, lowered)
    found: dict[str, object] = {}
    for word in words:
        for kind, table in _TOKENS.items():
            if word in table:
                found[kind] = table[word]  # the last one wins: `gpt-4o-aud-0603-txt` is text
    modality = str(found.get("modality") or implied or "")
    if family in ("azure-speech-tts",):
        modality, direction = "text", "input"
    elif unit == "hour":
        modality, direction = "audio", "input" if family == "whisper" else "output"
    else:
        direction = str(found.get("direction") or ("output" if family == "gpt-4o-mini-tts" else ""))
    if modality not in MODALITIES:
        raise ValueError(f"no modality (aud/txt/img) in {name!r}")
    if direction not in DIRECTIONS:
        raise ValueError(f"no direction (in/out) in {name!r}")
    deployment = found.get("deployment")
    if deployment is None:
        raise ValueError(f"no deployment type (gl/dz/rg) in {name!r}")
    cached = bool(found.get("cached", False))
    return Meter(
        family=family,
        model_version=version,
        modality=modality,
        direction=direction,
        is_cached=cached,
        deployment_type=str(deployment),
        unit=unit,
        block_size=UNITS[unit],
        usage_field=_usage_field(family, modality, direction, cached, unit),
    )


SEED_COLUMNS = (
    "meter_key",
    "meter_name",
    "product_name",
    *(f.name for f in fields(Meter)),
    "unit_of_measure",
    "unit_price_usd",
    "effective_start_date",
)


def build_seed(catalogue: Path = CATALOGUE) -> list[dict[str, object]]:
    """Every catalogue meter, classified; raises if one cannot be (the parser must keep up)."""
    rows = []
    with catalogue.open(encoding="utf-8") as f:
        for record in csv.DictReader(f):
            meter = parse_meter_name(record["meterName"])
            rows.append(
                {
                    "meter_key": record["meterName"].strip().lower(),
                    "meter_name": record["meterName"].strip(),
                    "product_name": record["productName"],
                    **asdict(meter),
                    "unit_of_measure": record["unitOfMeasure"],
                    "unit_price_usd": str(Decimal(record["retailPriceUSD"])),
                    "effective_start_date": record["effectiveStartDate"][:10],
                }
            )
    return sorted(rows, key=lambda r: str(r["meter_key"]))


def write_seed(path: Path = SEED) -> Path:
    rows = build_seed()
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, SEED_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return path


if __name__ == "__main__":
    print(write_seed(Path(sys.argv[1]) if len(sys.argv) > 1 else SEED))
