"""FOCUS batches -> the landed canonical columns, one column at a time.

The rules are those of ingest.sources.focus (`column_sql`: trim, placeholders to NULL, exact
casts, and the reason a value is refused). What this module decides is where each rule runs, so
that normalising a batch costs little next to reading it:

- a text column read dictionary-encoded (names, ids, dates, units, tags: few distinct values) is
  normalised once per distinct value by DuckDB running that column's SQL; the results are kept
  across the batches of a file, and rows take their value and their problem by index;
- a decimal column held as text (costs, quantities: about one value per row) is parsed by Arrow's
  exact decimal parser, as it is and else after the same trim and placeholders. Arrow accepts a
  subset of what the SQL accepts, with the same values (tests hold it to that); when it refuses
  any value of a batch, the column's SQL runs on the whole column and names each refused value;
- a column stored typed (Parquet decimals, integers, timestamps, booleans) is cast by Arrow as
  the SQL casts it, exactly;
- anything else (a column under two spellings, other types) runs the column's SQL as it is.

`normalise_sql` is the same rule as one statement; a test holds both to the same rows.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ingest.sources import focus as fx

DECIMAL = pa.decimal128(38, 18)
ARROW_TYPES = {
    fx.DECIMAL: DECIMAL,
    "TIMESTAMP": pa.timestamp("us"),  # UTC
    "BOOLEAN": pa.bool_(),
    "JSON": pa.string(),
    "VARCHAR": pa.string(),
}
PLACEHOLDERS = pa.array(fx.NULL_PLACEHOLDERS)
KNOWN_VALUES_LIMIT = 100_000  # distinct values kept per column; past it the cache starts over


@cache
def landed_schema(dataset: fx.CostDataset = fx.FOCUS) -> pa.Schema:
    """Schema of landed cost rows: run, source, the dataset's canonical columns, extras, row."""
    fields = [pa.field("run_key", pa.string()), pa.field("source_uri", pa.string())]
    fields += [pa.field(c, ARROW_TYPES[t]) for c, t in dataset.columns.items()]
    fields += [pa.field(fx.EXTRA_COLUMNS, pa.string()), pa.field("source_row", pa.int64())]
    return pa.schema(fields)


@cache
def written_schema(dataset: fx.CostDataset = fx.FOCUS) -> pa.Schema:
    """landed_schema as the parts are written: text columns dictionary-encoded (values repeat;
    Parquet stores them as plain text columns with dictionary pages either way)."""
    text = pa.dictionary(pa.int32(), pa.string())
    return pa.schema(
        f.with_type(text) if f.type == pa.string() and f.name != fx.EXTRA_COLUMNS else f
        for f in landed_schema(dataset)
    )


def read_as_dictionary(column: str, dataset: fx.CostDataset = fx.FOCUS) -> bool:
    """Whether a data file's column is best read dictionary-encoded: every text column of the
    dataset but the decimals (their values are about one a row)."""
    sql_type = dataset.columns.get(dataset.canonical(column))
    return sql_type is not None and sql_type != fx.DECIMAL


def has_values(array: pa.Array) -> bool:
    """False for a column without a value in this batch (all null, or all empty text): an
    absent column is NULL, so exports' many empty columns cost nothing."""
    if array.null_count == len(array):
        return False
    if pa.types.is_dictionary(array.type):
        return has_values(array.dictionary)
    if pa.types.is_string(array.type):
        return pc.max(pc.utf8_length(array)).as_py() > 0
    return True


def _clean(text: pa.Array) -> pa.Array:
    """The SQL's text step: trimmed of spaces, placeholders to NULL."""
    trimmed = pc.utf8_trim(text, characters=" ")
    return pc.if_else(pc.is_in(trimmed, value_set=PLACEHOLDERS), None, trimmed)


def _arrow_native(array: pa.Array, sql_type: str) -> pa.Array | None:
    """Arrow's cast of a typed column, where the SQL takes it natively (fx._native), else None."""
    kind = array.type
    if sql_type == fx.DECIMAL and (pa.types.is_decimal(kind) or pa.types.is_integer(kind)):
        return pc.cast(array, DECIMAL)
    if sql_type == "TIMESTAMP" and pa.types.is_timestamp(kind):
        # a zone-aware timestamp holds UTC; INT96 and naive timestamps are UTC
        return pc.cast(array.cast(pa.timestamp(kind.unit)), pa.timestamp("us"), safe=False)
    if sql_type == "BOOLEAN" and pa.types.is_boolean(kind):
        return array
    return None


@dataclass
class _Known:
    """Distinct source values of a column already normalised: value and problem per key."""

    keys: pa.Array
    values: pa.Array
    problems: pa.Array


class ColumnNormaliser:
    """Normalises the batches of one data file (keeps what it learnt of its distinct values)."""

    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        run_key: str,
        uri: str,
        dataset: fx.CostDataset = fx.FOCUS,
    ) -> None:
        self._con = con
        self._dataset = dataset
        self._run_key = run_key
        self._uri = uri
        self._known: dict[tuple[str, pa.DataType], _Known] = {}
        self._sql: dict[tuple[str, tuple[pa.DataType, ...]], str] = {}

    def normalise(self, batch: pa.RecordBatch, first_row: int) -> tuple[pa.RecordBatch, pa.Array]:
        """(landed columns, row_problem) of a batch whose first row is `first_row` (1-based).
        Only the columns that hold a value are returned (see `stacked`)."""
        n = batch.num_rows
        names = batch.schema.names
        present = [c for c, a in zip(names, batch.columns, strict=True) if has_values(a)]
        by_canonical = fx.sources_by_column(present, self._dataset)
        known = self._dataset.columns
        columns: dict[str, pa.Array] = {}
        problems: list[pa.Array] = []
        for name, sql_type in known.items():  # in order: problems read as the SQL's do
            sources = by_canonical.get(name)
            if not sources:
                continue
            value, problem = self._column(name, sql_type, [batch.column(s) for s in sources])
            columns[name] = value
            if problem is not None:
                problems.append(problem)
        extra = [c for c in by_canonical if c not in known]
        if extra:
            relation = pa.table({c: batch.column(c) for c in extra})
            sql = f"select {fx.extra_columns_sql(extra)} as extra from relation"
            columns[fx.EXTRA_COLUMNS] = self._query(lambda: sql, relation)["extra"]
        same = pa.repeat(pa.scalar(0, pa.int32()), n)
        columns["run_key"] = pa.DictionaryArray.from_arrays(same, [self._run_key])
        columns["source_uri"] = pa.DictionaryArray.from_arrays(same, [self._uri])
        columns["source_row"] = pa.arange(first_row, first_row + n)
        fields = [f for f in written_schema(self._dataset) if f.name in columns]
        arrays = [_conform(columns[f.name], f.type) for f in fields]
        return pa.RecordBatch.from_arrays(arrays, schema=pa.schema(fields)), _joined(problems, n)

    def _column(
        self, name: str, sql_type: str, sources: list[pa.Array]
    ) -> tuple[pa.Array, pa.Array | None]:
        if len(sources) > 1:
            return self._by_sql(name, sources)
        array = sources[0]
        if pa.types.is_dictionary(array.type):
            return self._by_distinct(name, array)
        native = _arrow_native(array, sql_type)
        if native is not None:
            return native, None
        if sql_type == fx.DECIMAL and pa.types.is_string(array.type):
            # Numbers alone need no trim and hold no placeholder: cast them as they are first.
            for clean in (lambda a: a, _clean):
                try:
                    return pc.cast(clean(array), DECIMAL), None
                except pa.ArrowInvalid:
                    pass
            return self._by_sql(name, sources)  # a value Arrow refuses: the SQL says why
        return self._by_distinct(name, pc.dictionary_encode(array))

    def _by_distinct(
        self, name: str, array: pa.DictionaryArray
    ) -> tuple[pa.Array, pa.Array | None]:
        """Normalise each distinct value once (with the SQL), then map rows to them."""
        distinct = array.dictionary
        key = (name, distinct.type)
        known = self._known.get(key)
        where = None if known is None else pc.index_in(distinct, value_set=known.keys)
        if where is None or where.null_count:
            new = distinct if where is None else distinct.filter(pc.is_null(where))
            values, problems = self._by_sql(name, [new])
            if problems is None:
                problems = pa.nulls(len(new), pa.string())
            if known is None or len(known.keys) + len(new) > KNOWN_VALUES_LIMIT:
                known = _Known(new, values, problems)
            else:
                known = _Known(
                    pa.concat_arrays([known.keys, new]),
                    pa.concat_arrays([known.values, values]),
                    pa.concat_arrays([known.problems, problems]),
                )
            self._known[key] = known
            where = pc.index_in(distinct, value_set=known.keys)
        rows = pc.take(where, array.indices)
        problems = None
        if known.problems.null_count < len(known.problems):
            problems = known.problems.take(rows)
        if pa.types.is_string(known.values.type):  # stays dictionary-encoded; a NULL value
            # is a NULL index (Parquet writers take no NULL in a dictionary)
            rows = pc.if_else(pc.take(pc.is_valid(known.values), rows), rows, None)
            return pa.DictionaryArray.from_arrays(rows, pc.fill_null(known.values, "")), problems
        return known.values.take(rows), problems

    def _by_sql(self, name: str, sources: list[pa.Array]) -> tuple[pa.Array, pa.Array | None]:
        """The column's SQL (fx.column_sql) over whole arrays: value and problem per row."""
        columns = [f"value{i}" for i in range(len(sources))]
        result = self._query(
            lambda: self._values_sql(name, columns, tuple(s.type for s in sources)),
            pa.table(dict(zip(columns, sources, strict=True))),
        )
        problems = result["problem"]
        if pa.types.is_null(problems.type) or problems.null_count == len(problems):
            return result["value"], None
        return result["value"], problems

    def _values_sql(self, name: str, columns: list[str], types: tuple[pa.DataType, ...]) -> str:
        sql = self._sql.get((name, types))
        if sql is None:
            source_type = str(self._con.sql("select * from relation limit 0").types[0])
            sql = self._sql[(name, types)] = fx.values_sql(
                "relation", name, columns, source_type, self._dataset
            )
        return sql

    def _query(self, sql: Callable[[], str], relation: pa.Table) -> dict[str, pa.Array]:
        """The columns the SQL `sql()` gives over `relation` (registered as `relation`)."""
        self._con.register("relation", relation)
        try:
            result = self._con.sql(sql()).to_arrow_table()
        finally:
            self._con.unregister("relation")
        return {name: result[name].combine_chunks() for name in result.column_names}


# Columns whose Parquet statistics readers use to skip row groups (runs, files, periods);
# computing them for every column costs more than the rest of writing.
STATISTICS_COLUMNS = (
    "run_key", "source_uri", "source_row",
    "ChargePeriodStart", "ChargePeriodEnd", "BillingPeriodStart", "BillingPeriodEnd",
)  # fmt: skip


def write_part(table: pa.Table, path: Path) -> None:
    """Write a part: zstd, dictionary pages for the dictionary-encoded text columns only (a
    cost column has about one value a row), statistics for STATISTICS_COLUMNS."""
    names = table.schema.names
    pq.write_table(
        table,
        path,
        compression="zstd",
        use_dictionary=[f.name for f in table.schema if pa.types.is_dictionary(f.type)],
        write_statistics=[c for c in STATISTICS_COLUMNS if c in names],
    )


def stacked(batches: list[pa.RecordBatch], dataset: fx.CostDataset = fx.FOCUS) -> pa.Table:
    """Normalised batches as one table of the columns any of them has (in written_schema's
    order, NULL where a batch has none). Parts are written so: a column without a value costs
    as much to write as one with, exports leave most of their ~100 columns empty, and readers
    take the parts by name (landed_schema is the dataset's `_schema.parquet`)."""
    present = {name for batch in batches for name in batch.schema.names}
    schema = pa.schema(f for f in written_schema(dataset) if f.name in present)
    return pa.Table.from_batches(
        [
            pa.RecordBatch.from_arrays(
                [
                    batch.column(f.name)
                    if f.name in batch.schema.names
                    else pa.nulls(batch.num_rows, f.type)
                    for f in schema
                ],
                schema=schema,
            )
            for batch in batches
        ],
        schema=schema,
    )


def _conform(array: pa.Array, arrow_type: pa.DataType) -> pa.Array:
    if array.type == arrow_type:
        return array
    if pa.types.is_dictionary(arrow_type):
        return pc.dictionary_encode(array.cast(arrow_type.value_type))
    return array.cast(arrow_type)


def _joined(problems: list[pa.Array], n: int) -> pa.Array:
    """Problems of a row, '; '-joined in column order (the SQL's concat_ws); NULL for none.
    (Not binary_join_element_wise's null_handling='skip': it drops rows that are all null.)"""
    if not problems:
        return pa.nulls(n, pa.string())
    joined = problems[0]
    for problem in problems[1:]:
        both = pc.binary_join_element_wise(joined, problem, "; ")  # NULL unless both hold one
        joined = pc.coalesce(both, joined, problem)
    return joined
