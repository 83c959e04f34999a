"""Benchmark `python -m ingest focus` against a DuckDB one-liner on the same export, same run.

Generates one Cost Management FOCUS 1.0 export run of ROWS rows (default 5,000,000) in the real
layout (part files of 1,000,000 rows + manifest.json), as CSV gzip and as Parquet snappy, then
lands it with

  ingest  : python -m ingest focus <export folder> --landing <fresh dir>   (workers: one per CPU)
  duckdb  : duckdb -c "COPY (SELECT * FROM read_csv|read_parquet('<parts>')) TO 'x.parquet'"
  duckdb, same casts and checks: ingest's rule as one statement (normalise_sql, which a test
      holds ingest to), run by DuckDB over its own reader

and prints rows/s and the peak resident memory of the process tree. Writes the table to
benchmarks/results/focus.md.

    python benchmarks/bench_focus.py [--rows 5000000] [--workdir /tmp/x]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.bench_events import BIN, measure  # noqa: E402
from ingest.sources.focus import normalise_sql  # noqa: E402

PART_ROWS = 1_000_000
METERS = [
    ("gpt rt aud mn in gl 1215 1M Tokens", "10", "Azure OpenAI Media"),
    ("gpt rt aud mn out gl 1215 1M Tokens", "20", "Azure OpenAI Media"),
    ("gpt rt txt mn in gl 1215 1M Tokens", "0.6", "Azure OpenAI Media"),
    ("gpt rt txt mn out gl 1215 1M Tokens", "2.4", "Azure OpenAI Media"),
    ("gpt rt txt mn cd in gl 1215 1M Tokens", "0.06", "Azure OpenAI Media"),
    ("gpt rt aud mn cd in gl 1215 1M Tokens", "0.3", "Azure OpenAI Media"),
    ("gpt-4o-rt-aud-1217 Inp glbl 1K Tokens", "0.04", "Azure OpenAI Media"),
    ("gpt-4o-mini-0718-Inp-glbl 1M Tokens", "0.15", "Azure OpenAI"),
    ("Hot LRS Data Stored", "0.02", "Tables"),
    ("D2 v5", "0.096", "Dv5 Series"),
]


def _columns() -> list[str]:
    meta = ROOT / "ingest" / "sources" / "focus_metadata" / "FocusCost_1.0.json"
    return [c["ColumnName"] for c in json.loads(meta.read_text())["Columns"]]


def _select(part: int) -> str:
    """SQL producing PART_ROWS realistic FOCUS 1.0 rows as text, as a CSV export holds them."""
    meters = "[" + ", ".join(f"{{'m': '{m}', 'p': '{p}', 's': '{s}'}}" for m, p, s in METERS) + "]"
    values = {
        "BilledCost": "printf('%.10f', q * cast(meter.p as double) / 1e6)",
        "EffectiveCost": "printf('%.10f', q * cast(meter.p as double) / 1e6)",
        "ListCost": "printf('%.10f', q * cast(meter.p as double) / 1e6)",
        "ContractedCost": "printf('%.10f', q * cast(meter.p as double) / 1e6)",
        "ListUnitPrice": "meter.p",
        "ContractedUnitPrice": "meter.p",
        "PricingQuantity": "printf('%.6f', q / 1e6)",
        "ConsumedQuantity": "cast(q as varchar)",
        "PricingUnit": "'1M Tokens'",
        "ConsumedUnit": "'Tokens'",
        "BillingCurrency": "'USD'",
        "BillingAccountId": "'/providers/Microsoft.Billing/billingAccounts/contoso'",
        "BillingAccountName": "'Contoso'",
        "BillingPeriodStart": "'2026-03-01T00:00Z'",
        "BillingPeriodEnd": "'2026-04-01T00:00Z'",
        "ChargePeriodStart": "strftime(day, '%Y-%m-%dT00:00Z')",
        "ChargePeriodEnd": "strftime(day + interval 1 day, '%Y-%m-%dT00:00Z')",
        "ChargeCategory": "'Usage'",
        "ChargeFrequency": "'Usage-Based'",
        "ChargeDescription": "meter.m",
        "ProviderName": "'Microsoft'",
        "PublisherName": "'Microsoft'",
        "InvoiceIssuerName": "'Microsoft'",
        "RegionId": "'swedencentral'",
        "RegionName": "'Sweden Central'",
        "ResourceId": "'/subscriptions/s/resourcegroups/rg/providers/microsoft.cognitiveservices/"
        "accounts/voice-' || (i % 50)",
        "ResourceName": "'voice-' || (i % 50)",
        "ServiceName": "'Azure OpenAI'",
        "ServiceCategory": "'AI and Machine Learning'",
        "SubAccountId": "'/subscriptions/s'",
        "SubAccountName": "'voice-prod'",
        "Tags": '\'{"team": "voice", "env": "prod"}\'',
        "x_SkuMeterCategory": "'Cognitive Services'",
        "x_SkuMeterSubcategory": "meter.s",
        "x_SkuMeterName": "meter.m",
        "x_SkuMeterId": "md5(meter.m)",
        "x_PricingUnitDescription": "'1M'",
        "x_PricingBlockSize": "'1000000'",
        "x_PricingCurrency": "'USD'",
        "x_BillingExchangeRate": "'1'",
        "x_ResourceGroupName": "'rg'",
    }
    columns = ", ".join(f'{values.get(c, "null")} as "{c}"' for c in _columns())
    return f"""
        with base as (
            select
                range as i,
                {meters}[1 + (range % {len(METERS)})] as meter,
                (hash(range) % 900000) + 1 as q,
                date '2026-03-01' + cast(range % 31 as integer) as day
            from range({part * PART_ROWS}, {(part + 1) * PART_ROWS})
        )
        select {columns} from base
    """


def generate(folder: Path, rows: int, file_format: str) -> int:
    """One export run in the Cost Management layout; returns the bytes written."""
    run = folder / "costs" / "bench" / "20260301-20260331" / "202604010512" / f"run-{file_format}"
    run.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    blobs = []
    for part in range(-(-rows // PART_ROWS)):
        if file_format == "Csv":
            name = f"part_{part}_0001.csv.gz"
            options = "(FORMAT csv, HEADER, COMPRESSION gzip)"
        else:
            name = f"part_{part}_0001.snappy.parquet"
            options = "(FORMAT parquet, COMPRESSION snappy)"
        select = _select(part)
        if file_format == "Parquet":  # typed as Cost Management's Parquet: decimals, timestamps
            select = f"""select * replace (
                cast("BilledCost" as decimal(38,18)) as "BilledCost",
                cast("EffectiveCost" as decimal(38,18)) as "EffectiveCost",
                cast("ListCost" as decimal(38,18)) as "ListCost",
                cast("PricingQuantity" as decimal(38,18)) as "PricingQuantity",
                cast(replace("ChargePeriodStart", 'Z', ':00') as timestamp) as "ChargePeriodStart"
            ) from ({select})"""
        con.execute(f"COPY ({select}) TO '{run / name}' {options}")
        blobs.append(
            {
                "blobName": str((run / name).relative_to(folder)),
                "byteCount": (run / name).stat().st_size,
                "dataRowCount": PART_ROWS,
            }
        )
    manifest = {
        "manifestVersion": "2024-04-01",
        "byteCount": sum(b["byteCount"] for b in blobs),
        "blobCount": len(blobs),
        "dataRowCount": len(blobs) * PART_ROWS,
        "exportConfig": {
            "exportName": "bench",
            "resourceId": "/subscriptions/s/providers/Microsoft.CostManagement/exports/bench",
            "dataVersion": "1.0",
            "type": "FocusCost",
            "timeFrame": "MonthToDate",
        },
        "deliveryConfig": {"fileFormat": file_format},
        "runInfo": {
            "runId": f"run-{file_format}",
            "submittedTime": "2026-04-01T05:12:00Z",
            "startDate": "2026-03-01T00:00:00",
            "endDate": "2026-03-31T00:00:00",
        },
        "blobs": blobs,
    }
    (run / "manifest.json").write_text(json.dumps(manifest))
    return manifest["byteCount"]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "focus.md")
    args = parser.parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="tokenrecon-bench-focus-"))
    header = (
        "| format | rows | MB | tool | seconds | rows/s | peak RSS MB |\n"
        "|---|---|---|---|---|---|---|"
    )
    lines = []
    print(header)
    for file_format in ("Csv", "Parquet"):
        folder = workdir / file_format
        shutil.rmtree(folder, ignore_errors=True)
        size = generate(folder, args.rows, file_format)
        landing = workdir / f"landing-{file_format}"
        shutil.rmtree(landing, ignore_errors=True)
        seconds, peak = measure(
            [str(BIN / "python"), "-m", "ingest", "focus", str(folder), "--landing", str(landing)],
            cwd=ROOT,
        )
        rows = args.rows
        label = "CSV gzip" if file_format == "Csv" else "Parquet snappy"
        lines.append(
            f"| {label} | {rows:,} | {size / 2**20:,.0f} | ingest focus | {seconds:.1f} | "
            f"{rows / seconds:,.0f} | {peak / 2**20:,.0f} |"
        )
        print(lines[-1], flush=True)
        reader = "read_csv" if file_format == "Csv" else "read_parquet"
        parts = folder / "costs" / "**" / ("*.csv.gz" if file_format == "Csv" else "*.parquet")
        out = workdir / "oneliner.parquet"
        sql = f"COPY (SELECT * FROM {reader}('{parts}')) TO '{out}' (FORMAT parquet)"
        seconds, peak = measure([str(BIN / "duckdb"), "-c", sql])
        lines.append(
            f"| {label} | {rows:,} | {size / 2**20:,.0f} | duckdb one-liner | {seconds:.1f} | "
            f"{rows / seconds:,.0f} | {peak / 2**20:,.0f} |"
        )
        print(lines[-1], flush=True)
        # the same normalisation and checks as ingest, run by DuckDB natively on its own reader
        con = duckdb.connect()
        con.execute("set TimeZone = 'UTC'")
        source = (
            f"read_csv('{parts}', all_varchar = true)"
            if file_format == "Csv"
            else f"read_parquet('{parts}')"
        )
        con.execute(f"create view src as select 0 as source_row, * from {source}")
        types = {r[0]: str(r[1]) for r in con.sql("describe src").fetchall()}
        same = normalise_sql("src", types)
        script = workdir / "same_casts.sql"
        script.write_text(
            "set TimeZone = 'UTC';\nset disabled_optimizers = 'in_clause';\n"
            f"create view src as select 0 as source_row, * from {source};\n"
            f"COPY ({same}) TO '{out}' (FORMAT parquet, COMPRESSION zstd);\n"
        )
        seconds, peak = measure([str(BIN / "duckdb"), "-f", str(script)])
        lines.append(
            f"| {label} | {rows:,} | {size / 2**20:,.0f} | duckdb, same casts and checks | "
            f"{seconds:.1f} | {rows / seconds:,.0f} | {peak / 2**20:,.0f} |"
        )
        print(lines[-1], flush=True)
        out.unlink(missing_ok=True)
        shutil.rmtree(landing, ignore_errors=True)
        shutil.rmtree(folder, ignore_errors=True)
    machine = (
        f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"{datetime.now(UTC):%Y-%m-%d}"
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        "# `ingest focus` vs a DuckDB one-liner\n\n"
        f"Generated by `make bench-focus` ({machine}): one FOCUS 1.0 export run in the Cost "
        "Management layout (five part files), landed by each tool in the same run. The one-liner "
        "only converts (and guesses types: money as DOUBLE); ingest also validates every value "
        "(DECIMAL(38,18) from text, UTC timestamps, placeholders), quarantines bad rows and "
        "checks the manifest's counts. The third row runs ingest's rule as one DuckDB statement "
        "(`normalise_sql`).\n\n" + header + "\n" + "\n".join(lines) + "\n"
    )
    print(f"written {args.out}")


if __name__ == "__main__":
    main()
