"""The meter-name parser and the catalogue seed built with it."""

from __future__ import annotations

import csv
import gzip
import json
from pathlib import Path

import pytest

from ingest.sources import meters

# (name, family, version, modality, direction, cached, deployment type, unit, usage field:
# null where Realtime usage cannot explain the meter - text-to-speech, chat-completions audio)
SAMPLE = [
    (
        "gpt rt aud mn in gl 1215 1M Tokens",
        "gpt-realtime-mini",
        "1215",
        "audio",
        "input",
        False,
        "global",
        "1M",
        "uncached_audio_tokens",
    ),
    (
        "gpt rt aud mn cd in gl 1215 1M Tokens",
        "gpt-realtime-mini",
        "1215",
        "audio",
        "input",
        True,
        "global",
        "1M",
        "cached_audio_tokens",
    ),
    (
        "gpt rt txt mn Out gl 1215 1M Tokens",
        "gpt-realtime-mini",
        "1215",
        "text",
        "output",
        False,
        "global",
        "1M",
        "output_text_tokens",
    ),
    (
        "gpt rt txt mn out gl 1215 1M Tokens",
        "gpt-realtime-mini",
        "1215",
        "text",
        "output",
        False,
        "global",
        "1M",
        "output_text_tokens",
    ),
    (
        "gpt rt aud 0828 cchd Inp DZn Tokens",
        "gpt-realtime",
        "0828",
        "audio",
        "input",
        True,
        "data_zone",
        "1K",
        "cached_audio_tokens",
    ),
    (
        "gpt rt txt 0828 Outp DZone Tokens",
        "gpt-realtime",
        "0828",
        "text",
        "output",
        False,
        "data_zone",
        "1K",
        "output_text_tokens",
    ),
    (
        "gpt rt img mini cchd Inp rgnl Tokens",
        "gpt-realtime-mini",
        None,
        "image",
        "input",
        True,
        "regional",
        "1K",
        "cached_image_tokens",
    ),
    (
        "gpt4o realtimePrvwAudInp DataZone Tokens",
        "gpt-4o-realtime-preview",
        None,
        "audio",
        "input",
        False,
        "data_zone",
        "1K",
        "uncached_audio_tokens",
    ),
    (
        "gpt4o realtimePrvw audio outp regn Tokens",
        "gpt-4o-realtime-preview",
        None,
        "audio",
        "output",
        False,
        "regional",
        "1K",
        "output_audio_tokens",
    ),
    (
        "gpt4o rtime cached txt inp datazone Tokens",
        "gpt-4o-realtime-preview",
        None,
        "text",
        "input",
        True,
        "data_zone",
        "1K",
        "cached_text_tokens",
    ),
    (
        "gpt4o realtime cached audio inp glbl Tokens",
        "gpt-4o-realtime-preview",
        None,
        "audio",
        "input",
        True,
        "global",
        "1K",
        "cached_audio_tokens",
    ),
    (
        "gpt-4o-rt-aud-1217 cchd Inp rgnl Tokens",
        "gpt-4o-realtime-preview",
        "1217",
        "audio",
        "input",
        True,
        "regional",
        "1K",
        "cached_audio_tokens",
    ),
    (
        "gpt-4o-rt-txt-0603 Outp glbl Tokens",
        "gpt-4o-realtime-preview",
        "0603",
        "text",
        "output",
        False,
        "global",
        "1K",
        "output_text_tokens",
    ),
    (
        "gpt4omini-rt-aud1217 cchd Inp DZn Tokens",
        "gpt-4o-mini-realtime-preview",
        "1217",
        "audio",
        "input",
        True,
        "data_zone",
        "1K",
        "cached_audio_tokens",
    ),
    (
        "gpt4omini-rt-txt1217 Outp glbl Tokens",
        "gpt-4o-mini-realtime-preview",
        "1217",
        "text",
        "output",
        False,
        "global",
        "1K",
        "output_text_tokens",
    ),
    (
        "gpt-4o-aud-0603-txt Inp DZone Tokens",
        "gpt-4o-audio-preview",
        "0603",
        "text",
        "input",
        False,
        "data_zone",
        "1K",
        None,
    ),
    (
        "gpt4omini-aud1217 Outp glbl Tokens",
        "gpt-4o-mini-audio-preview",
        "1217",
        "audio",
        "output",
        False,
        "global",
        "1K",
        None,
    ),
    (
        "gpt aud 0828 txt Inp regnl Tokens",
        "gpt-audio",
        "0828",
        "text",
        "input",
        False,
        "regional",
        "1K",
        None,
    ),
    (
        "gpt aud mn out DZ 1215 1M Tokens",
        "gpt-audio-mini",
        "1215",
        "audio",
        "output",
        False,
        "data_zone",
        "1M",
        None,
    ),
    (
        "gpt aud 1.5 opt Gl 1M Tokens",
        "gpt-audio-1.5",
        None,
        "audio",
        "output",
        False,
        "global",
        "1M",
        None,
    ),
    (
        "gpt rt 1.5 txt cd inp Dz 1M Tokens",
        "gpt-realtime-1.5",
        None,
        "text",
        "input",
        True,
        "data_zone",
        "1M",
        "cached_text_tokens",
    ),
    (
        "gpt-realtime-2.1-mini Audio cd inp DZ 1M Tokens",
        "gpt-realtime-2.1-mini",
        None,
        "audio",
        "input",
        True,
        "data_zone",
        "1M",
        "cached_audio_tokens",
    ),
    (
        "gpt-realtime-2 Text opt Gl 1M Tokens",
        "gpt-realtime-2",
        None,
        "text",
        "output",
        False,
        "global",
        "1M",
        "output_text_tokens",
    ),
    (
        "gpt-4o-mini-transcribe-aud-inp-glbl Tokens",
        "gpt-4o-mini-transcribe",
        None,
        "audio",
        "input",
        False,
        "global",
        "1K",
        "transcription_input_audio_tokens",
    ),
    (
        "gpt4o mn trscb txt out rg 1215 1M Tokens",
        "gpt-4o-mini-transcribe",
        "1215",
        "text",
        "output",
        False,
        "regional",
        "1M",
        "transcription_output_tokens",
    ),
    (
        "gpt-4o-transcribe-txt-inp-dz Tokens",
        "gpt-4o-transcribe",
        None,
        "text",
        "input",
        False,
        "data_zone",
        "1K",
        "transcription_input_text_tokens",
    ),
    (
        "gpt 4o tcrb d aud inp glbl Tokens",
        "gpt-4o-transcribe-diarize",
        None,
        "audio",
        "input",
        False,
        "global",
        "1K",
        "transcription_input_audio_tokens",
    ),
    (
        "gpt-4o-mini-tts-aud-out-dz Tokens",
        "gpt-4o-mini-tts",
        None,
        "audio",
        "output",
        False,
        "data_zone",
        "1K",
        None,
    ),
    (
        "gpt4o mn tts txt in gl 1215 1M Tokens",
        "gpt-4o-mini-tts",
        "1215",
        "text",
        "input",
        False,
        "global",
        "1M",
        None,
    ),
    (
        "Speech-to-Text-Batch-Whisper-glbl Unit",
        "whisper",
        None,
        "audio",
        "input",
        False,
        "global",
        "hour",
        "transcription_hours",
    ),
    (
        "Speech-to-Text-Batch-Whisper-regnl Unit",
        "whisper",
        None,
        "audio",
        "input",
        False,
        "regional",
        "hour",
        "transcription_hours",
    ),
    (
        "gpt-realtime-whisper Opt Gl Unit",
        "gpt-realtime-whisper",
        None,
        "audio",
        "output",
        False,
        "global",
        "hour",
        "transcription_hours",
    ),
    (
        "gpt-realtime-translate Opt Gl Unit",
        "gpt-realtime-translate",
        None,
        "audio",
        "output",
        False,
        "global",
        "hour",
        None,
    ),
    (
        "Speech-Text to Speech HD-Regional Characters",
        "azure-speech-tts",
        None,
        "text",
        "input",
        False,
        "regional",
        "1M characters",
        None,
    ),
]


UNITS = {"1K": ("tokens", 1_000), "1M": ("tokens", 1_000_000), "hour": ("hours", 1)}
UNITS["1M characters"] = ("characters", 1_000_000)
SEED = Path(__file__).resolve().parents[1] / "seeds" / "azure_openai_meters.csv"
DUMP = (
    Path(__file__).resolve().parents[2]
    / "shared/reference/azure-retail-prices/cognitive_services_2025-08-25.ndjson.gz"
)


@pytest.mark.parametrize(
    ("name", "family", "version", "modality", "direction", "cached", "deployment", "unit", "field"),
    SAMPLE,
    ids=[s[0] for s in SAMPLE],
)
def test_parse_realtime_and_speech_meters(
    name, family, version, modality, direction, cached, deployment, unit, field
):
    meter = meters.parse_meter(name)
    assert (
        meter.family,
        meter.model_version,
        meter.modality,
        meter.direction,
        meter.is_cached,
        meter.deployment_type,
        (meter.pricing_unit, meter.block_size),
        meter.usage_field,
    ) == (family, version, modality, direction, cached, deployment, UNITS[unit], field)
    is_chat_audio = "audio" in family and "realtime" not in family  # Chat Completions models
    assert (meter.scope == "other_azure_openai") == is_chat_audio
    assert (meter.service_tier, meter.workload) == ("standard", "inference")


# (name, product, unit of measure) -> the attributes that matter for the name's kind
OTHER = [
    (
        ("GPT 5 Mini Batch Inpt cchd Dzone 1M Tokens", "Azure OpenAI GPT5", "1M"),
        dict(
            family="gpt-5-mini",
            direction="input",
            is_cached=True,
            deployment_type="data_zone",
            service_tier="batch",
            pricing_unit="tokens",
            block_size=1_000_000,
        ),
    ),
    (
        ("GPT 5 Rsng outpt Glbl 1M Tokens", "Azure OpenAI GPT5", "1M"),
        dict(
            family="gpt-5", direction="output", service_tier="standard", scope="other_azure_openai"
        ),
    ),
    (
        ("gpt 4.1 mini cached Inp Data Zone Tokens", "Azure OpenAI", "1K"),
        dict(family="gpt-4.1-mini", is_cached=True, deployment_type="data_zone", block_size=1000),
    ),
    (
        ("gpt 4o mini0718 BatchOutp DataZone Tokens", "Azure OpenAI", "1K"),
        dict(family="gpt-4o-mini", model_version="0718", direction="output", service_tier="batch"),
    ),
    (
        ("gpt-35-trb16K-Batch-125-Inp-glbl Tokens", "Azure OpenAI", "1K"),
        dict(family="gpt-35-turbo-16k", model_version="0125", service_tier="batch"),
    ),
    (
        ("gpt-4-turbo-Vision-128K Output-regional Tokens", "Azure OpenAI", "1K"),
        dict(family="gpt-4-turbo-vision", direction="output", deployment_type="regional"),
    ),
    (
        ("o3-deep research 0626-inp-cchd-glbl 1M Tokens", "Azure OpenAI Reasoning", "1M"),
        dict(family="o3-deep-research", model_version="0626", is_cached=True),
    ),
    (
        ("codex mini inp cchd rgnl Tokens", "Azure OpenAI Reasoning", "1K"),
        dict(family="codex-mini", is_cached=True, deployment_type="regional"),
    ),
    (
        ("gpt-4.1-mini-ft cached input regnl Tokens", "Azure OpenAI", "1K"),
        dict(family="gpt-4.1-mini", workload="fine_tuned_inference", is_cached=True),
    ),
    (
        ("gpt-4o-0806-FT-Trng-glbl tkn Tokens", "Azure OpenAI", "1K"),
        dict(family="gpt-4o", workload="fine_tuning_training", direction="none"),
    ),
    (
        ("gpt-4.1-nano-ft hosting regional Unit", "Azure OpenAI", "1 Hour"),
        dict(
            family="gpt-4.1-nano",
            workload="fine_tuning_hosting",
            pricing_unit="hours",
            modality="other",
            direction="none",
        ),
    ),
    (
        ("o4-mini RFT Training global Unit", "Azure OpenAI Reasoning", "1 Hour"),
        dict(family="o4-mini", workload="fine_tuning_training", pricing_unit="hours"),
    ),
    (
        ("gpt-4o-mini-ft mdel grdr cched inpt Tokens", "Azure OpenAI", "1K"),
        dict(family="gpt-4o-mini", workload="grader", is_cached=True, deployment_type="unknown"),
    ),
    (
        ("text-embedding-3-large-regional Tokens", "Azure OpenAI", "1K"),
        dict(family="text-embedding-3-large", modality="embedding", direction="input"),
    ),
    (
        ("embedding-ada-glbl Tokens", "Azure OpenAI", "1K"),
        dict(family="text-embedding-ada-002", modality="embedding"),
    ),
    (
        ("gpt-image-1-inp-cached-img-dzone Tokens", "Azure OpenAI", "1K"),
        dict(family="gpt-image-1", modality="image", is_cached=True, deployment_type="data_zone"),
    ),
    (
        ("Image-Dall-E-3 HD HighRes-regnl EP Images", "Azure OpenAI", "100"),
        dict(family="dall-e-3", modality="image", pricing_unit="images", block_size=100),
    ),
    (
        ("Sora 1080p Sq 6-10s glbl Video", "Azure OpenAI Image Video", "1 Second"),
        dict(family="sora", modality="video", pricing_unit="seconds", block_size=1),
    ),
    (
        ("Provisioned Managed Data Zone Unit", "Azure OpenAI", "1/Hour"),
        dict(
            family="provisioned-managed",
            service_tier="provisioned",
            pricing_unit="hours",
            workload="provisioned_throughput",
            deployment_type="data_zone",
        ),
    ),
    (
        ("Provisioned Throughput Units", "Azure OpenAI", "1/Month"),
        dict(family="provisioned-throughput", pricing_unit="other", deployment_type="unknown"),
    ),
    (
        ("file-search-tool-calls-rgnl Calls", "Azure OpenAI", "1K"),
        dict(
            family="file-search-tool-calls",
            workload="tool",
            pricing_unit="requests",
            block_size=1000,
        ),
    ),
    (
        ("Code-Interpreter-global Session", "Azure OpenAI", "1"),
        dict(family="code-interpreter", workload="tool", pricing_unit="requests"),
    ),
    (
        ("gpt-oss-120B Outp glbl Tokens", "Azure OpenAI OSS models", "1K"),
        dict(family="gpt-oss-120b", direction="output"),
    ),
    # the grammar generalises to names newer than any catalogue
    (
        ("GPT 5.1 prty Inpt Glbl 1M Tokens", None, None),
        dict(family="gpt-5.1", service_tier="priority", block_size=1_000_000),
    ),
    (
        ("gpt 5 pp outpt DZ 1M Tokens", None, None),
        dict(family="gpt-5", service_tier="priority", deployment_type="data_zone"),
    ),
    (
        ("gpt 4.1 Fl Inp glbl Tokens", None, None),
        dict(family="gpt-4.1", service_tier="flex", block_size=1000),
    ),
    (
        ("gpt 5 Flex cchd Inpt Glbl 1M Tokens", None, None),
        dict(family="gpt-5", service_tier="flex", is_cached=True),
    ),
    (
        ("GPT 5 Mini cache write Inpt Glbl 1M Tokens", None, None),
        dict(family="gpt-5-mini", is_cached=False, direction="input"),
    ),
    (  # the product names the family the meter name leaves out
        ("Mini Inpt Glbl 1M Tokens", "Azure OpenAI GPT5", "1M"),
        dict(family="gpt-5-mini", direction="input", deployment_type="global"),
    ),
    (
        ("gpt-realtime-3 Audio cd inp Gl 1M Tokens", "Azure OpenAI Media", "1M"),
        dict(family="gpt-realtime-3", usage_field="cached_audio_tokens", scope="realtime"),
    ),
]


@pytest.mark.parametrize(("given", "expected"), OTHER, ids=[o[0][0] for o in OTHER])
def test_parse_every_kind_of_azure_openai_meter(given, expected) -> None:
    meter = meters.parse_meter(*given)
    assert {k: getattr(meter, k) for k in expected} == expected
    if meter.scope == "other_azure_openai":
        assert meter.usage_field is None  # Realtime usage cannot explain it


def test_a_cache_write_is_noted() -> None:
    assert "cache write" in meters.parse_meter("GPT 5 Mini cache write Inpt Glbl 1M Tokens").note


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("gpt rt aud mn in gl 1215 Widgets", "unknown unit suffix"),
        ("mystery meter xyz Tokens", "no known model family"),
        ("Llama-3.3-70B-Instruct-inp-glbl Tokens", "no known model family"),
        ("gpt rt mn in gl 1215 1M Tokens", "no modality"),
        ("gpt rt aud mn gl 1215 1M Tokens", "no direction"),
        ("gpt rt aud mn in 1215 1M Tokens", "no deployment type"),
    ],
)
def test_names_the_grammar_cannot_decide_say_why(name: str, reason: str) -> None:
    with pytest.raises(meters.MeterError, match=reason):
        meters.parse_meter(name)


def _seed() -> list[dict[str, str]]:
    with SEED.open(encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _as_seed(meter: meters.Meter) -> dict[str, str]:
    """A Meter's classification as the seed's CSV text."""
    out = {}
    for name in meters.CLASSIFIED_FIELDS:
        value = getattr(meter, name)
        out[name] = "" if value is None else str(value)
    return out


def test_the_parser_alone_classifies_at_least_95_percent_of_the_catalogue(capsys) -> None:
    """With the overrides switched off, the grammar must read the catalogue's meters exactly as
    the catalogue says (every classified field): the overrides stay a short list, and the
    parser generalises to the meters bills will carry before any catalogue knows them."""
    seed = _seed()
    exact = 0
    misread = []
    for row in seed:
        try:
            meter = meters.parse_meter(
                row["meter_name"], row["product_name"], row["unit_of_measure"], use_overrides=False
            )
        except meters.MeterError as exc:
            misread.append(f"{row['meter_name']}: {exc}")
            continue
        if _as_seed(meter) == {k: row[k] for k in meters.CLASSIFIED_FIELDS}:
            exact += 1
        else:
            misread.append(row["meter_name"])
    share = exact / len(seed)
    with capsys.disabled():
        print(
            f"\nmeter-name parser alone: {exact} of {len(seed)} catalogue meters "
            f"({share:.1%}) classified exactly as the catalogue says; "
            f"{len(meters.OVERRIDES)} overrides: {misread}"
        )
    assert len(seed) >= 848
    assert share >= 0.95


LABELLED = Path(__file__).parent / "fixtures" / "realtime_meters_labelled.csv"


def test_the_parser_alone_agrees_with_labels_it_did_not_make(capsys) -> None:
    """The 95% figure above measures the parser against a catalogue it classified itself (bar
    the overrides). This one measures it against labels made before it existed: the 333
    realtime and audio meters as the first catalogue classified them, checked by hand. Their
    usage field differs by design only for Chat Completions audio models (gpt-audio,
    gpt-4o-audio-preview), which Realtime logs cannot explain: out of scope now."""
    with LABELLED.open(encoding="utf-8") as f:
        labelled = list(csv.DictReader(f))
    units = {"1K": "tokens", "1M": "tokens", "hour": "hours", "1M characters": "characters"}
    agree = []
    for row in labelled:
        try:
            meter = meters.parse_meter(
                row["meter_name"], row["product_name"], row["unit_of_measure"], use_overrides=False
            )
        except meters.MeterError:
            continue
        expected_field = None if row["usage_field"] == "none" else row["usage_field"]
        if meter.scope == "other_azure_openai":
            expected_field = None
        agree.append(
            (
                meter.family,
                meter.model_version or "",
                meter.modality,
                meter.direction,
                str(meter.is_cached),
                meter.deployment_type,
                meter.pricing_unit,
                str(meter.block_size),
                meter.usage_field,
            )
            == (
                row["family"],
                row["model_version"],
                row["modality"],
                row["direction"],
                row["is_cached"],
                row["deployment_type"],
                units[row["unit"]],
                row["block_size"],
                expected_field,
            )
        )
    share = sum(agree) / len(labelled)
    with capsys.disabled():
        print(
            f"\nmeter-name parser alone vs hand-checked labels: {sum(agree)} of {len(labelled)} "
            f"({share:.1%})"
        )
    assert len(labelled) == 333
    assert share >= 0.95


def test_the_committed_seed_is_what_the_parser_says() -> None:
    """Every seed row's classification is the parser's (with overrides) of its name, product
    and unit of measure: after a parser change, `python -m ingest meters` rebuilds it."""
    stale = [
        row["meter_name"]
        for row in _seed()
        if _as_seed(
            meters.parse_meter(row["meter_name"], row["product_name"], row["unit_of_measure"])
        )
        != {k: row[k] for k in meters.CLASSIFIED_FIELDS}
    ]
    assert stale == [], "rebuild it: python -m ingest meters"


def test_the_seed_holds_every_azure_openai_meter_of_the_price_list_dump() -> None:
    names = set()
    with gzip.open(DUMP, "rt", encoding="utf-8") as f:
        for line in f:
            item = json.loads(line)
            if item["productName"].lower().startswith("azure openai"):
                names.add(item["meterName"].strip().lower())
    keys = {row["meter_key"] for row in _seed()}
    assert len(names) == 653
    assert names <= keys
    assert len(keys) == len(_seed())  # names differing only in case are one meter
