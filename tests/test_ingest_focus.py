"""`python -m ingest focus`: Cost Management export layouts, dataset versions, runs, bad input."""

from __future__ import annotations

import csv
import gzip
import io
import json
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from ingest.samples.reference_case import RUNS, write_bill
from ingest.sources import focus as fx
from tests.conftest import PROJECT_ROOT, Workspace

FOCUS_SAMPLE = PROJECT_ROOT / "tests" / "fixtures" / "focus_sample_1.0.csv"
FINAL = RUNS["final"][0]
EARLY = RUNS["early"][0]
# Billed tokens of the reference case's six meters in the final run (DOMAIN.md).
REFERENCE_TOKENS = [
    ("gpt rt aud mn cd in gl 1215 1M Tokens", 0),
    ("gpt rt aud mn in gl 1215 1M Tokens", 640),
    ("gpt rt aud mn out gl 1215 1M Tokens", 631),
    ("gpt rt txt mn cd in gl 1215 1M Tokens", 0),
    ("gpt rt txt mn in gl 1215 1M Tokens", 357),
    ("gpt rt txt mn out gl 1215 1M Tokens", 181),
]


def runs(ws: Workspace) -> dict[str, dict]:
    rows = ws.landed_focus("select * from runs")
    return {r["run_key"]: r for r in rows}


def current(ws: Workspace) -> dict[str, tuple[bool, str | None]]:
    """run key -> (is current, why not), as the models decide it."""
    ws.dbt("run", "--select", "+dim_export_runs", "--quiet")
    rows = ws.query("select run_key, is_current, not_current_reason from marts.dim_export_runs")
    return {key: (is_current, why) for key, is_current, why in rows}


def csv_part(container: Path, run: str) -> Path:
    [part] = container.rglob(f"*/{RUNS[run][0]}/part_0_0001.csv.gz")
    return part


def rewrite_csv(part: Path, edit) -> None:
    """Decompress a part, let `edit` change its rows (list of dicts), write it back."""
    text = gzip.decompress(part.read_bytes()).decode("utf-8-sig")
    reader = csv.DictReader(io.StringIO(text))
    rows = list(reader)
    rows = edit(rows) or rows
    out = io.StringIO()
    writer = csv.DictWriter(out, reader.fieldnames, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    part.write_bytes(gzip.compress(out.getvalue().encode()))
    manifest = part.parent / "manifest.json"
    doc = json.loads(manifest.read_text())
    doc["dataRowCount"] = doc["blobs"][0]["dataRowCount"] = len(rows)
    manifest.write_text(json.dumps(doc))


def test_the_reference_export_lands_both_runs_and_the_final_one_is_current(
    workspace: Workspace,
) -> None:
    result = workspace.ingest("focus", str(PROJECT_ROOT / "samples/reference_case/cost_exports"))

    assert result.exit_code == 0, result.stderr
    assert "2 runs (0 already landed, 2 complete" in result.stdout
    assert "27 rows read, 27 landed, 0 quarantined ->" in result.stdout
    landed = runs(workspace)
    assert current(workspace) == {
        FINAL: (True, None),
        EARLY: (False, f"covers a shorter period than {FINAL}"),
    }
    assert landed[FINAL]["scope"] == (
        "/subscriptions/00000000-0000-0000-0000-00000000c0de/providers/"
        "microsoft.costmanagement/exports/tokenrecon-focus"
    )
    assert landed[FINAL]["billing_month"] == date(2026, 3, 1)
    assert landed[FINAL]["dataset_version"] == "1.0"
    assert (landed[FINAL]["manifest_row_count"], landed[FINAL]["rows_landed"]) == (15, 15)
    # a second run lands nothing new
    again = workspace.ingest("focus", str(PROJECT_ROOT / "samples/reference_case/cost_exports"))
    assert "2 runs (2 already landed, 0 complete" in again.stdout


def test_parquet_1_0r2_export_gives_the_same_tokens(workspace: Workspace, tmp_path: Path) -> None:
    write_bill(tmp_path / "container", "Parquet")
    assert workspace.ingest("focus", str(tmp_path / "container")).exit_code == 0

    rows = workspace.landed_focus(
        f"select SkuMeter, PricingQuantity * cast(x_PricingBlockSize as bigint) as tokens, "
        f"ConsumedQuantity, "
        f"ChargePeriodStart, BilledCost, x_BillingExchangeRate from costs "
        f"where run_key = '{FINAL}' and SkuMeter like 'gpt rt%' order by SkuMeter"
    )
    assert [(r["SkuMeter"], int(r["tokens"])) for r in rows] == REFERENCE_TOKENS
    assert str(rows[1]["ConsumedQuantity"]) == "0.000640000000000000"  # in blocks
    assert str(rows[1]["BilledCost"]) == "0.006400000000000000"  # DECIMAL(38,18), exact
    assert rows[1]["ChargePeriodStart"] == datetime(2026, 3, 31)  # INT96, UTC
    assert str(rows[1]["x_BillingExchangeRate"]) == "1.000000000000000000"  # a string in Parquet
    assert runs(workspace)[FINAL]["dataset_version"] == "1.0r2"


def test_the_focus_sample_lands_as_a_loose_file(workspace: Workspace) -> None:
    result = workspace.ingest("focus", str(FOCUS_SAMPLE))

    assert result.exit_code == 0, result.stderr
    assert "1000 rows read, 1000 landed, 0 quarantined" in result.stdout
    [run] = runs(workspace).values()
    assert run["is_loose_file"] is True
    assert current(workspace) == {run["run_key"]: (True, None)}
    [row] = workspace.landed_focus(
        "select count(*) as n, count(AvailabilityZone) as zones, count(Tags) as tags, "
        "count(*) filter (where x_ExtraColumns like '{\"Id\":%') as ids, "
        "count(*) filter (where ChargeClass = 'NULL') as null_strings from costs"
    )
    # literal NULL strings are NULL; the extra Id column is kept in x_ExtraColumns
    assert row == {"n": 1000, "zones": 107, "tags": 711, "ids": 1000, "null_strings": 0}


def test_a_bom_is_stripped(workspace: Workspace, tmp_path: Path) -> None:
    write_bill(tmp_path / "c", runs=("final",))
    part = csv_part(tmp_path / "c", "final")
    part.write_bytes(gzip.compress(b"\xef\xbb\xbf" + gzip.decompress(part.read_bytes())))

    assert workspace.ingest("focus", str(tmp_path / "c")).exit_code == 0
    rows = workspace.landed_focus("select BilledCost from costs where BilledCost is null")
    assert rows == []  # the first column (BilledCost) was found despite the BOM
    assert runs(workspace)[FINAL]["status"] == "complete"


def test_a_manifest_naming_a_missing_blob_makes_the_run_incomplete(
    workspace: Workspace, tmp_path: Path
) -> None:
    write_bill(tmp_path / "c")
    csv_part(tmp_path / "c", "final").unlink()

    result = workspace.ingest("focus", str(tmp_path / "c"))

    assert result.exit_code == 1  # it could not do its job: a file is missing
    assert f"incomplete run {FINAL}" in result.stderr
    assert "part_0_0001.csv.gz: listed in the manifest but missing" in result.stderr
    assert "1 runs had a data file that is missing or could not be read" in result.stderr
    landed = runs(workspace)
    assert landed[FINAL]["status"] == "incomplete"
    decided = current(workspace)
    assert decided[FINAL][0] is False
    assert decided[FINAL][1].startswith("incomplete: ")
    assert decided[EARLY] == (True, None)  # the earlier complete run stands


def test_an_empty_run_is_recorded(workspace: Workspace, tmp_path: Path) -> None:
    [manifest, _] = write_bill(tmp_path / "c")
    empty = json.loads(manifest.read_text())
    empty["runInfo"]["runId"] = "empty-run"
    empty["runInfo"]["submittedTime"] = "2026-04-02T05:00:00Z"
    empty["runInfo"]["endDate"] = "2026-03-31T00:00:00"
    empty["dataRowCount"] = empty["blobCount"] = 0
    empty["blobs"] = []
    folder = tmp_path / "c" / "costs" / "empty"
    folder.mkdir()
    (folder / "manifest.json").write_text(json.dumps(empty))

    assert workspace.ingest("focus", str(tmp_path / "c")).exit_code == 0
    landed = runs(workspace)
    assert landed["empty-run"]["status"] == "empty"
    decided = current(workspace)
    assert decided["empty-run"] == (False, f"empty run; {FINAL} has rows")
    assert decided[FINAL] == (True, None)


def test_an_unparseable_cost_is_quarantined_and_makes_the_run_incomplete(
    workspace: Workspace, tmp_path: Path
) -> None:
    write_bill(tmp_path / "c")

    def break_cost(rows: list[dict]) -> None:
        rows[2]["BilledCost"] = "4,608"
        rows[4]["ChargePeriodStart"] = "yesterday"

    rewrite_csv(csv_part(tmp_path / "c", "final"), break_cost)
    result = workspace.ingest("focus", str(tmp_path / "c"))

    assert result.exit_code == 0
    assert "27 rows read, 25 landed, 2 quarantined" in result.stdout
    assert "part_0_0001.csv.gz:row 3: BilledCost '4,608' is not a decimal number" in result.stderr
    quarantined = workspace.landed_focus(
        "select record_number, reason from quarantine order by record_number"
    )
    assert [(q["record_number"], q["reason"]) for q in quarantined] == [
        (3, "BilledCost '4,608' is not a decimal number"),
        (5, "ChargePeriodStart 'yesterday' is not a date and time"),
    ]
    landed = runs(workspace)
    assert landed[FINAL]["status"] == "incomplete"
    assert landed[FINAL]["problems"] == "2 rows quarantined"
    assert current(workspace)[EARLY] == (True, None)


def test_row_counts_that_disagree_with_the_manifest_make_the_run_incomplete(
    workspace: Workspace, tmp_path: Path
) -> None:
    [_, manifest] = write_bill(tmp_path / "c")
    doc = json.loads(manifest.read_text())
    doc["dataRowCount"] = doc["blobs"][0]["dataRowCount"] = 16
    manifest.write_text(json.dumps(doc))

    workspace.ingest("focus", str(tmp_path / "c"))

    assert "manifest says 16 rows, the file holds 15" in runs(workspace)[FINAL]["problems"]


def test_manifest_blob_names_resolve_beside_the_manifest(tmp_path: Path) -> None:
    manifest = "/data/exports/costs/x/20260301-20260331/202604010512/guid/manifest.json"
    blob = "costs/x/20260301-20260331/202604010512/guid/part_0_0001.csv.gz"
    from ingest.focus import _blob_path_for

    assert _blob_path_for(manifest, blob) == "/data/exports/" + blob
    assert (
        _blob_path_for("az://c/costs/x/manifest.json", "costs/x/part.csv")
        == "az://c/costs/x/part.csv"
    )


def test_snake_case_names() -> None:
    assert fx.snake_case("ChargePeriodStart", "TIMESTAMP") == "charge_period_start_at"
    assert fx.snake_case("x_SkuMeterId") == "x_sku_meter_id"
    assert fx.snake_case("x_BilledCostInUsd") == "x_billed_cost_in_usd"
    assert fx.snake_case("x_BillingExchangeRateDate", "TIMESTAMP") == "x_billing_exchange_rate_at"


def test_staging_model_and_docs_match_the_canonical_columns() -> None:
    staging = PROJECT_ROOT / "models" / "staging" / "focus"
    assert (staging / "stg_focus__costs.sql").read_text() == fx.staging_sql(), (
        "regenerate: python -m ingest.sources.focus > models/staging/focus/stg_focus__costs.sql"
    )
    assert fx.staging_columns_yml() in (staging / "_focus__models.yml").read_text()


@pytest.mark.parametrize(
    ("version", "renames"),
    [
        (
            "1.2-preview",
            {
                "x_SkuMeterName": "SkuMeter",
                "x_InvoiceId": "InvoiceId",
                "x_PricingCurrency": "PricingCurrency",
            },
        ),
        (
            "1.0-preview(v1)",
            {
                "ConsumedQuantity": "UsageQuantity",
                "ConsumedUnit": "UsageUnit",
                "RegionName": "Region",
            },
        ),
    ],
)
def test_other_dataset_versions_read_into_the_canonical_columns(
    workspace: Workspace, tmp_path: Path, version: str, renames: dict[str, str]
) -> None:
    [manifest] = write_bill(tmp_path / "c", runs=("final",))
    doc = json.loads(manifest.read_text())
    doc["exportConfig"]["dataVersion"] = version
    manifest.write_text(json.dumps(doc))
    part = csv_part(tmp_path / "c", "final")
    text = gzip.decompress(part.read_bytes()).decode()
    header, rest = text.split("\n", 1)
    header = ",".join(renames.get(c, c) for c in header.split(","))
    part.write_bytes(gzip.compress((header + "\n" + rest).encode()))

    assert workspace.ingest("focus", str(tmp_path / "c")).exit_code == 0
    rows = workspace.landed_focus(
        "select SkuMeter, ConsumedQuantity, RegionName, PricingCurrency, x_ExtraColumns "
        "from costs where SkuMeter = 'gpt rt aud mn in gl 1215 1M Tokens'"
    )
    assert rows == [
        {
            "SkuMeter": "gpt rt aud mn in gl 1215 1M Tokens",
            "ConsumedQuantity": Decimal("640"),
            "RegionName": "Sweden Central",
            "PricingCurrency": "USD",
            "x_ExtraColumns": None,
        }
    ]
    assert runs(workspace)[FINAL]["dataset_version"] == version
