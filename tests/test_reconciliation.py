"""The reference case side by side: API usage, the bill, explanations, the fitted formula, and
the Great Expectations suites."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from ingest.samples.reference_case import write_bill
from tests.conftest import PROJECT_ROOT, REFERENCE_LOG, Workspace, write_jsonl
from tests.test_ingest_focus import csv_part, rewrite_csv

AUD_IN = "gpt rt aud mn in gl 1215 1M Tokens"
AUD_OUT = "gpt rt aud mn out gl 1215 1M Tokens"
TXT_IN = "gpt rt txt mn in gl 1215 1M Tokens"
TXT_OUT = "gpt rt txt mn out gl 1215 1M Tokens"
TXT_CD = "gpt rt txt mn cd in gl 1215 1M Tokens"
AUD_CD = "gpt rt aud mn cd in gl 1215 1M Tokens"


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    """The reference session and bill, landed and built once for this module."""
    root = tmp_path_factory.mktemp("reference")
    ws = Workspace(root, root / "landing", root / "warehouse.duckdb")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TOKENRECON_LANDING", str(ws.landing))
        mp.setenv("TOKENRECON_WAREHOUSE", str(ws.warehouse))
        mp.setenv("TOKENRECON_WORKERS", "1")
        assert ws.ingest("events", str(REFERENCE_LOG)).exit_code == 0
        assert (
            ws.ingest("focus", str(PROJECT_ROOT / "samples/reference_case/cost_exports")).exit_code
            == 0
        )
        ws.dbt("build")
    return ws


def rows(ws: Workspace) -> dict[str, dict]:
    return {
        r["meter_name"]: r
        for r in ws.query_dicts(
            "from marts.fct_meter_reconciliation where usage_date = '2026-03-31' "
            "and resource_name = 'contoso-voice-swc'"
        )
    }


def test_the_reference_case_side_by_side(reference: Workspace) -> None:
    got = rows(reference)
    assert set(got) == {AUD_IN, AUD_OUT, TXT_IN, TXT_OUT, TXT_CD, AUD_CD}
    including_cached = {m: int(got[m]["api_tokens_including_cached"]) for m in got}
    assert including_cached == {
        AUD_IN: 110,
        AUD_OUT: 420,
        TXT_IN: 119,
        TXT_OUT: 117,
        TXT_CD: 64,
        AUD_CD: 64,
    }
    billed = {m: int(got[m]["billed_tokens"]) for m in got}
    assert billed == {AUD_IN: 640, AUD_OUT: 631, TXT_IN: 357, TXT_OUT: 181, TXT_CD: 0, AUD_CD: 0}
    assert int(got[AUD_IN]["api_tokens"]) == 46 and int(got[TXT_IN]["api_tokens"]) == 55
    # DOMAIN's 5.8 / 1.5 / 3.0 / 1.5, kept to two decimals
    ratios = [float(got[m]["billed_to_api_ratio"]) for m in (AUD_IN, AUD_OUT, TXT_IN, TXT_OUT)]
    assert ratios == [5.82, 1.5, 3.0, 1.55]
    assert {m: got[m]["reconciliation_status"] for m in got} == {
        AUD_IN: "over_billed",
        AUD_OUT: "over_billed",
        TXT_IN: "over_billed",
        TXT_OUT: "over_billed",
        TXT_CD: "usage_without_billing",  # cached meters billed 0 are flagged
        AUD_CD: "usage_without_billing",
    }
    aud_in = got[AUD_IN]
    assert (aud_in["model"], aud_in["modality"], aud_in["direction"]) == (
        "gpt-realtime-mini",
        "audio",
        "input",
    )
    assert (aud_in["is_cached"], aud_in["deployment_type"]) == (False, "global")
    # expected vs billed cost, USD, DECIMAL: 46 uncached audio tokens at $10 per 1M
    assert aud_in["billing_currency"] == "USD"
    assert aud_in["api_cost_estimate"] == Decimal("0.000460000000000000")
    assert aud_in["billed_cost"] == Decimal("0.006400000000000000")
    assert aud_in["cost_gap"] == Decimal("0.005940000000000000")


def test_hypotheses_are_scored_per_meter(reference: Workspace) -> None:
    predicted = {
        (r[0], r[1]): (float(r[2]), r[3])
        for r in reference.query(
            "select meter_name, hypothesis, predicted_billed_tokens, is_best_for_meter "
            "from marts.fct_reconciliation_hypotheses"
        )
    }
    assert predicted[(AUD_IN, "documented")][0] == 46
    assert predicted[(AUD_IN, "cached_billed_as_uncached")][0] == 110
    assert predicted[(AUD_CD, "cached_billed_as_uncached")][0] == 0
    assert predicted[(AUD_IN, "committed_audio_duration")][0] == 120  # 12 s of VAD speech x 10/s
    assert predicted[(AUD_IN, "transcription_on_model_meters")][0] == 46  # whisper said 0 s
    # one day, one response: the per-response overhead absorbs the whole text-input gap
    assert predicted[(TXT_IN, "instructions_overhead")] == (357.0, True)
    assert predicted[(AUD_IN, "committed_audio_duration")][1] is True
    assert predicted[(AUD_CD, "documented")][1] is False


def test_the_formula_fit_reports_its_fit(reference: Workspace) -> None:
    fitted = reference.query_dicts("from marts.fct_reconciliation_formula order by meter_name")
    assert {r["meter_name"] for r in fitted} == {AUD_IN, AUD_OUT, TXT_IN, TXT_OUT, TXT_CD, AUD_CD}
    aud_out = next(r for r in fitted if r["meter_name"] == AUD_OUT)
    # one observation: the fit reproduces it exactly, and says how little that means
    assert aud_out["observations"] == 1 and aud_out["features_fitted"] == 1
    assert json.loads(aud_out["coefficients_json"]) == {
        "output_audio_tokens": pytest.approx(631 / 420, abs=1e-6)
    }
    assert abs(aud_out["residual_tokens"]) < 1e-6


def test_validation_passes_on_the_reference_case_with_ratio_warnings(
    reference: Workspace, tmp_path: Path
) -> None:
    result = reference.ingest(
        "validate", "--warehouse", str(reference.warehouse), "--results-dir", str(tmp_path)
    )
    assert result.exit_code == 0, result.stdout
    assert "0 failed" in result.stdout
    assert (
        "warn ratio_warnings: expect_column_values_to_be_between(billed_to_api_ratio)"
        in result.stdout
    )
    [saved] = tmp_path.glob("validation-*.json")
    assert json.loads(saved.read_text())["success"] is True


def test_a_new_meter_is_parsed_and_an_unclassifiable_one_fails_validation(
    workspace: Workspace, tmp_path: Path
) -> None:
    write_bill(tmp_path / "c", runs=("final",))

    def add_new_meters(bill: list[dict]) -> None:
        for name in ("gpt rt aud mn in gl 0401 1M Tokens", "mystery meter xyz Tokens"):
            row = dict(bill[0])
            row.update(x_SkuMeterName=name, ChargeDescription=name)
            bill.append(row)

    rewrite_csv(csv_part(tmp_path / "c", "final"), add_new_meters)
    assert workspace.ingest("events", str(REFERENCE_LOG)).exit_code == 0
    assert workspace.ingest("focus", str(tmp_path / "c")).exit_code == 0
    workspace.dbt("build")

    got = rows(workspace)
    # a realtime meter newer than the catalogue: read by the parser, reconciled like the rest
    # (the session's model is the 1215 version, so this meter has no usage of its own)
    parsed = got["gpt rt aud mn in gl 0401 1M Tokens"]
    assert (parsed["reconciliation_status"], parsed["meter_source"]) == (
        "billed_without_usage",
        "parsed",
    )
    assert (parsed["model"], parsed["modality"], parsed["direction"]) == (
        "gpt-realtime-mini",
        "audio",
        "input",
    )
    unparsed = got["mystery meter xyz Tokens"]
    assert (unparsed["reconciliation_status"], unparsed["meter_source"]) == (
        "unmapped_meter",
        "unclassified",
    )
    assert int(got[AUD_IN]["billed_tokens"]) == 640  # the known meters are unaffected
    [why] = workspace.query(
        "select parse_note from marts.dim_meters where meter_key = 'mystery meter xyz tokens'"
    )
    assert why == ("no known model family in 'mystery meter xyz'",)

    result = workspace.ingest("validate", "--results-dir", str(tmp_path / "v"))
    assert result.exit_code == 1
    assert (
        "FAIL billed_meters: expect_column_values_to_be_in_set(meter_key) - 1 unexpected: "
        "mystery meter xyz tokens" in result.stdout
    )


def test_a_price_that_disagrees_with_the_catalogue_fails_validation(
    workspace: Workspace, tmp_path: Path
) -> None:
    write_bill(tmp_path / "c", runs=("final",))

    def overprice(bill: list[dict]) -> None:
        bill[0]["ListUnitPrice"] = "15"  # the catalogue says 10 per 1M audio input tokens

    rewrite_csv(csv_part(tmp_path / "c", "final"), overprice)
    assert workspace.ingest("focus", str(tmp_path / "c")).exit_code == 0
    workspace.dbt("build")
    result = workspace.ingest("validate", "--results-dir", str(tmp_path / "v"))
    assert result.exit_code == 1
    assert (
        "FAIL billed_prices: expect_column_values_to_be_between(price_ratio) - 1 unexpected: 1.5"
        in result.stdout
    )


def test_usage_no_meter_fits_is_counted_as_unlinked(
    workspace: Workspace, reference_envelopes: list[dict]
) -> None:
    """A deployment the deployments seed does not list, whose sessions announce its name."""
    renamed = json.loads(
        json.dumps(reference_envelopes).replace("gpt-realtime-mini-2025-12-15", "voice-bot-prod")
    )
    for envelope in renamed:
        envelope["deployment"] = "voice-bot-prod"
    write_jsonl(workspace.root / "log.jsonl", renamed)
    assert workspace.ingest("events", str(workspace.root / "log.jsonl")).exit_code == 0
    workspace.dbt("build")

    unlinked = workspace.query(
        "select meter_name, cast(api_tokens as int), reconciliation_status "
        "from marts.fct_meter_reconciliation where is_unlinked_usage order by meter_name"
    )
    assert unlinked == [
        ("unlinked: voice-bot-prod cached_audio_tokens", 64, "unlinked_usage"),
        ("unlinked: voice-bot-prod cached_text_tokens", 64, "unlinked_usage"),
        ("unlinked: voice-bot-prod output_audio_tokens", 420, "unlinked_usage"),
        ("unlinked: voice-bot-prod output_text_tokens", 117, "unlinked_usage"),
        ("unlinked: voice-bot-prod uncached_audio_tokens", 46, "unlinked_usage"),
        ("unlinked: voice-bot-prod uncached_text_tokens", 55, "unlinked_usage"),
    ]


def test_dbt_docs_describe_every_mart_column(
    reference: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TOKENRECON_LANDING", str(reference.landing))
    monkeypatch.setenv("TOKENRECON_WAREHOUSE", str(reference.warehouse))
    reference.dbt("docs", "generate")
    target = reference.root / "dbt_target"
    catalog = json.loads((target / "catalog.json").read_text())
    manifest = json.loads((target / "manifest.json").read_text())
    undocumented = []
    for unique_id, node in catalog["nodes"].items():
        if ".marts." not in f".{node['metadata']['schema']}.":
            continue
        documented = manifest["nodes"][unique_id]["columns"]
        for column in node["columns"]:
            if not (documented.get(column) or {}).get("description"):
                undocumented.append(f"{node['metadata']['name']}.{column}")
    marts = [n for n in catalog["nodes"].values() if n["metadata"]["schema"] == "marts"]
    assert len(marts) >= 10
    assert undocumented == []
