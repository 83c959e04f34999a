"""Column-by-column normalising (ingest.focus_columns) against the one-statement rule
(ingest.sources.focus.normalise_sql): the same values, the same NULLs, the same row problems."""

from __future__ import annotations

import csv
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from ingest import focus
from ingest.focus_columns import DECIMAL, ColumnNormaliser, landed_schema, stacked
from ingest.sources import focus as fx

# Values Arrow and the SQL might read differently: every one is in the test below.
DECIMALS = [
    "1", "1.5", "-1.5", "+1.5", "1.", ".5", "-.5", "1e3", "1E-3", "1.5e+2", "00012", "-0",
    " 2.25 ", "12345678901234567890", "123456789012345678901", "0.1234567890123456789",
    "0.123456789012345678", "4,608", "1 000", "nan", "inf", "0x10", "NULL", "Unassigned", "",
]  # fmt: skip
TIMES = [
    "2026-03-01T00:00Z", "2026-03-01T00:00", "2026-03-01", "2026-03-01 00:00:00",
    "2026-03-01T00:00:00.123456Z", "2026-03-01T01:00:00+01:00", "2026-03-01T01:00+01:00",
    "2026-03-01T01", "2026/03/01", "20260301", "2026-02-30T00:00Z", "2026-03-01T24:00:00Z",
    "yesterday", " 2026-03-02T00:00Z ", "null",
]  # fmt: skip
BOOLEANS = ["true", "False", "1", "0", "t", "yes", "on", "maybe", ""]
JSONS = ['{"team": "voice"}', "{}", "[1, 2]", "{bad", '"text"', "", "NULL"]
TEXTS = ["Azure OpenAI", "  padded  ", "Unassigned", "unassigned", "NULL", "", "\tTab"]


def _rows(n: int) -> list[dict[str, str]]:
    """n rows cycling through the value lists, so every combination of problems occurs."""
    return [
        {
            "BilledCost": DECIMALS[i % len(DECIMALS)],
            "ListCost": DECIMALS[(i * 7 + 3) % len(DECIMALS)],
            "BillingCurrency": "USD",
            "ChargePeriodStart": TIMES[i % len(TIMES)],
            "ChargePeriodEnd": TIMES[(i * 5 + 1) % len(TIMES)],
            "x_SkuIsCreditEligible": BOOLEANS[i % len(BOOLEANS)],
            "Tags": JSONS[i % len(JSONS)],
            "ServiceName": TEXTS[i % len(TEXTS)],
            "x_SkuMeterName": TEXTS[(i + 2) % len(TEXTS)],  # old spelling of SkuMeter, and
            "SkuMeter": TEXTS[(i + 4) % len(TEXTS)] if i % 2 else "",  # the new one
            "Id": f"row-{i}" if i % 3 else "",  # a column no FOCUS version lists
        }
        for i in range(n)
    ]


def _one_statement(table: pa.Table) -> list[dict]:
    """normalise_sql over the table, as DuckDB runs it."""
    con = focus.connect()
    numbered = table.append_column("source_row", pa.array(range(1, table.num_rows + 1)))
    con.register("src", numbered)
    types = {r[0]: str(r[1]) for r in con.sql("describe src").fetchall()}
    sql = fx.normalise_sql("src", types) + " order by source_row"
    return con.sql(sql).to_arrow_table().to_pylist()


def _column_by_column(batches: list[pa.RecordBatch]) -> list[dict]:
    normaliser = ColumnNormaliser(focus.connect(), "run", "file")
    out, problems, row = [], [], 1
    for batch in batches:
        landed, problem = normaliser.normalise(batch, row)
        out.append(landed)
        problems.append(problem)
        row += batch.num_rows
    table = stacked(out).append_column("row_problem", pa.concat_arrays(problems))
    return table.to_pylist()


def _compare(expected: list[dict], actual: list[dict]) -> None:
    assert len(actual) == len(expected)
    for want, got in zip(expected, actual, strict=True):
        for column, value in want.items():
            assert got.get(column) == value, (want["source_row"], column, got.get(column), value)


def test_text_columns_normalise_as_the_one_statement_rule(tmp_path: Path) -> None:
    rows = _rows(len(DECIMALS) * len(TIMES))
    path = tmp_path / "costs.csv"
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    # as ingest reads the file (dictionary-encoded text), in small batches so that the values
    # learnt in one batch are reused in the next
    [batch] = list(focus._batches(path, path.name, on_invalid=None))
    batches = [batch.slice(i, 40) for i in range(0, batch.num_rows, 40)]
    plain = pa.Table.from_batches([batch]).cast(pa.schema((n, pa.string()) for n in rows[0]))

    expected = _one_statement(plain)
    actual = _column_by_column(batches)

    _compare(expected, actual)
    problems = [r["row_problem"] for r in actual if r["row_problem"]]
    assert len(problems) > len(actual) // 2  # the fixture really is full of bad values
    bad_cost = actual[DECIMALS.index("4,608")]["row_problem"]
    assert bad_cost.startswith("BilledCost '4,608' is not a decimal number")
    assert any("; ChargePeriodStart 'yesterday' is not a date and time" in p for p in problems)
    good = actual[1]
    assert good["BilledCost"] == Decimal("1.5")
    assert good["ChargePeriodStart"] == datetime(2026, 3, 1)
    assert good["ServiceName"] == "padded"
    assert good["SkuMeter"] is None  # 'unassigned', read from x_SkuMeterName
    assert good["x_ExtraColumns"] == '{"Id":"row-1"}'


def test_typed_parquet_columns_normalise_as_the_one_statement_rule() -> None:
    table = pa.table(
        {
            "BilledCost": pa.array(
                [Decimal("1.5"), None, Decimal("-0.000001")], pa.decimal128(20, 6)
            ),
            "ListCost": pa.array([1, 2, None], pa.int64()),
            "ConsumedQuantity": pa.array([3, 4, 5], pa.uint16()),
            "BillingCurrency": pa.array(["USD", "EUR", None]).dictionary_encode(),
            "ChargePeriodStart": pa.array(
                [datetime(2026, 3, 1, 1, tzinfo=UTC), None, datetime(2026, 3, 2, tzinfo=UTC)],
                pa.timestamp("ms", tz="UTC"),
            ),
            "ChargePeriodEnd": pa.array([10**18, None, 2 * 10**18], pa.timestamp("ns")),
            "BillingPeriodStart": pa.array(
                [datetime(2026, 3, 1, tzinfo=UTC), None, None],
                pa.timestamp("us", tz="Europe/Berlin"),
            ),
            "x_SkuIsCreditEligible": pa.array([True, None, False]),
            "x_PricingBlockSize": pa.array([1.5, None, 1000.0], pa.float64()),  # never a float
            "x_BillingProfileId": pa.array([7, None, 9], pa.int32()),  # a text column as a number
        }
    )
    expected = _one_statement(table)
    actual = _column_by_column(table.to_batches())

    _compare(expected, actual)
    assert actual[0]["BilledCost"] == Decimal("1.5")
    assert actual[0]["ChargePeriodStart"] == datetime(2026, 3, 1, 1)
    assert actual[0]["BillingPeriodStart"] == datetime(2026, 3, 1)  # the instant, in UTC
    assert actual[2]["x_PricingBlockSize"] == Decimal(1000)


@pytest.mark.parametrize("text", DECIMALS)
def test_arrow_reads_a_decimal_only_as_the_sql_does(text: str) -> None:
    """The fast path's premise: Arrow's exact parser accepts a subset of the SQL's, and reads
    what it accepts to the same value."""
    con = focus.connect()
    sql = fx.values_sql("(select ?::varchar as value)", "BilledCost", ["value"], "VARCHAR")
    by_sql = con.execute(sql, [text]).fetchone()[0]
    try:
        by_arrow = pc.cast(pc.utf8_trim(pa.array([text]), characters=" "), DECIMAL)[0].as_py()
    except pa.ArrowInvalid:
        return  # refused: the SQL reads the column instead
    if text.strip() in fx.NULL_PLACEHOLDERS:
        return  # placeholders never reach the cast
    assert by_arrow == by_sql


def test_landed_schema_has_every_canonical_column() -> None:
    names = landed_schema().names
    assert names[:2] == ["run_key", "source_uri"] and names[-1] == "source_row"
    assert set(fx.canonical_columns()) <= set(names)
