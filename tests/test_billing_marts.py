"""End to end for the bill: land Cost Management exports, dbt build, read the billing marts."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from ingest.samples.reference_case import RUNS, write_bill
from tests.conftest import PROJECT_ROOT, Workspace
from tests.test_ingest_focus import FOCUS_SAMPLE, REFERENCE_TOKENS, csv_part, rewrite_csv


def billed(ws: Workspace) -> list[tuple[str, int]]:
    rows = ws.query(
        "select meter_name, billed_tokens from marts.fct_billed_usage "
        "where charge_date = '2026-03-31' and resource_name = 'contoso-voice-swc' "
        "order by meter_name"
    )
    return [(meter, int(tokens)) for meter, tokens in rows]


@pytest.mark.parametrize("file_format", ["Csv", "Parquet"])
def test_the_reference_bill_gives_the_billed_tokens_of_the_final_run(
    workspace: Workspace, tmp_path: Path, file_format: str
) -> None:
    write_bill(tmp_path / "container", file_format)
    assert workspace.ingest("focus", str(tmp_path / "container")).exit_code == 0
    workspace.dbt("build")

    assert billed(workspace) == REFERENCE_TOKENS  # not 960 / 931 / ...: runs are not added up
    [row] = workspace.query_dicts(
        "select * from marts.fct_billed_usage "
        "where meter_name = 'gpt rt aud mn in gl 1215 1M Tokens'"
    )
    assert row["billing_currency"] == "USD"
    assert row["billed_cost"] == Decimal("0.006400000000000000")
    assert row["list_unit_price"] == Decimal("10")
    assert row["pricing_block_size"] == 1_000_000
    assert row["region_id"] == "swedencentral"
    assert row["meter_subcategory"] == "Azure OpenAI Media"
    assert row["is_price_identity_ok"] is True
    assert row["consumed_quantity_basis"] == ("tokens" if file_format == "Csv" else "blocks")
    assert row["run_key"] == RUNS["final"][0]
    # unrelated services are billed but are not Azure OpenAI usage
    assert workspace.query("select count(*) from marts.fct_billed_usage") == [(6,)]
    assert workspace.query(
        "select cost_class, sum(bill_rows) from marts.fct_billed_costs "
        "where meter_category = 'Storage' group by all"
    ) == [("other_service", 3)]  # the current run's rows only
    assert workspace.query(
        "select run_key, is_current from marts.dim_export_runs order by submitted_at"
    ) == [(RUNS["early"][0], False), (RUNS["final"][0], True)]


def test_two_currencies_are_never_summed(workspace: Workspace, tmp_path: Path) -> None:
    write_bill(tmp_path / "c", runs=("final",))

    def add_eur_row(rows: list[dict]) -> None:
        eur = dict(rows[0])
        eur.update(BillingCurrency="EUR", BilledCost="0.0059", EffectiveCost="0.0059")
        rows.append(eur)

    rewrite_csv(csv_part(tmp_path / "c", "final"), add_eur_row)
    assert workspace.ingest("focus", str(tmp_path / "c")).exit_code == 0
    workspace.dbt("build")

    assert workspace.query(
        "select billing_currency, billed_cost from marts.fct_billed_usage "
        "where meter_name = 'gpt rt aud mn in gl 1215 1M Tokens' order by billing_currency"
    ) == [("EUR", Decimal("0.005900000000000000")), ("USD", Decimal("0.006400000000000000"))]
    # side by side: tokens add up, money in two currencies is not added
    assert workspace.query(
        "select billing_currency, cast(billed_tokens as int), billed_cost, cost_gap "
        "from marts.fct_meter_reconciliation "
        "where meter_name = 'gpt rt aud mn in gl 1215 1M Tokens'"
    ) == [("multiple", 1280, None, None)]


def test_the_focus_sample_appears_in_staging(workspace: Workspace) -> None:
    assert workspace.ingest("focus", str(FOCUS_SAMPLE)).exit_code == 0
    workspace.dbt("build")

    assert workspace.query(
        "select provider_name, count(*) from staging.stg_focus__costs group by all order by all"
    ) == [("AWS", 942), ("Microsoft", 51), ("Oracle", 7)]
    assert workspace.query("select count(*) from marts.fct_billed_usage") == [(0,)]
    assert workspace.query("select is_loose_file, is_current from marts.dim_export_runs") == [
        (True, True)
    ]


def test_the_demo_bundle_builds(workspace: Workspace) -> None:
    """The bundled reference case (both halves) lands and builds, as `make demo` does."""
    samples = PROJECT_ROOT / "samples" / "reference_case"
    assert workspace.ingest("events", str(samples / "realtime_logs")).exit_code == 0
    assert workspace.ingest("focus", str(samples / "cost_exports")).exit_code == 0
    workspace.dbt("build")
    assert billed(workspace) == REFERENCE_TOKENS
    assert workspace.query("select total_tokens from marts.fct_response_usage") == [(766,)]
