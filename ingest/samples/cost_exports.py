"""Cost Management export runs as the samples, the simulator and the tests write them: one
writer for the manifest layout (and loose files), and the bill's FOCUS rows rewritten as the
native actual or amortized cost details of an Enterprise Agreement or a Microsoft Customer
Agreement account - the inverse of models/intermediate/billing/int_bill_rows.sql, so that
one bill can be landed in every format and must reconcile the same.

Layout (as Cost Management writes it):
    <container>/<folder>/part_0_0001.csv.gz + manifest.json
where <folder> is typically costs/<export>/<yyyyMMdd-yyyyMMdd>/<yyyyMMddHHmm>/<runId>.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import re
import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

BILL_FORMATS = ("focus", "ea-actual", "ea-amortized", "mca-actual", "mca-amortized")
EXPORT_TYPES = {"focus": "FocusCost", "actual": "ActualCost", "amortized": "AmortizedCost"}

# EA columns as the FinOps toolkit's EA samples hold them (tests/fixtures/EA_*Cost_Small.csv).
EA_COLUMNS = [
    "BillingAccountId",
    "BillingAccountName",
    "BillingPeriodStartDate",
    "BillingPeriodEndDate",
    "BillingProfileId",
    "BillingProfileName",
    "AccountOwnerId",
    "AccountName",
    "SubscriptionId",
    "SubscriptionName",
    "Date",
    "Product",
    "PartNumber",
    "MeterId",
    "ServiceFamily",
    "MeterCategory",
    "MeterSubCategory",
    "MeterRegion",
    "MeterName",
    "Quantity",
    "EffectivePrice",
    "Cost",
    "UnitPrice",
    "BillingCurrency",
    "ResourceLocation",
    "AvailabilityZone",
    "ConsumedService",
    "ResourceId",
    "ResourceName",
    "ServiceInfo1",
    "ServiceInfo2",
    "AdditionalInfo",
    "Tags",
    "InvoiceSectionId",
    "InvoiceSection",
    "CostCenter",
    "UnitOfMeasure",
    "ResourceGroup",
    "ReservationId",
    "ReservationName",
    "ProductOrderId",
    "ProductOrderName",
    "OfferId",
    "IsAzureCreditEligible",
    "Term",
    "PublisherName",
    "PlanName",
    "ChargeType",
    "Frequency",
    "PublisherType",
    "PayGPrice",
    "PricingModel",
    "CostAllocationRuleName",
    "benefitId",
    "benefitName",
]
# MCA columns of Microsoft's "Cost and usage details file schema", version 2023-12-01-preview.
MCA_COLUMNS = [
    "invoiceId",
    "previousInvoiceId",
    "billingAccountId",
    "billingAccountName",
    "billingProfileId",
    "billingProfileName",
    "invoiceSectionId",
    "invoiceSectionName",
    "resellerName",
    "resellerMpnId",
    "costCenter",
    "billingPeriodEndDate",
    "billingPeriodStartDate",
    "servicePeriodEndDate",
    "servicePeriodStartDate",
    "date",
    "serviceFamily",
    "productOrderId",
    "productOrderName",
    "consumedService",
    "meterId",
    "meterName",
    "meterCategory",
    "meterSubCategory",
    "meterRegion",
    "ProductId",
    "ProductName",
    "SubscriptionId",
    "subscriptionName",
    "publisherType",
    "publisherId",
    "publisherName",
    "resourceGroupName",
    "ResourceId",
    "resourceLocation",
    "location",
    "effectivePrice",
    "quantity",
    "unitOfMeasure",
    "chargeType",
    "billingCurrency",
    "pricingCurrency",
    "costInBillingCurrency",
    "costInPricingCurrency",
    "costInUsd",
    "paygCostInBillingCurrency",
    "paygCostInUsd",
    "exchangeRatePricingToBilling",
    "exchangeRateDate",
    "isAzureCreditEligible",
    "serviceInfo1",
    "serviceInfo2",
    "additionalInfo",
    "tags",
    "PayGPrice",
    "frequency",
    "term",
    "reservationId",
    "reservationName",
    "pricingModel",
    "unitPrice",
    "costAllocationRuleName",
    "benefitId",
    "benefitName",
    "provider",
]

_CHARGE_TYPES = {"Usage": "Usage", "Purchase": "Purchase", "Tax": "Tax", "Credit": "Credit"}
_CHARGE_TYPES["Adjustment"] = "RoundingAdjustment"
_FREQUENCIES = {"Usage-Based": "UsageBased", "One-Time": "OneTime", "Recurring": "Recurring"}
_PRICING_MODELS = {"Standard": "OnDemand", "Committed": "Reservation", "Dynamic": "Spot"}


@dataclass(frozen=True)
class ExportRun:
    """What a manifest says about one run."""

    export_name: str
    resource_id: (
        str  # the export's own id: <scope>/providers/Microsoft.CostManagement/exports/<name>
    )
    run_id: str
    submitted: str  # ISO-8601
    start: str
    end: str
    time_frame: str = "MonthToDate"


def export_type(bill_format: str) -> str:
    if bill_format not in BILL_FORMATS:
        raise ValueError(f"unknown bill format {bill_format!r}: one of {', '.join(BILL_FORMATS)}")
    return EXPORT_TYPES[bill_format.split("-")[-1]]


def _day(value: str | None, shift: int = 0) -> str:
    """An ISO date or date-time -> MM/DD/YYYY (the native exports' date format)."""
    if not value:
        return ""
    day = date.fromisoformat(value[:10]) + timedelta(days=shift)
    return day.strftime("%m/%d/%Y")


def _last_segment(value: str | None) -> str:
    return (value or "").rstrip("/").rsplit("/", 1)[-1]


def _ea_tags(tags: str | None) -> str:
    """FOCUS Tags (a JSON object) as EA writes them: the pairs without braces."""
    if not tags:
        return ""
    pairs = json.loads(tags)
    return ",".join(f"{json.dumps(k)}: {json.dumps(v)}" for k, v in pairs.items())


def native_row(row: dict[str, Any], bill_format: str) -> dict[str, str]:
    """One FOCUS row (text values) as an EA or MCA actual or amortized cost details row."""
    agreement, kind = bill_format.split("-")
    cost = row.get("EffectiveCost") if kind == "amortized" else row.get("BilledCost")
    charge_type = _CHARGE_TYPES.get(row.get("ChargeCategory") or "", row.get("ChargeCategory"))
    if row.get("ChargeClass") == "Correction":
        charge_type = "Refund"
    provider = re.search(r"/providers/([^/]+)/", row.get("ResourceId") or "", re.IGNORECASE)
    values = {
        "billing_account_id": _last_segment(row.get("BillingAccountId")),
        "billing_account_name": row.get("BillingAccountName") or "",
        "billing_period_start": _day(row.get("BillingPeriodStart")),
        "billing_period_end": _day(row.get("BillingPeriodEnd"), -1),  # inclusive in these
        "subscription_id": _last_segment(row.get("SubAccountId")),
        "subscription_name": row.get("SubAccountName") or "",
        "date": _day(row.get("ChargePeriodStart")),
        "product": row.get("ChargeDescription") or "",
        "meter_id": row.get("x_SkuMeterId") or "",
        "meter_category": row.get("x_SkuMeterCategory") or "",
        "meter_subcategory": row.get("x_SkuMeterSubcategory") or "",
        "meter_region": row.get("RegionName") or "",
        "meter_name": row.get("SkuMeter") or row.get("x_SkuMeterName") or "",
        "quantity": row.get("PricingQuantity") or "",
        "effective_price": row.get("x_EffectiveUnitPrice") or row.get("ListUnitPrice") or "",
        "unit_price": row.get("ContractedUnitPrice") or row.get("ListUnitPrice") or "",
        "payg_price": row.get("ListUnitPrice") or "",
        "cost": cost or "0",
        "payg_cost": row.get("ListCost") or "",
        "currency": row.get("BillingCurrency") or "",
        "location": row.get("RegionId") or "",
        "consumed_service": provider.group(1) if provider else "",
        "resource_id": row.get("ResourceId") or "",
        "resource_name": row.get("ResourceName") or "",
        "resource_group": row.get("x_ResourceGroupName") or "",
        "unit": row.get("x_PricingUnitDescription") or "",
        "charge_type": charge_type or "",
        "frequency": _FREQUENCIES.get(row.get("ChargeFrequency") or "", ""),
        "pricing_model": _PRICING_MODELS.get(row.get("PricingCategory") or "", "OnDemand"),
        "tags": row.get("Tags") or "",
    }
    v = values
    if agreement == "ea":
        return {
            "BillingAccountId": v["billing_account_id"],
            "BillingAccountName": v["billing_account_name"],
            "BillingPeriodStartDate": v["billing_period_start"],
            "BillingPeriodEndDate": v["billing_period_end"],
            "BillingProfileId": v["billing_account_id"],
            "BillingProfileName": v["billing_account_name"],
            "SubscriptionId": v["subscription_id"],
            "SubscriptionName": v["subscription_name"],
            "Date": v["date"],
            "Product": v["product"],
            "MeterId": v["meter_id"],
            "MeterCategory": v["meter_category"],
            "MeterSubCategory": v["meter_subcategory"],
            "MeterRegion": v["meter_region"],
            "MeterName": v["meter_name"],
            "Quantity": v["quantity"],
            "EffectivePrice": v["effective_price"],
            "Cost": v["cost"],
            "UnitPrice": v["unit_price"],
            "BillingCurrency": v["currency"],
            "ResourceLocation": v["location"],
            "ConsumedService": v["consumed_service"],
            "ResourceId": v["resource_id"],
            "ResourceName": v["resource_name"],
            "Tags": _ea_tags(v["tags"]),
            "UnitOfMeasure": v["unit"],
            "ResourceGroup": v["resource_group"],
            "IsAzureCreditEligible": "True",
            "ChargeType": v["charge_type"],
            "Frequency": v["frequency"],
            "PublisherType": "Azure",
            "PayGPrice": v["payg_price"],
            "PricingModel": v["pricing_model"],
        }
    return {
        "billingAccountId": v["billing_account_id"],
        "billingAccountName": v["billing_account_name"],
        "billingProfileId": v["billing_account_id"],
        "billingProfileName": v["billing_account_name"],
        "billingPeriodStartDate": v["billing_period_start"],
        "billingPeriodEndDate": v["billing_period_end"],
        "servicePeriodStartDate": v["date"],
        "servicePeriodEndDate": v["date"],
        "date": v["date"],
        "consumedService": v["consumed_service"],
        "meterId": v["meter_id"],
        "meterName": v["meter_name"],
        "meterCategory": v["meter_category"],
        "meterSubCategory": v["meter_subcategory"],
        "meterRegion": v["meter_region"],
        "ProductName": v["product"],
        "SubscriptionId": v["subscription_id"],
        "subscriptionName": v["subscription_name"],
        "publisherType": "Azure",
        "resourceGroupName": v["resource_group"],
        "ResourceId": v["resource_id"],
        "resourceLocation": v["location"],
        "location": v["meter_region"],
        "effectivePrice": v["effective_price"],
        "quantity": v["quantity"],
        "unitOfMeasure": v["unit"],
        "chargeType": v["charge_type"],
        "billingCurrency": v["currency"],
        "pricingCurrency": v["currency"],
        "costInBillingCurrency": v["cost"],
        "costInPricingCurrency": v["cost"],
        "paygCostInBillingCurrency": v["payg_cost"],
        "exchangeRatePricingToBilling": "1",
        "isAzureCreditEligible": "True",
        "tags": v["tags"],
        "PayGPrice": v["payg_price"],
        "frequency": v["frequency"],
        "pricingModel": v["pricing_model"],
        "unitPrice": v["unit_price"],
        "provider": "Azure",
    }


def bill_table(
    focus_rows: Iterable[dict[str, Any]], bill_format: str, focus_columns: list[str]
) -> tuple[list[str], list[dict[str, Any]]]:
    """(columns, rows) of the bill in `bill_format`."""
    export_type(bill_format)
    rows = list(focus_rows)
    if bill_format == "focus":
        return focus_columns, rows
    columns = EA_COLUMNS if bill_format.startswith("ea-") else MCA_COLUMNS
    return list(columns), [native_row(r, bill_format) for r in rows]


def csv_bytes(columns: list[str], rows: list[dict[str, Any]], gzipped: bool = True) -> bytes:
    text = io.StringIO()
    writer = csv.DictWriter(text, columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    data = text.getvalue().encode()
    return gzip.compress(data, mtime=0) if gzipped else data


def manifest(
    run: ExportRun,
    bill_format: str,
    blobs: list[tuple[str, int, int]],
    *,
    file_format: str = "Csv",
    overwrite: bool = False,
    data_version: str | None = None,
) -> dict[str, Any]:
    """A Cost Management manifest (manifestVersion 2024-04-01) for `blobs` (name, bytes, rows)."""
    kind = export_type(bill_format)
    version = data_version or {"FocusCost": "1.0"}.get(kind, "2023-12-01-preview")
    return {
        "manifestVersion": "2024-04-01",
        "byteCount": sum(b[1] for b in blobs),
        "blobCount": len(blobs),
        "dataRowCount": sum(b[2] for b in blobs),
        "exportConfig": {
            "exportName": run.export_name,
            "resourceId": run.resource_id,
            "dataVersion": version,
            "apiVersion": "2023-07-01-preview",
            "type": kind,
            "timeFrame": run.time_frame,
            "granularity": "Daily",
        },
        "deliveryConfig": {
            "partitionData": True,
            "dataOverwriteBehavior": "OverwritePreviousReport" if overwrite else "CreateNewReport",
            "fileFormat": file_format,
            "compressionMode": "gzip" if file_format == "Csv" else "snappy",
            "rootFolderPath": "costs",
        },
        "runInfo": {
            "executionType": "Scheduled",
            "submittedTime": run.submitted,
            "runId": run.run_id,
            "startDate": run.start,
            "endDate": run.end,
        },
        "blobs": [
            {"blobName": name, "byteCount": size, "dataRowCount": rows}
            for name, size, rows in blobs
        ],
    }


def write_run(
    container: Path,
    folder: str,
    run: ExportRun,
    focus_rows: list[dict[str, Any]],
    bill_format: str = "focus",
    *,
    focus_columns: list[str],
    overwrite: bool = False,
) -> Path:
    """Write one export run (CSV gzip, one part) and its manifest under container/folder;
    returns the manifest's path."""
    columns, rows = bill_table(focus_rows, bill_format, focus_columns)
    data = csv_bytes(columns, rows)
    target = container / folder
    if overwrite and target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True, exist_ok=True)
    (target / "part_0_0001.csv.gz").write_bytes(data)
    doc = manifest(
        run,
        bill_format,
        [(f"{folder}/part_0_0001.csv.gz", len(data), len(rows))],
        overwrite=overwrite,
    )
    path = target / "manifest.json"
    path.write_text(json.dumps(doc, indent=2))
    return path


def write_loose(
    path: Path,
    focus_rows: list[dict[str, Any]],
    bill_format: str,
    *,
    focus_columns: list[str],
) -> Path:
    """The bill as one loose CSV file (a download without a manifest), gzipped if the name
    ends in .gz."""
    columns, rows = bill_table(focus_rows, bill_format, focus_columns)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(csv_bytes(columns, rows, gzipped=path.name.endswith(".gz")))
    return path


def file_total(path: Path, scale: int | None = None) -> dict[str, tuple[int, Decimal]]:
    """Rows and exact cost per billing currency of a cost CSV (FOCUS BilledCost, or the cost
    details' Cost / costInBillingCurrency): what a landed run must add up to. With `scale`,
    each amount rounded half away from zero to that many decimals first (the warehouse keeps
    18; EA amortized files write up to 22)."""
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8-sig", newline="") as f:  # type: ignore[operator]
        reader = csv.DictReader(f)
        names = {n.lower(): n for n in reader.fieldnames or []}
        cost = next(names[c] for c in ("billedcost", "costinbillingcurrency", "cost") if c in names)
        currency = next(names[c] for c in ("billingcurrency", "billingcurrencycode") if c in names)
        totals: dict[str, tuple[int, Decimal]] = {}
        for row in reader:
            rows, amount = totals.get(row[currency], (0, Decimal(0)))
            value = Decimal(row[cost] or 0)
            if scale is not None:
                value = value.quantize(Decimal(1).scaleb(-scale), rounding=ROUND_HALF_UP)
            totals[row[currency]] = (rows + 1, amount + value)
    return totals


def stamp(moment: datetime) -> str:
    return moment.strftime("%Y%m%d%H%M")
