"""Fuzzing the landing rule: valid event lines and export rows, mutated the way broken loggers
and odd exports mutate them, are each landed or quarantined with a reason - never both, never
neither - the run ends 0, and `dbt build` on what landed is green."""

from __future__ import annotations

import csv
import gzip
import io
import json
import random
import tempfile
from pathlib import Path

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingest.samples.reference_case import bill_rows
from tests.conftest import REFERENCE_LOG, Workspace

LINES = gzip.decompress(REFERENCE_LOG.read_bytes()).splitlines()
ODD_VALUES = [
    None,
    "",
    "\x00\x00",
    "é" * 3,
    -1,
    0,
    2**70,
    -(2**64),
    1e308,
    float("1e-300"),
    True,
    [],
    {},
    {"nested": [1, {"x": None}]},
    "2026-13-45T99:99:99Z",
    "99999-01-01T00:00:00Z",
    1774948445,  # epoch seconds where milliseconds are expected
    "resp_" + "x" * 300,
]


def _set_somewhere(obj: object, rnd: random.Random, value: object) -> object:
    """Replace one value somewhere in a decoded JSON document."""
    if isinstance(obj, dict) and obj:
        key = rnd.choice(sorted(obj))
        if rnd.random() < 0.6 and isinstance(obj[key], dict | list):
            obj[key] = _set_somewhere(obj[key], rnd, value)
        elif rnd.random() < 0.15:
            del obj[key]
        else:
            obj[key] = value
        return obj
    if isinstance(obj, list) and obj:
        i = rnd.randrange(len(obj))
        obj[i] = _set_somewhere(obj[i], rnd, value)
        return obj
    return value


def mutate_line(line: bytes, rnd: random.Random) -> bytes:
    kind = rnd.randrange(6)
    if kind == 0:  # cut short
        return line[: rnd.randrange(len(line))]
    if kind == 1:  # bytes spliced in
        at = rnd.randrange(len(line))
        return line[:at] + bytes(rnd.randrange(256) for _ in range(rnd.randrange(1, 8))) + line[at:]
    if kind == 2:  # a value of the wrong kind
        doc = orjson.loads(line)
        value = rnd.choice(ODD_VALUES)
        return json.dumps(_set_somewhere(doc, rnd, value)).encode()
    if kind == 3:  # not an object
        return rnd.choice([b"[]", b"42", b'"text"', b"null", b"{", b"}"])
    if kind == 4:  # a BOM, or NULs a crashed logger left
        return rnd.choice([b"\xef\xbb\xbf", b"\x00" * rnd.randrange(1, 64)]) + line
    return line  # unchanged (a duplicate of a valid line)


def _balance(ws: Workspace) -> tuple[int, int, int, int]:
    log = ws.landed("select * from load_log where dataset = 'realtime_events'")
    return (
        sum(r["records_read"] for r in log),
        sum(r["rows_landed"] for r in log),
        sum(r["rows_quarantined"] for r in log),
        sum(r["rows_duplicate"] or 0 for r in log),
    )


def _workspace(folder: Path) -> Workspace:
    return Workspace(folder, folder / "landing", folder / "warehouse.duckdb")


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(seed=st.integers(0, 2**32 - 1), mutated=st.integers(1, 12))
def test_every_mutated_event_line_is_landed_or_quarantined(
    seed: int, mutated: int, monkeypatch
) -> None:
    rnd = random.Random(seed)
    lines = list(LINES)
    for _ in range(mutated):
        i = rnd.randrange(len(lines))
        lines[i] = mutate_line(lines[i], rnd)
    with tempfile.TemporaryDirectory() as folder:
        ws = _workspace(Path(folder))
        monkeypatch.setenv("TOKENRECON_LANDING", str(ws.landing))
        log = Path(folder) / "log.jsonl"
        log.write_bytes(b"\n".join(lines) + b"\n")
        result = ws.ingest("events", str(log))
        assert result.exit_code == 0, result.stderr
        read, landed, quarantined, _ = _balance(ws)
        written = log.read_bytes().split(b"\n")[:-1]  # a spliced newline makes two lines
        records = sum(1 for line in written if line.strip())
        assert read == records == landed + quarantined
        rows = ws.landed("select count(*) as n from landed")[0]["n"]
        assert rows == landed
        reasons = ws.landed("select reason from quarantine where dataset = 'realtime_events'")
        assert len(reasons) == quarantined and all(r["reason"] for r in reasons)


def _bill_csv(rows: list[dict]) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, sorted({k for r in rows for k in r}), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode()


ODD_CELLS = ["", "NULL", "4,608", "1e400", "-0", "abc", "2026-02-30", "Ω", '"', "\x00", "9" * 60]


def mutate_bill(rows: list[dict], rnd: random.Random, count: int) -> bytes:
    rows = [dict(r) for r in rows]
    for _ in range(count):
        row = rnd.choice(rows)
        column = rnd.choice(sorted(row))
        row[column] = rnd.choice(ODD_CELLS)
    text = _bill_csv(rows)
    if rnd.random() < 0.3:  # a ragged row
        lines = text.split(b"\n")
        i = rnd.randrange(1, len(lines) - 1)
        lines[i] = lines[i] + b",extra,cells"
        text = b"\n".join(lines)
    return text


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(seed=st.integers(0, 2**32 - 1), mutated=st.integers(1, 8))
def test_every_mutated_export_row_is_landed_or_quarantined(
    seed: int, mutated: int, monkeypatch
) -> None:
    rows = bill_rows("final")
    with tempfile.TemporaryDirectory() as folder:
        ws = _workspace(Path(folder))
        monkeypatch.setenv("TOKENRECON_LANDING", str(ws.landing))
        bill = Path(folder) / "costs.csv"
        bill.write_bytes(mutate_bill(rows, random.Random(seed), mutated))
        result = ws.ingest("focus", str(bill))
        assert result.exit_code == 0, result.stderr
        [run] = ws.landed_focus("select * from runs")
        assert run["rows_read"] == len(rows) == run["rows_landed"] + run["rows_quarantined"]
        landed = ws.landed_focus("select count(*) as n from costs")[0]["n"]
        quarantined = ws.landed_focus("select count(*) as n from quarantine")[0]["n"]
        assert (landed, quarantined) == (run["rows_landed"], run["rows_quarantined"])


# Values that parse - so the rows land and reach the marts - but no sane bill holds.
LANDABLE = {
    "BilledCost": ["-12.5", "0", "99999999999999999999", "0.000000000000000001"],
    "PricingQuantity": ["-3", "0", "99999999999999999999", "1e-18"],
    "ListUnitPrice": ["0", "-1", "999999999999"],
    "x_PricingBlockSize": ["0", "-1000", "99999999999999999999", "7"],
    "x_PricingUnitDescription": ["", "1 Hour", "10K", "999999999999"],
    "BillingCurrency": ["", "XTS", "usd"],
    "ChargePeriodStart": [""],
    "ChargeCategory": ["", "Refund", "Credit"],
    "x_SkuMeterName": ["", "Standard Unit", "Provisioned Managed Global Unit", "gpt rt x"],
    "x_SkuMeterSubcategory": ["", "Llama", "Azure OpenAI Future"],
    "ResourceName": ["", "A'B"],
}


def landable_bill(rows: list[dict], rnd: random.Random, count: int) -> bytes:
    rows = [dict(r) for r in rows]
    for _ in range(count):
        column = rnd.choice(sorted(LANDABLE))
        rnd.choice(rows)[column] = rnd.choice(LANDABLE[column])
    return _bill_csv(rows)


def test_dbt_build_is_green_on_mutated_logs_and_bills(workspace: Workspace, tmp_path: Path) -> None:
    rnd = random.Random(20261203)
    lines = [mutate_line(line, rnd) if rnd.random() < 0.3 else line for line in LINES]
    (tmp_path / "log.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    (tmp_path / "costs.csv").write_bytes(mutate_bill(bill_rows("final"), rnd, 6))
    bills = tmp_path / "landable"
    for n in range(4):  # odd values that land: the rows reach every mart
        bills.mkdir(exist_ok=True)
        rows = bill_rows("final")
        for row in rows:
            row["BillingAccountId"] = f"/providers/Microsoft.Billing/billingAccounts/fuzz-{n}"
        (bills / f"costs-{n}.csv").write_bytes(landable_bill(rows, rnd, 12))
    assert workspace.ingest("focus", str(bills)).exit_code == 0
    assert [r["status"] for r in workspace.landed_focus("select status from runs")] == [
        "complete"
    ] * 4
    assert workspace.ingest("events", str(tmp_path / "log.jsonl")).exit_code == 0
    assert workspace.ingest("focus", str(tmp_path / "costs.csv")).exit_code == 0
    workspace.dbt("build")
    [(balanced, rows_in_marts)] = workspace.query(
        "select bool_and(is_balanced), sum(warehouse_rows) from marts.fct_export_run_totals "
        "where run_key in (select run_key from marts.dim_export_runs "
        "where source_uri like '%landable%' and is_current)"
    )
    assert (balanced, rows_in_marts) == (True, 4 * len(bill_rows("final")))
    read, landed, quarantined, _ = _balance(workspace)
    assert read == landed + quarantined > 0
    assert workspace.query(
        "select sum(affected_records) from marts.fct_data_quality "
        "where check_name = 'quarantined_records'"
    ) == [
        (
            quarantined
            + sum(r["rows_quarantined"] for r in workspace.landed_focus("select * from runs")),
        )
    ]
