"""Cost Management's native "cost and usage details" exports (actual cost and amortized cost),
as ingest lands them: one canonical column set for Enterprise Agreement and Microsoft Customer
Agreement files, and how a file or a manifest says which dataset it holds.

EA files spell columns PascalCase (`MeterName`, `Cost`, `ResourceGroup`), MCA files lowerCamel
(`meterName`, `costInBillingCurrency`, `resourceGroupName`), with a few exceptions on both
sides (`ResourceId`, `PayGPrice`, `benefitId`). Columns are matched without case and landed
under one PascalCase name; the older EA spellings are read into the newer names both agreements
share (`Cost` -> `CostInBillingCurrency`, `Product` -> `ProductName`, `ResourceGroup` ->
`ResourceGroupName`, `InvoiceSection` -> `InvoiceSectionName`, `BillingCurrencyCode` ->
`BillingCurrency`). Sources: the EA columns of the FinOps toolkit's export schema and samples
(shared/reference/finops-toolkit), and Microsoft's "Cost and usage details file schema" for EA
and MCA, version 2023-12-01-preview. Columns neither lists are kept in `x_ExtraColumns`.

Values are as the FOCUS rule reads them (ingest.sources.focus): exact decimals, placeholders to
NULL; dates are `MM/DD/YYYY` (or ISO-8601), read as UTC days. Quantity is in blocks of
UnitOfMeasure (`1M`, `1K`, `1 Hour`, `10K`); the models resolve the block size.
"""

from __future__ import annotations

from collections.abc import Iterable

from ingest.sources.focus import DECIMAL, FOCUS, CostDataset

_DECIMALS = (
    "Quantity",
    "EffectivePrice",
    "CostInBillingCurrency",
    "UnitPrice",
    "PayGPrice",
    "CostInPricingCurrency",
    "CostInUsd",
    "PaygCostInBillingCurrency",
    "PaygCostInUsd",
    "ExchangeRatePricingToBilling",
    "PartnerEarnedCreditRate",
)
_DATES = (
    "Date",
    "BillingPeriodStartDate",
    "BillingPeriodEndDate",
    "ServicePeriodStartDate",
    "ServicePeriodEndDate",
    "ExchangeRateDate",
)
_BOOLEANS = ("IsAzureCreditEligible", "PartnerEarnedCreditApplied")
# EA (toolkit samples and schema) and MCA (2023-12-01-preview), in one PascalCase spelling.
_TEXT = (
    "InvoiceId",
    "PreviousInvoiceId",
    "BillingAccountId",
    "BillingAccountName",
    "BillingProfileId",
    "BillingProfileName",
    "AccountOwnerId",
    "AccountName",
    "InvoiceSectionId",
    "InvoiceSectionName",
    "ResellerName",
    "ResellerMpnId",
    "CostCenter",
    "SubscriptionId",
    "SubscriptionName",
    "ServiceFamily",
    "ProductOrderId",
    "ProductOrderName",
    "ConsumedService",
    "MeterId",
    "MeterName",
    "MeterCategory",
    "MeterSubCategory",
    "MeterRegion",
    "ProductId",
    "ProductName",
    "PartNumber",
    "PublisherType",
    "PublisherId",
    "PublisherName",
    "PlanName",
    "ResourceGroupName",
    "ResourceId",
    "ResourceName",
    "ResourceLocation",
    "Location",
    "AvailabilityZone",
    "UnitOfMeasure",
    "ChargeType",
    "BillingCurrency",
    "PricingCurrency",
    "ServiceInfo1",
    "ServiceInfo2",
    "AdditionalInfo",
    "Tags",
    "Frequency",
    "Term",
    "ReservationId",
    "ReservationName",
    "PricingModel",
    "OfferId",
    "CostAllocationRuleName",
    "BenefitId",
    "BenefitName",
    "Provider",
    "CustomerTenantId",
    "CustomerName",
    "PartnerTenantId",
    "PartnerName",
)
COLUMNS: dict[str, str] = {
    **{c: DECIMAL for c in _DECIMALS},
    **{c: "TIMESTAMP" for c in _DATES},
    **{c: "BOOLEAN" for c in _BOOLEANS},
    **{c: "VARCHAR" for c in _TEXT},
}
RENAMED = {
    "Cost": "CostInBillingCurrency",  # EA before 2021
    "Product": "ProductName",
    "ResourceGroup": "ResourceGroupName",
    "InvoiceSection": "InvoiceSectionName",
    "BillingCurrencyCode": "BillingCurrency",
}

COST_DETAILS = CostDataset(
    name="cost_details",
    landed="cost_details",
    columns=dict(sorted(COLUMNS.items(), key=lambda item: item[0].lower())),
    renamed=RENAMED,
    required=("Date", "CostInBillingCurrency", "BillingCurrency"),
    case_insensitive=True,
    date_formats=("%m/%d/%Y",),
    cost="CostInBillingCurrency",
    currency="BillingCurrency",
    charge_start="Date",
    charge_end=None,
    billing_period_start="BillingPeriodStartDate",
    billing_account="BillingAccountId",
    sub_account="SubscriptionId",
    meter=("MeterName", "MeterCategory", "MeterSubCategory", "UnitOfMeasure"),
)
DATASETS = (FOCUS, COST_DETAILS)

# Manifest exportConfig.type -> dataset, and the dataset type a run is recorded with.
EXPORT_TYPES = {
    "focuscost": (FOCUS, "FocusCost"),
    "actualcost": (COST_DETAILS, "ActualCost"),
    "amortizedcost": (COST_DETAILS, "AmortizedCost"),
    "usage": (COST_DETAILS, "ActualCost"),  # the name of actual cost in older exports
}
DATASET_TYPES = ("FocusCost", "ActualCost", "AmortizedCost")


def dataset_of_export_type(export_type: str | None) -> tuple[CostDataset, str] | None:
    """The dataset and dataset type a manifest's exportConfig.type names (None: unknown)."""
    if not export_type:
        return None
    return EXPORT_TYPES.get(export_type.strip().lower())


def dataset_of_columns(columns: Iterable[str]) -> CostDataset | None:
    """The dataset a header belongs to: FOCUS when it has FOCUS's required columns, else the
    native cost details when it has theirs (EA or MCA spelling), else None."""
    names = list(columns)
    for dataset in DATASETS:
        if not _missing(names, dataset):
            return dataset
    return None


def _missing(columns: list[str], dataset: CostDataset) -> list[str]:
    present = {dataset.canonical(c) for c in columns}
    return [c for c in dataset.required if c not in present]


def dataset_type_of_name(name: str) -> str | None:
    """A loose native file's dataset type from its name, when the name says it (Cost
    Management names downloads and export folders after the dataset)."""
    lowered = name.lower()
    if "amortized" in lowered:
        return "AmortizedCost"
    if "actual" in lowered:
        return "ActualCost"
    return None


# Warehouse names where the generic snake_case reads badly (ingest.sources.focus.snake_case).
_SNAKE = {
    "PayGPrice": "payg_price",
    "Date": "charge_date_at",
    "ExchangeRateDate": "exchange_rate_at",
}
_DESCRIPTIONS = {
    "Date": "The day of the charge: usage day, or purchase date (UTC; `MM/DD/YYYY` in CSV).",
    "Quantity": "Quantity in blocks of UnitOfMeasure (0.00064 of `1M` = 640 tokens).",
    "UnitOfMeasure": "The unit and block size Quantity is in (`1M`, `1K`, `1 Hour`, `10K`).",
    "CostInBillingCurrency": "Cost in the billing currency: actual cost in an ActualCost "
    "export, amortized in an AmortizedCost one (EA files before 2021: `Cost`).",
    "BillingCurrency": "Currency of the cost (EA older files: `BillingCurrencyCode`).",
    "ChargeType": "Usage, Purchase, Tax, Refund, RoundingAdjustment, UnusedReservation, "
    "UnusedSavingsPlan, Credit...",
    "PricingModel": "OnDemand, Reservation, SavingsPlan or Spot.",
    "MeterName": "The meter (the same names as FOCUS's SkuMeter).",
    "PayGPrice": "Pay-as-you-go (list) price per UnitOfMeasure.",
    "EffectivePrice": "Price per UnitOfMeasure after discounts.",
    "PaygCostInBillingCurrency": "Pay-as-you-go (list) cost in the billing currency (MCA).",
}


def snake(column: str) -> str:
    from ingest.sources.focus import snake_case

    return _SNAKE.get(column) or snake_case(column, COLUMNS[column])


def staging_sql() -> str:
    """The body of models/staging/cost_details/stg_cost_details__costs.sql (generated; a test
    keeps it so)."""
    from ingest.sources.focus import EXTRA_COLUMNS

    renames = ",\n".join(f'        source."{c}" as {snake(c)}' for c in COST_DETAILS.columns)
    return f"""{{#
    Generated by `python -m ingest.sources.cost_details` from the canonical cost details
    columns: do not edit. Rows of every landed actual or amortized cost run (EA and MCA in one
    spelling); native names in snake_case, timestamps (UTC) ending in _at. int_bill_rows maps
    them to the billed columns of FOCUS.
#}}
-- noqa: disable=RF06,CP02
-- (landed columns keep their native spelling, quoted; this model renames them)
with

source as (

    select * from {{{{ source('cost_details', 'costs') }}}}

),

renamed as (

    select
        source.run_key,
        source.source_uri,
        source.source_row,
{renames},
        source.{EXTRA_COLUMNS} as x_extra_columns

    from source

)

select * from renamed
"""


def staging_columns_yml() -> str:
    """The columns block of stg_cost_details__costs in its models yml."""
    import json

    old = {}
    for before, after in RENAMED.items():
        old.setdefault(after, []).append(before)
    lines = [
        "      - name: run_key",
        "        description: Export run the row came from (its runInfo.runId, or file-<hash> for"
        " a loose file).",
        "        data_tests: [not_null]",
        "      - name: source_uri",
        "        description: Data file the row was read from.",
        "      - name: source_row",
        "        description: 1-based row of the data file (header excluded).",
    ]
    for column in COST_DETAILS.columns:
        text = _DESCRIPTIONS.get(column, "As the export holds it.")
        spellings = ", ".join(f"`{s}`" for s in old.get(column, []))
        text += f" (`{column}`" + (f"; read from {spellings} too" if spellings else "") + ".)"
        lines.append(f"      - name: {snake(column)}")
        lines.append("        description: " + json.dumps(text))
    lines.append("      - name: x_extra_columns")
    lines.append(
        "        description: Columns of the export that neither the EA nor the MCA schema lists,"
        " as a JSON object of text values."
    )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    import sys

    print(staging_columns_yml() if "--yml" in sys.argv else staging_sql(), end="")
