"""A bill the way a real Azure account gets it: every Azure OpenAI meter of the catalogue, plus
what else lands on a bill - other services, an AI Services account's Speech usage, credits,
adjustments, a PTU reservation purchase, tax, and a second billing currency.

One FOCUS 1.0 CSV export run (manifest layout) for March 2026, charged on 2026-03-31 to the
account `contoso-foundry-weu` (not the reference case's account, so the reference day's table
stays what it is). Every catalogue meter bills 2.5 of its blocks at its catalogue price; half of
them under the meter category `Cognitive Services`, half under `Foundry Models` (the category
moved in 2025), each under its product as the meter subcategory. `expected_totals` gives the
export's rows and BilledCost per currency, computed here in Python - what the warehouse must
show.

    python -m ingest.samples.every_meter_bill OUT_FOLDER [--only-scope other_azure_openai]
"""

from __future__ import annotations

import csv
import sys
from collections.abc import Iterable
from decimal import Decimal
from pathlib import Path
from typing import Any

from ingest.samples import cost_exports
from ingest.samples.reference_case import SUBSCRIPTION, _focus_columns

SEED = Path(__file__).resolve().parents[2] / "seeds" / "azure_openai_meters.csv"
RESOURCE = "contoso-foundry-weu"
ACCOUNT_ID = (
    f"/subscriptions/{SUBSCRIPTION}/resourcegroups/rg-ai/providers/"
    f"microsoft.cognitiveservices/accounts/{RESOURCE}"
)
RUN_ID = "7a1e0c55-0b1d-4c3e-9f00-00000000e7e1"
EXPORT_NAME = "contoso-focus-all"
BLOCKS = Decimal("2.5")
DAY, NEXT_DAY = "2026-03-31", "2026-04-01"


def catalogue(seed: Path = SEED) -> list[dict[str, str]]:
    with seed.open(encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _row(**values: Any) -> dict[str, Any]:
    base = {
        "BillingAccountId": "/providers/Microsoft.Billing/billingAccounts/contoso",
        "BillingAccountName": "Contoso",
        "BillingCurrency": "USD",
        "BillingPeriodStart": "2026-03-01T00:00Z",
        "BillingPeriodEnd": "2026-04-01T00:00Z",
        "ChargePeriodStart": f"{DAY}T00:00Z",
        "ChargePeriodEnd": f"{NEXT_DAY}T00:00Z",
        "ChargeCategory": "Usage",
        "ChargeFrequency": "Usage-Based",
        "ProviderName": "Microsoft",
        "PublisherName": "Microsoft",
        "InvoiceIssuerName": "Microsoft",
        "PricingCategory": "Standard",
        "SubAccountId": f"/subscriptions/{SUBSCRIPTION}",
        "SubAccountName": "ai-prod",
        "RegionId": "westeurope",
        "RegionName": "West Europe",
        "x_PricingCurrency": "USD",
        "x_BillingExchangeRate": "1",
    }
    return {**base, **values}


def _priced(price: Decimal, blocks: Decimal) -> dict[str, str]:
    cost = price * blocks
    return {
        "BilledCost": f"{cost:f}",
        "EffectiveCost": f"{cost:f}",
        "ListCost": f"{cost:f}",
        "ContractedCost": f"{cost:f}",
        "ListUnitPrice": f"{price:f}",
        "ContractedUnitPrice": f"{price:f}",
        "PricingQuantity": f"{blocks:f}",
    }


def meter_rows(meters: Iterable[dict[str, str]]) -> list[dict[str, Any]]:
    """One usage row per catalogue meter on the Foundry account."""
    rows = []
    for n, meter in enumerate(meters):
        price = Decimal(meter["unit_price_usd"])
        rows.append(
            _row(
                **_priced(price, BLOCKS),
                ChargeDescription=meter["meter_name"],
                PricingUnit=meter["unit_of_measure"],
                ConsumedQuantity=f"{BLOCKS * int(meter['block_size']):f}",
                ConsumedUnit=meter["pricing_unit"],
                ResourceId=ACCOUNT_ID,
                ResourceName=RESOURCE,
                ResourceType="Azure AI services multi-service account",
                ServiceCategory="AI and Machine Learning",
                ServiceName="Foundry Models" if n % 2 else "Azure OpenAI",
                x_SkuMeterCategory="Foundry Models" if n % 2 else "Cognitive Services",
                x_SkuMeterSubcategory=meter["product_name"],
                x_SkuMeterName=meter["meter_name"],
                x_SkuMeterId=f"00000000-0000-4000-8000-{n:012d}",
                x_PricingUnitDescription=meter["unit_of_measure"],
                x_PricingBlockSize=meter["block_size"],
            )
        )
    return rows


def other_rows() -> list[dict[str, Any]]:
    """What else a real bill holds, none of it Azure OpenAI usage."""
    speech = _row(
        **_priced(Decimal("1"), Decimal("3")),
        ChargeDescription="S1 Speech To Text",
        PricingUnit="1 Hour",
        ResourceId=ACCOUNT_ID,
        ResourceName=RESOURCE,
        ServiceName="Cognitive Services",
        x_SkuMeterCategory="Cognitive Services",
        x_SkuMeterSubcategory="Speech",
        x_SkuMeterName="S1 Speech To Text Audio Hours",
        x_PricingUnitDescription="1 Hour",
        x_PricingBlockSize="1",
    )
    vm = _row(
        **_priced(Decimal("0.096"), Decimal("24")),
        ChargeDescription="D2 v5",
        PricingUnit="1 Hour",
        ResourceId=f"/subscriptions/{SUBSCRIPTION}/resourcegroups/rg-ai/providers/"
        "microsoft.compute/virtualmachines/vm-agent-01",
        ResourceName="vm-agent-01",
        ServiceName="Virtual Machines",
        x_SkuMeterCategory="Virtual Machines",
        x_SkuMeterSubcategory="Dv5 Series",
        x_SkuMeterName="D2 v5",
        x_PricingUnitDescription="1 Hour",
        x_PricingBlockSize="1",
    )
    credit = _row(
        ChargeCategory="Credit",
        ChargeDescription="Azure credit",
        BilledCost="-25.00",
        EffectiveCost="-25.00",
        ServiceName="Azure OpenAI",
        ResourceId=ACCOUNT_ID,
        ResourceName=RESOURCE,
    )
    adjustment = _row(
        ChargeCategory="Adjustment",
        ChargeClass="Correction",
        ChargeDescription="Rounding adjustment",
        BilledCost="-0.37",
        EffectiveCost="-0.37",
        ServiceName="Azure OpenAI",
    )
    purchase = _row(
        ChargeCategory="Purchase",
        ChargeFrequency="One-Time",
        ChargeDescription="Provisioned Throughput Units reservation",
        BilledCost="312.00",
        EffectiveCost="0",
        ServiceName="Azure OpenAI",
        x_SkuMeterCategory="Cognitive Services",
        x_SkuMeterSubcategory="Azure OpenAI",
        x_SkuMeterName="Provisioned Throughput Units",
        PricingQuantity="1",
        x_PricingUnitDescription="1/Month",
    )
    tax = _row(ChargeCategory="Tax", ChargeDescription="VAT", BilledCost="19.87")
    eur = [
        _row(
            **_priced(Decimal(price), Decimal("4")),
            BillingCurrency="EUR",
            BillingAccountId="/providers/Microsoft.Billing/billingAccounts/contoso-eu",
            ChargeDescription=name,
            ResourceId=ACCOUNT_ID.replace(RESOURCE, "contoso-foundry-frc"),
            ResourceName="contoso-foundry-frc",
            ServiceName="Foundry Models",
            x_SkuMeterCategory="Foundry Models",
            x_SkuMeterSubcategory=product,
            x_SkuMeterName=name,
            x_PricingUnitDescription=unit,
            x_PricingBlockSize=block,
            x_PricingCurrency="EUR",
        )
        for name, product, unit, block, price in (
            ("GPT 5 Mini Inpt Glbl 1M Tokens", "Azure OpenAI GPT5", "1M", "1000000", "0.23"),
            ("gpt 4.1 Inp glbl Tokens", "Azure OpenAI", "1K", "1000", "0.0018"),
        )
    ]
    eur_credit = _row(
        ChargeCategory="Credit",
        BillingCurrency="EUR",
        ChargeDescription="Sponsorship credit",
        BilledCost="-1.00",
        EffectiveCost="-1.00",
    )
    return [speech, vm, credit, adjustment, purchase, tax, *eur, eur_credit]


def expected_totals(rows: Iterable[dict[str, Any]]) -> dict[str, tuple[int, Decimal]]:
    """The export's rows and BilledCost per billing currency, summed exactly."""
    totals: dict[str, tuple[int, Decimal]] = {}
    for row in rows:
        count, cost = totals.get(row["BillingCurrency"], (0, Decimal(0)))
        totals[row["BillingCurrency"]] = (count + 1, cost + Decimal(row.get("BilledCost") or 0))
    return totals


def write(
    container: Path, meters: list[dict[str, str]] | None = None, with_others: bool = True
) -> tuple[Path, list[dict[str, Any]]]:
    """Write the run (manifest layout, CSV gzip) under `container`; returns the manifest and
    the rows written."""
    rows = meter_rows(catalogue() if meters is None else meters)
    if with_others:
        rows += other_rows()
    folder_rel = f"costs/{EXPORT_NAME}/20260301-20260331/202604010600/{RUN_ID}"
    run = cost_exports.ExportRun(
        EXPORT_NAME,
        # an export of the billing account (not of the reference case's subscription: two
        # exports of one scope compete for its month, and only one would count)
        "/providers/Microsoft.Billing/billingAccounts/contoso/providers/"
        f"Microsoft.CostManagement/exports/{EXPORT_NAME}",
        RUN_ID,
        "2026-04-01T06:00:00Z",
        "2026-03-01T00:00:00",
        "2026-03-31T00:00:00",
    )
    path = cost_exports.write_run(
        container, folder_rel, run, rows, focus_columns=_focus_columns("1.0")
    )
    return path, rows


if __name__ == "__main__":
    args = sys.argv[1:]
    scope = args[args.index("--only-scope") + 1] if "--only-scope" in args else None
    chosen = [m for m in catalogue() if scope is None or m["scope"] == scope]
    manifest, written = write(Path(args[0]), chosen, with_others=scope is None)
    print(f"{manifest}: {len(written)} rows")
