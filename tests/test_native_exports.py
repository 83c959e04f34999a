"""Cost Management's native exports - actual and amortized cost details, EA and MCA - landed
into the same bill as FOCUS: the reference day reconciles the same from every format, the
FinOps toolkit's EA samples land with every row accounted for, and an account exporting FOCUS
and actual cost for one scope and month is counted once."""

from __future__ import annotations

import gzip
import json
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pytest

from ingest.samples import cost_exports
from ingest.samples.reference_case import _focus_columns, bill_rows, write_bill
from ingest.sources import cost_details
from tests.conftest import PROJECT_ROOT, REFERENCE_LOG, Workspace
from tests.test_ingest_focus import FINAL, REFERENCE_TOKENS

FIXTURES = PROJECT_ROOT / "tests" / "fixtures"
EA_SAMPLES = {
    "ActualCost": FIXTURES / "EA_ActualCost_Small.csv",
    "AmortizedCost": FIXTURES / "EA_AmortizedCost_Small.csv",
}
RECONCILIATION = (
    "select usage_date, resource_name, meter_name, model, modality, direction, is_cached, "
    "pricing_unit, api_quantity, billed_quantity, billed_tokens, billed_cost, "
    "billed_to_api_ratio, reconciliation_status from marts.fct_meter_reconciliation "
    "order by all"
)


def _build(ws: Workspace, monkeypatch: pytest.MonkeyPatch, name: str, *sources: Path) -> None:
    """Land the reference log and `sources` in a landing zone of their own, and build."""
    landing = ws.root / f"landing-{name}"
    monkeypatch.setenv("TOKENRECON_LANDING", str(landing))
    assert ws.ingest("events", str(REFERENCE_LOG)).exit_code == 0
    result = ws.ingest("costs", *map(str, sources))
    assert result.exit_code == 0, result.stderr
    ws.dbt("build")


def test_the_reference_day_reconciles_the_same_from_every_export_format(
    workspace: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_bill(tmp_path / "focus", runs=("final",))
    _build(workspace, monkeypatch, "focus", tmp_path / "focus")
    focus = workspace.query(RECONCILIATION)
    billed = {
        m: t
        for m, t in workspace.query(
            "select meter_name, cast(billed_tokens as bigint) from marts.fct_meter_reconciliation"
            " where billed_tokens is not null"
        )
    }
    assert sorted(billed.items()) == sorted(REFERENCE_TOKENS)  # the baseline is the known day

    # the same bill as an EA actual cost export (manifest layout) ...
    write_bill(tmp_path / "ea", runs=("final",), bill_format="ea-actual")
    # ... as a loose MCA actual cost CSV (a download, no manifest) ...
    mca = cost_exports.write_loose(
        tmp_path / "mca" / "costs-download.csv",
        bill_rows("final"),
        "mca-actual",
        focus_columns=_focus_columns("1.0"),
    )
    # ... and as an MCA amortized cost export (pay-as-you-go: the same amounts)
    write_bill(tmp_path / "mca-amortized", runs=("final",), bill_format="mca-amortized")
    for name, source, dataset_type in (
        ("ea-actual", tmp_path / "ea", "ActualCost"),
        ("mca-actual", mca, "ActualCost"),
        ("mca-amortized", tmp_path / "mca-amortized", "AmortizedCost"),
    ):
        _build(workspace, monkeypatch, name, source)
        assert workspace.query(RECONCILIATION) == focus, name
        assert workspace.query("select dataset_type, is_current from marts.dim_export_runs") == [
            (dataset_type, True)
        ], name
        assert workspace.query(
            "select bool_and(is_balanced), count(*) from marts.fct_export_run_totals"
        ) == [(True, 1)], name


def _file_rows(path: Path) -> int:
    return sum(rows for rows, _ in cost_exports.file_total(path).values())


@pytest.mark.parametrize("dataset_type", ["ActualCost", "AmortizedCost"])
def test_the_finops_toolkit_ea_samples_land_with_every_row_accounted_for(
    workspace: Workspace, tmp_path: Path, dataset_type: str
) -> None:
    sample = EA_SAMPLES[dataset_type]
    result = workspace.ingest("costs", str(sample))
    assert result.exit_code == 0, result.stderr

    [run] = workspace.landed_focus("select * from runs")
    assert run["dataset_type"] == dataset_type  # from the file's name: no manifest
    assert run["scope"] == "loose:8611537"  # the EA enrollment
    assert run["rows_read"] == _file_rows(sample)
    assert run["rows_read"] == run["rows_landed"] + run["rows_quarantined"]
    assert run["rows_quarantined"] == 0
    landed = workspace.landed_cost_details(
        "select BillingCurrency, count(*) as n, sum(CostInBillingCurrency) as cost, "
        "min(Date) as first_day, max(Date) as last_day from costs group by all"
    )
    # exact, at the warehouse's 18 decimals (the amortized sample writes some costs with 22)
    expected = cost_exports.file_total(sample, scale=18)
    assert {r["BillingCurrency"]: (r["n"], r["cost"]) for r in landed} == expected
    assert {str(r["first_day"])[:7] for r in landed} == {"2023-09"}  # MM/DD/YYYY read as such

    workspace.dbt("build")
    totals = workspace.query_dicts("select * from marts.fct_export_run_totals")
    assert [
        (t["billing_currency"], t["export_rows"], t["export_billed_cost"], t["is_balanced"])
        for t in totals
    ] == [(c, n, cost, True) for c, (n, cost) in expected.items()]
    # every row in the whole bill, as what it is (these samples bill VMs, storage, SQL)
    classes = dict(
        workspace.query(
            "select cost_class, sum(bill_rows) from marts.fct_billed_costs group by all"
        )
    )
    assert sum(classes.values()) == _file_rows(sample)
    assert set(classes) <= {"other_service", "purchase"}


def test_focus_and_actual_cost_of_one_scope_and_month_are_counted_once(
    workspace: Workspace, tmp_path: Path
) -> None:
    """Both exports of the subscription, for March: the FOCUS run is current (it covers as
    long and is preferred); the actual cost run is landed, shown, and not counted."""
    write_bill(tmp_path / "focus", runs=("final",))
    ea = write_bill(tmp_path / "actual", runs=("final",), bill_format="ea-actual")
    for manifest in ea:  # a second export of the same scope: its own name and run id
        doc = json.loads(manifest.read_text())
        doc["exportConfig"]["exportName"] = "tokenrecon-actual"
        doc["exportConfig"]["resourceId"] = doc["exportConfig"]["resourceId"].replace(
            "tokenrecon-focus", "tokenrecon-actual"
        )
        doc["runInfo"]["runId"] = "actual-" + doc["runInfo"]["runId"]
        manifest.write_text(json.dumps(doc))
    assert workspace.ingest("events", str(REFERENCE_LOG)).exit_code == 0
    result = workspace.ingest("costs", str(tmp_path / "focus"), str(tmp_path / "actual"))
    assert result.exit_code == 0, result.stderr
    workspace.dbt("build")

    runs = {
        r["run_key"]: r
        for r in workspace.query_dicts(
            "select run_key, dataset_type, is_current, not_current_reason "
            "from marts.dim_export_runs"
        )
    }
    assert runs[FINAL]["is_current"] and runs[FINAL]["dataset_type"] == "FocusCost"
    actual = runs["actual-" + FINAL]
    assert actual["dataset_type"] == "ActualCost" and not actual["is_current"]
    assert actual["not_current_reason"] == (
        f"{FINAL} (FocusCost) covers the same period and is preferred to ActualCost"
    )
    billed = {
        m: t
        for m, t in workspace.query(
            "select meter_name, cast(billed_tokens as bigint) from marts.fct_meter_reconciliation"
            " where billed_tokens is not null"
        )
    }
    assert sorted(billed.items()) == sorted(REFERENCE_TOKENS)  # once, not twice
    assert workspace.query("select distinct run_key from marts.fct_billed_costs") == [(FINAL,)]


def test_a_manifest_names_its_dataset_and_a_header_names_a_loose_files() -> None:
    assert cost_details.dataset_of_export_type("ActualCost") == (
        cost_details.COST_DETAILS,
        "ActualCost",
    )
    assert cost_details.dataset_of_export_type("focuscost")[1] == "FocusCost"
    assert cost_details.dataset_of_export_type("ReservationDetails") is None
    ea = cost_exports.EA_COLUMNS
    mca = cost_exports.MCA_COLUMNS
    assert cost_details.dataset_of_columns(ea) is cost_details.COST_DETAILS
    assert cost_details.dataset_of_columns(mca) is cost_details.COST_DETAILS
    assert cost_details.dataset_of_columns(_focus_columns("1.0")) is cost_details.FOCUS
    assert cost_details.dataset_of_columns(["Date", "MeterName", "Quantity"]) is None
    # every EA and MCA column lands under a canonical name (none ends up in x_ExtraColumns)
    for column in (*ea, *mca):
        assert cost_details.COST_DETAILS.canonical(column) in cost_details.COLUMNS, column


def test_a_cost_details_file_without_a_cost_column_is_refused_by_name(
    workspace: Workspace, tmp_path: Path
) -> None:
    path = tmp_path / "broken.csv"
    path.write_text("Date,MeterName,Quantity\n03/31/2026,x,1\n")
    result = workspace.ingest("costs", str(path))
    assert result.exit_code == 1
    assert "not a FOCUS cost file, nor a cost details" in result.stderr
    assert str(path) in result.stderr


def test_a_bad_date_in_a_cost_details_row_quarantines_that_row_only(
    workspace: Workspace, tmp_path: Path
) -> None:
    lines = EA_SAMPLES["ActualCost"].read_text(encoding="utf-8-sig").splitlines()
    lines[3] = lines[3].replace("09/04/2023", "31/31/2023", 1)
    path = tmp_path / "actual.csv"
    path.write_text("\n".join(lines) + "\n")
    result = workspace.ingest("costs", str(path))
    assert result.exit_code == 0, result.stderr
    [run] = workspace.landed_focus("select * from runs")
    assert (run["rows_read"], run["rows_landed"], run["rows_quarantined"]) == (11, 10, 1)
    assert run["status"] == "incomplete"
    [bad] = workspace.landed_focus("select record_number, reason from quarantine")
    assert bad["record_number"] == 3
    assert bad["reason"] == "Date '31/31/2023' is not a date and time"
    landed = workspace.landed_cost_details("select sum(CostInBillingCurrency) as cost from costs")
    expected = cost_exports.file_total(EA_SAMPLES["ActualCost"])["USD"][1]
    assert landed == [{"cost": expected - Decimal("0.000011139")}]  # that row's Cost only


def test_the_cost_details_staging_model_and_docs_match_the_canonical_columns() -> None:
    staging = PROJECT_ROOT / "models" / "staging" / "cost_details"
    assert (staging / "stg_cost_details__costs.sql").read_text() == cost_details.staging_sql(), (
        "regenerate: python -m ingest.sources.cost_details > "
        "models/staging/cost_details/stg_cost_details__costs.sql"
    )
    assert cost_details.staging_columns_yml() in (staging / "_cost_details__models.yml").read_text()


def test_the_simulator_writes_its_bill_as_cost_details_that_land_whole(
    workspace: Workspace, tmp_path: Path
) -> None:
    out = tmp_path / "sim"
    result = workspace.ingest(
        "simulate",
        "--out",
        str(out),
        "--month",
        "2026-04-01",
        "--days",
        "2",
        "--sessions-per-day",
        "1",
        "--no-audio",
        "--bill-format",
        "mca-amortized",
    )
    assert result.exit_code == 0, result.stderr
    manifests = sorted((out / "cost_exports").rglob("manifest.json"))
    assert len(manifests) == 3  # a run a day and the early re-run of the month
    for manifest in manifests:
        doc = json.loads(manifest.read_text())
        assert doc["exportConfig"]["type"] == "AmortizedCost"
        [part] = manifest.parent.glob("part_*.csv.gz")
        header = gzip.decompress(part.read_bytes()).split(b"\n", 1)[0].decode()
        assert header.split(",") == cost_exports.MCA_COLUMNS
    result = workspace.ingest("costs", str(out / "cost_exports"))
    assert result.exit_code == 0, result.stderr
    runs = workspace.landed_focus("select run_key, dataset_type, rows_read, rows_landed from runs")
    assert {r["dataset_type"] for r in runs} == {"AmortizedCost"}
    totals = {
        r["run_key"]: {r2["billing_currency"]: (r2["rows_landed"], r2["billed_cost_landed"])}
        for r in runs
        for r2 in _landed_totals(workspace, r["run_key"])
    }
    for manifest in manifests:
        run_id = json.loads(manifest.read_text())["runInfo"]["runId"]
        [part] = manifest.parent.glob("part_*.csv.gz")
        assert totals[run_id] == cost_exports.file_total(part), run_id


def _landed_totals(ws: Workspace, run_key: str) -> list[dict]:
    import pyarrow.parquet as pq

    path = ws.landing / "focus_run_totals" / f"run_key={run_key}" / "totals.parquet"
    return pq.read_table(path).to_pylist()


def test_cost_details_land_the_same_from_csv_gzip_and_parquet(
    workspace: Workspace, tmp_path: Path
) -> None:
    """The EA actual sample as CSV gzip and as Parquet (text columns, as Cost Management's
    Parquet cost details keep most of them, with typed costs and dates): the same rows."""
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    sample = EA_SAMPLES["ActualCost"]
    gz = tmp_path / "gz" / "ea-actual.csv.gz"
    gz.parent.mkdir()
    gz.write_bytes(gzip.compress(sample.read_bytes()))
    table = pacsv.read_csv(
        sample,
        convert_options=pacsv.ConvertOptions(
            column_types={"Cost": pa.decimal128(38, 18), "Quantity": pa.decimal128(38, 18)}
        ),
    )
    table = table.set_column(
        table.schema.get_field_index("Date"),
        "Date",
        pa.array(
            [
                None if d is None else datetime.strptime(d, "%m/%d/%Y")
                for d in table["Date"].to_pylist()
            ],
            pa.timestamp("us"),
        ),
    )
    parquet = tmp_path / "parquet" / "ea-actual.snappy.parquet"
    parquet.parent.mkdir()
    pq.write_table(table, parquet, compression="snappy")

    landed = {}
    for source in (gz, parquet):
        result = workspace.ingest("costs", str(source))
        assert result.exit_code == 0, result.stderr
        landed[source.suffix] = workspace.landed_cost_details(
            "select source_row, Date, MeterName, Quantity, CostInBillingCurrency, ChargeType, "
            f"UnitOfMeasure from costs where source_uri = '{source}' order by source_row"
        )
    assert len(landed[".gz"]) == 11
    assert landed[".gz"] == landed[".parquet"]
    assert {r["CostInBillingCurrency"] for r in landed[".gz"]} >= {Decimal("3.25")}
