"""A real account's bill: every Azure OpenAI meter of the catalogue, other services, credits,
adjustments, a purchase, tax and a second currency - every row accounted for, the bill adding
up per run and currency, and the Realtime reference day unchanged beside it."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from ingest.samples import every_meter_bill
from ingest.samples.reference_case import write_bill
from tests.conftest import REFERENCE_LOG, Workspace
from tests.test_ingest_focus import REFERENCE_TOKENS

FOUNDRY = every_meter_bill.RESOURCE


def test_a_bill_of_every_catalogue_meter_adds_up_and_validates(
    workspace: Workspace, tmp_path: Path
) -> None:
    write_bill(tmp_path / "reference", runs=("final",))
    _, rows = every_meter_bill.write(tmp_path / "account")
    catalogue = every_meter_bill.catalogue()
    assert workspace.ingest("events", str(REFERENCE_LOG)).exit_code == 0
    assert (
        workspace.ingest("focus", str(tmp_path / "reference"), str(tmp_path / "account")).exit_code
        == 0
    )
    workspace.dbt("build")

    # the export's rows and BilledCost per currency, summed here, are the warehouse's
    totals = {
        (r["billing_currency"]): (
            r["export_rows"],
            r["export_billed_cost"],
            r["warehouse_rows"],
            r["warehouse_billed_cost"],
        )
        for r in workspace.query_dicts(
            f"select * from marts.fct_export_run_totals where run_key = '{every_meter_bill.RUN_ID}'"
        )
    }
    expected = every_meter_bill.expected_totals(rows)
    assert totals == {
        currency: (count, cost, count, cost) for currency, (count, cost) in expected.items()
    }
    assert workspace.query(
        "select bool_and(is_balanced), count(*) from marts.fct_export_run_totals"
    ) == [(True, 3)]

    # credits, adjustments, purchases, taxes and other services are what they are
    by_class = dict(
        ((c, cur), cost)
        for c, cur, cost in workspace.query(
            "select cost_class, billing_currency, sum(billed_cost) from marts.fct_billed_costs "
            f"where run_key = '{every_meter_bill.RUN_ID}' group by all"
        )
    )
    assert by_class[("credit", "USD")] == Decimal("-25")
    assert by_class[("credit", "EUR")] == Decimal("-1")
    assert by_class[("adjustment", "USD")] == Decimal("-0.37")
    assert by_class[("purchase", "USD")] == Decimal("312")
    assert by_class[("tax", "USD")] == Decimal("19.87")
    assert by_class[("other_service", "USD")] == Decimal("3") + Decimal("0.096") * 24  # Speech, VM
    assert ("azure_openai_unmapped", "USD") not in by_class
    in_scope = sum(
        Decimal(m["unit_price_usd"]) * every_meter_bill.BLOCKS
        for m in catalogue
        if m["scope"] != "other_azure_openai" and m["usage_field"]
    )
    assert by_class[("azure_openai_in_scope", "USD")] == in_scope

    # every catalogue meter reaches the reconciliation, none of them unmapped
    statuses = dict(
        workspace.query(
            "select reconciliation_status, count(*) from marts.fct_meter_reconciliation "
            f"where resource_name = '{FOUNDRY}' group by all"
        )
    )
    assert sum(statuses.values()) == len(catalogue) >= 848
    assert "unmapped_meter" not in statuses
    realtime = sum(1 for m in catalogue if m["scope"] != "other_azure_openai" and m["usage_field"])
    assert statuses == {
        "billed_without_usage": realtime,  # no logs for this account
        "out_of_scope": len(catalogue) - realtime,
    }
    assert workspace.query(
        "select count(*) filter (where is_billed), count(*) from marts.dim_meters "
        "where meter_source = 'catalogue'"
    ) == [(len(catalogue), len(catalogue))]

    # quantities stay in the meter's unit: hours are never tokens
    whisper = workspace.query_dicts(
        "select pricing_unit, billed_quantity, billed_tokens, billed_hours "
        "from marts.fct_billed_usage where meter_name = 'Speech-to-Text-Batch-Whisper-glbl Unit'"
    )
    assert whisper == [
        {
            "pricing_unit": "hours",
            "billed_quantity": Decimal("2.5"),
            "billed_tokens": None,
            "billed_hours": Decimal("2.5"),
        }
    ]
    [images] = workspace.query_dicts(
        "select pricing_unit, billed_quantity, billed_tokens, reconciliation_status "
        "from marts.fct_meter_reconciliation where meter_name = 'Image-DALL-E-2-glbl Images'"
    )
    assert images == {
        "pricing_unit": "images",
        "billed_quantity": Decimal("250"),
        "billed_tokens": None,
        "reconciliation_status": "out_of_scope",
    }

    # the reference day beside it is what it always was
    assert workspace.query(
        "select meter_name, cast(billed_tokens as int), reconciliation_status "
        "from marts.fct_meter_reconciliation where resource_name = 'contoso-voice-swc' "
        "order by meter_name"
    ) == [
        (meter, tokens, status)
        for (meter, tokens), status in zip(
            REFERENCE_TOKENS,
            [
                "usage_without_billing",
                "over_billed",
                "over_billed",
                "usage_without_billing",
                "over_billed",
                "over_billed",
            ],
            strict=True,
        )
    ]

    result = workspace.ingest("validate", "--results-dir", str(tmp_path / "v"))
    assert result.exit_code == 0, result.stdout
    assert "0 failed" in result.stdout
    assert "Calculating Metrics" not in result.stdout + result.stderr  # no progress bars

    report = workspace.ingest("report", "--out", str(tmp_path / "report.html"))
    assert report.exit_code == 0
    assert "the whole bill in EUR: 3 rows, -0.0728 billed" in report.stdout


def test_a_chat_only_account_without_logs_is_out_of_scope(
    workspace: Workspace, tmp_path: Path
) -> None:
    chat = [
        m
        for m in every_meter_bill.catalogue()
        if m["scope"] == "other_azure_openai" and m["workload"] == "inference"
    ]
    every_meter_bill.write(tmp_path / "account", chat, with_others=False)
    assert workspace.ingest("focus", str(tmp_path / "account")).exit_code == 0
    workspace.dbt("build")

    assert workspace.query(
        "select reconciliation_status, count(*) from marts.fct_meter_reconciliation group by all"
    ) == [("out_of_scope", len(chat))]
    assert workspace.query(
        "select cost_class, count(*) from marts.fct_billed_usage group by all"
    ) == [("azure_openai_out_of_scope", len(chat))]
    result = workspace.ingest("validate", "--results-dir", str(tmp_path / "v"))
    assert result.exit_code == 0, result.stdout
