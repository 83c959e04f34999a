"""Pure pieces of FOCUS cost export reading: the canonical column set, the SQL that normalises a
batch of rows to it, manifests, and the rule that makes one run current.

Canonical columns are the union of the Cost Management FOCUS dataset versions (metadata from the
FinOps toolkit, in focus_metadata/), under their latest names (1.2-preview: `SkuMeter`,
`InvoiceId`, `PricingCurrency`); older spellings are read into them. Columns no version lists are
kept, as text, in the JSON object `x_ExtraColumns`. Types: Decimal and Number -> DECIMAL(38,18)
from the text or the Parquet decimal (never through a float), DateTime -> TIMESTAMP in UTC,
Boolean -> BOOLEAN, JSON -> VARCHAR holding valid JSON, String -> VARCHAR. Empty strings and the
placeholders in NULL_PLACEHOLDERS become NULL.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import cache
from pathlib import Path
from typing import Any

METADATA_DIR = Path(__file__).parent / "focus_metadata"
# Oldest first: a later version's type wins when versions disagree.
METADATA_FILES = (
    "FocusCost_1.0-preview-v1.json",
    "FocusCost_1.0.json",
    "FocusCost_1.2-preview.json",
)

# Older column name -> canonical (latest) name. Both may appear; the canonical one wins.
RENAMED_COLUMNS: dict[str, str] = {
    "x_SkuMeterName": "SkuMeter",
    "x_InvoiceId": "InvoiceId",
    "x_PricingCurrency": "PricingCurrency",
    "UsageQuantity": "ConsumedQuantity",  # 1.0-preview
    "UsageUnit": "ConsumedUnit",  # 1.0-preview
    "Region": "RegionName",  # 1.0-preview
}
NULL_PLACEHOLDERS = ("", "NULL", "null", "Null", "Unassigned", "unassigned")
EXTRA_COLUMNS = "x_ExtraColumns"
DECIMAL = "DECIMAL(38,18)"
SQL_TYPES = {
    "Decimal": DECIMAL,
    "Number": DECIMAL,
    "DateTime": "TIMESTAMP",
    "Boolean": "BOOLEAN",
    "JSON": "JSON",
    "String": "VARCHAR",
}
# Columns a cost row cannot do without; a data file lacking one is unreadable.
REQUIRED_COLUMNS = ("BilledCost", "BillingCurrency", "ChargePeriodStart")


class ExportError(ValueError):
    """A manifest or data file that cannot be used as it is; the message says why."""


@cache
def canonical_columns() -> dict[str, str]:
    """Canonical FOCUS column name -> SQL type, in a stable order (FOCUS columns, then x_)."""
    types: dict[str, str] = {}
    for name in METADATA_FILES:
        for column in json.loads((METADATA_DIR / name).read_text())["Columns"]:
            canonical = RENAMED_COLUMNS.get(column["ColumnName"], column["ColumnName"])
            # ConsumedUnit is listed as Decimal in the metadata but holds unit names.
            sql_type = "VARCHAR" if canonical.endswith("Unit") else SQL_TYPES[column["DataType"]]
            types[canonical] = sql_type
    ordered = sorted(types, key=lambda c: (c.startswith("x_"), c.lower()))
    return {c: types[c] for c in ordered}


@dataclass(frozen=True, eq=False)
class CostDataset:
    """A cost dataset as ingest lands it: its canonical columns (name -> SQL type, in landed
    order), the other spellings read into them, and which columns play which part. FOCUS
    (below) and Cost Management's native cost details (ingest.sources.cost_details) are two.
    Compared and hashed by identity (there is one object per dataset)."""

    name: str  # as the run bookkeeping says it: "focus", "cost_details"
    landed: str  # the landing folder of its rows
    columns: Mapping[str, str]
    renamed: Mapping[str, str]  # other spelling -> canonical name
    required: tuple[str, ...]  # a data file lacking one is not of this dataset
    case_insensitive: bool = False  # native exports spell columns PascalCase or lowerCamel
    date_formats: tuple[str, ...] = ()  # strptime formats tried before ISO-8601 (MM/DD/YYYY)
    # the columns ingest reads as it lands (totals, the run's accounts and period, meters)
    cost: str = "BilledCost"
    currency: str = "BillingCurrency"
    charge_start: str = "ChargePeriodStart"
    charge_end: str | None = "ChargePeriodEnd"  # None: a row is the day that starts at it
    billing_period_start: str = "BillingPeriodStart"
    billing_account: str = "BillingAccountId"
    sub_account: str = "SubAccountId"
    meter: tuple[str, str, str, str] = (  # name, category, subcategory, unit of measure
        "SkuMeter",
        "x_SkuMeterCategory",
        "x_SkuMeterSubcategory",
        "x_PricingUnitDescription",
    )

    def canonical(self, column: str) -> str:
        """The canonical name a source column is read into (itself when none)."""
        if self.case_insensitive:
            return self._lookup.get(column.lower(), column)
        return self.renamed.get(column, column)

    @property
    def _lookup(self) -> dict[str, str]:
        lookup = self.__dict__.get("_lookup_cache")
        if lookup is None:
            lookup = {c.lower(): c for c in self.columns}
            lookup.update({old.lower(): new for old, new in self.renamed.items()})
            object.__setattr__(self, "_lookup_cache", lookup)
        return lookup


FOCUS = CostDataset(
    name="focus",
    landed="focus_costs",
    columns=canonical_columns(),
    renamed=RENAMED_COLUMNS,
    required=REQUIRED_COLUMNS,
)


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


_INTEGER_TYPES = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT")
_INTEGER_TYPES += tuple("U" + t for t in _INTEGER_TYPES)
# ISO-8601 with minutes but no seconds (FOCUS 1.0 exports): seconds are added before casting.
_MINUTES_ONLY = r"'^(\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2})(Z|[+-]\d{2}:?\d{2})?$'"


def _decimal(text: str) -> str:
    """Exact text -> DECIMAL(38,18). DuckDB's own cast is exact but about 20 times slower when
    the integer part has several digits (it parses through 128-bit arithmetic digit by digit),
    so plain decimals are assembled from their integer part (a HUGEINT) and their fraction
    (`0.xxx`, which casts fast); anything else (exponents) takes the plain cast."""
    plain = r"'[+-]?[0-9]+(\.[0-9]*)?'"
    integer = f"try_cast(try_cast(ltrim(split_part({text}, '.', 1), '+-') as HUGEINT) as {DECIMAL})"
    fraction = f"coalesce(try_cast('0.' || nullif(split_part({text}, '.', 2), '') as {DECIMAL}), 0)"
    sign = f"(case when starts_with({text}, '-') then -1 else 1 end)"
    return (
        f"case when regexp_full_match({text}, {plain}) then {sign} * ({integer} + {fraction}) "
        f"else try_cast({text} as {DECIMAL}) end"
    )


def _typed(text: str, sql_type: str, date_formats: tuple[str, ...] = ()) -> tuple[str, str] | None:
    """(expression casting a text column to sql_type, what is wrong when it fails), or None
    when the text is the value (VARCHAR). Dates and times are ISO-8601, or one of
    `date_formats` (strptime; read as UTC)."""
    if sql_type == DECIMAL:
        return _decimal(text), "is not a decimal number"
    if sql_type == "TIMESTAMP":
        fixed = f"regexp_replace({text}, {_MINUTES_ONLY}, '\\1:00\\2')"
        iso = f"timezone('UTC', try_cast({fixed} as TIMESTAMPTZ))"
        if date_formats:
            formats = "[" + ", ".join(_literal(f) for f in date_formats) + "]"
            iso = f"coalesce(try_strptime({text}, {formats}), {iso})"
        return iso, "is not a date and time"
    if sql_type == "BOOLEAN":
        return f"try_cast(lower({text}) as BOOLEAN)", "is not true or false"
    if sql_type == "JSON":
        return f"case when json_valid({text}) then {text} end", "is not valid JSON"
    return None


def _native(source: str, source_type: str, sql_type: str) -> str | None:
    """The expression for a column already stored in a usable type (Parquet), else None."""
    kind = source_type.upper()
    if sql_type == DECIMAL and (kind.startswith("DECIMAL") or kind in _INTEGER_TYPES):
        return f"cast({source} as {DECIMAL})"  # exact: never through a float
    if sql_type == "TIMESTAMP" and kind.startswith("TIMESTAMP WITH TIME ZONE"):
        return f"timezone('UTC', {source})"
    if sql_type == "TIMESTAMP" and kind.startswith("TIMESTAMP"):
        return f"cast({source} as TIMESTAMP)"  # Parquet INT96 and timestamps are UTC
    if sql_type == "BOOLEAN" and kind == "BOOLEAN":
        return source
    return None


@dataclass(frozen=True)
class ColumnSql:
    """How one canonical column is made from its source column(s), in normalise_sql's steps:
    `text` (select item of `texts`: trimmed text, placeholders to NULL; a native column as
    itself), `typed` (select item of `typed`, reading `texts`) and `problem` (expression on
    `typed` saying why a value was refused, NULL when it was not; None when nothing can be)."""

    text: str
    typed: str
    problem: str | None


def column_sql(
    name: str, sources: list[str], source_type: str, dataset: CostDataset = FOCUS
) -> ColumnSql:
    """The SQL making canonical column `name` of `dataset` from `sources` (quoted column
    names, the canonical spelling first; `source_type` is the DuckDB type of the first)."""
    sql_type = dataset.columns[name]
    column = _quote(name)
    source = sources[0] if len(sources) == 1 else "coalesce(" + ", ".join(sources) + ")"
    native = _native(source, source_type, sql_type)
    if native is not None:
        return ColumnSql(f"{native} as {column}", column, None)
    # text: trimmed, placeholders to NULL; of several spellings the first that has a value
    placeholders = ", ".join(_literal(p) for p in NULL_PLACEHOLDERS)
    text_column = _quote("text:" + name)
    cleaned = [
        f"case when trim(cast({s} as varchar)) in ({placeholders}) then null "
        f"else trim(cast({s} as varchar)) end"
        for s in sources
    ]
    text = cleaned[0] if len(cleaned) == 1 else "coalesce(" + ", ".join(cleaned) + ")"
    cast = _typed(text_column, sql_type, dataset.date_formats)
    if cast is None:
        return ColumnSql(f"{text} as {text_column}", f"{text_column} as {column}", None)
    expression, what = cast
    shown = f"'''' || left({text_column}, 60) || ''''"  # the value in quotes, at most 60 chars
    return ColumnSql(
        f"{text} as {text_column}",
        f"{text_column}, {expression} as {column}",
        f"case when {text_column} is not null and {column} is null then "
        f"{_literal(name + ' ')} || {shown} || {_literal(' ' + what)} end",
    )


def values_sql(
    relation: str, name: str, columns: list[str], source_type: str, dataset: CostDataset = FOCUS
) -> str:
    """SQL normalising canonical column `name` from `columns` of `relation` (its spellings, the
    canonical first; `source_type` the DuckDB type of the first): returns `value` (typed) and
    `problem` (as in normalise_sql's row_problem), a row for each row of `relation`."""
    sql = column_sql(name, [_quote(c) for c in columns], source_type, dataset)
    return (
        f"with texts as (select {sql.text} from {relation}),\n"
        f"typed as (select {sql.typed} from texts)\n"
        f"select {_quote(name)} as value, {sql.problem or 'null'} as problem from typed"
    )


def extra_columns_sql(columns: Iterable[str]) -> str:
    """The `x_ExtraColumns` expression: columns no FOCUS version lists, as a JSON object."""
    pairs = ", ".join(f"{_literal(c)}: cast({_quote(c)} as varchar)" for c in columns)
    return f"cast(to_json({{{pairs}}}) as varchar)"


def sources_by_column(columns: Iterable[str], dataset: CostDataset = FOCUS) -> dict[str, list[str]]:
    """Canonical column -> the source columns that hold it, the canonical spelling first (it
    wins over an old one). Columns the dataset does not list map to themselves."""
    by_canonical: dict[str, list[str]] = {}
    for column in columns:
        canonical = dataset.canonical(column)
        first = canonical == column or (
            dataset.case_insensitive and canonical.lower() == column.lower()
        )
        by_canonical.setdefault(canonical, []).insert(0 if first else 1 << 30, column)
    return by_canonical


def normalise_sql(
    relation: str, source_types: Mapping[str, str], dataset: CostDataset = FOCUS
) -> str:
    """SQL (DuckDB) that reads `relation` (columns as found in one data file, with DuckDB types)
    and returns the canonical columns, plus `x_ExtraColumns`, `source_row` (kept from the
    relation) and `row_problem` (why the row cannot be used, NULL when it can).

    The whole rule in one statement: ingest applies the same column_sql pieces column by column
    (ingest.focus_columns), and a test holds the two to the same result. Three steps, so that
    every expression stays small: `texts` trims each text column and turns placeholders into
    NULL; `typed` casts; the final select names what failed to cast."""
    by_canonical = sources_by_column((c for c in source_types if c != "source_row"), dataset)
    known = dataset.columns
    texts: list[str] = []
    typed: list[str] = []
    final: list[str] = []
    problems: list[str] = []
    for name, sql_type in known.items():
        sources = by_canonical.get(name, [])
        if not sources:
            empty_type = "VARCHAR" if sql_type == "JSON" else sql_type
            final.append(f"cast(null as {empty_type}) as {_quote(name)}")
            continue
        sql = column_sql(name, [_quote(s) for s in sources], source_types[sources[0]], dataset)
        texts.append(sql.text)
        typed.append(sql.typed)
        final.append(_quote(name))
        if sql.problem:
            problems.append(sql.problem)
    extra = [c for c in by_canonical if c not in known]
    if extra:
        texts += [_quote(c) for c in extra]
        typed += [_quote(c) for c in extra]
        final.append(f"{extra_columns_sql(extra)} as {EXTRA_COLUMNS}")
    else:
        final.append(f"cast(null as varchar) as {EXTRA_COLUMNS}")
    problem_sql = "nullif(concat_ws('; ', " + ", ".join(problems) + "), '')" if problems else "null"
    sep = ",\n        "
    return (
        f"with texts as (\n    select source_row, {sep.join(texts) or 'null as none'}\n"
        f"    from {relation}\n),\ntyped as (\n"
        f"    select source_row, {sep.join(typed) or 'null as none'}\n    from texts\n)\n"
        f"select {sep.join(final)},\n    source_row,\n    {problem_sql} as row_problem\n"
        "from typed"
    )


def missing_required(columns: Iterable[str], dataset: CostDataset = FOCUS) -> list[str]:
    present = {dataset.canonical(c) for c in columns}
    return [c for c in dataset.required if c not in present]


def _parse_time(value: Any) -> datetime | None:
    """Manifest times: ISO-8601, zone optional (UTC when absent)."""
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError as exc:
        raise ExportError(f"manifest time is not ISO-8601: {value!r}") from exc
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


@dataclass(frozen=True)
class ManifestBlob:
    name: str
    byte_count: int | None
    row_count: int | None


@dataclass(frozen=True)
class Manifest:
    """What a Cost Management export manifest says about its run."""

    export_name: str | None
    scope: str | None  # exportConfig.resourceId, lower-cased
    dataset_type: str | None
    dataset_version: str | None
    time_frame: str | None
    file_format: str | None
    run_id: str | None
    submitted_at: datetime | None
    start_date: datetime | None
    end_date: datetime | None
    row_count: int | None
    blob_count: int | None
    blobs: tuple[ManifestBlob, ...]

    @classmethod
    def parse(cls, content: bytes) -> Manifest:
        try:
            doc = json.loads(content.decode("utf-8-sig"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ExportError(f"manifest is not valid JSON: {exc}") from exc
        if not isinstance(doc, dict):
            raise ExportError("manifest is not a JSON object")
        export = doc.get("exportConfig") or {}
        delivery = doc.get("deliveryConfig") or {}
        run = doc.get("runInfo") or {}
        blobs = doc.get("blobs")
        if not isinstance(blobs, list):
            raise ExportError("manifest has no 'blobs' list")
        parsed_blobs = []
        for i, blob in enumerate(blobs):
            if not isinstance(blob, dict) or not blob.get("blobName"):
                raise ExportError(f"manifest blobs[{i}] has no blobName")
            parsed_blobs.append(
                ManifestBlob(blob["blobName"], blob.get("byteCount"), blob.get("dataRowCount"))
            )
        scope = export.get("resourceId")
        return cls(
            export_name=export.get("exportName"),
            scope=scope.lower() if isinstance(scope, str) else None,
            dataset_type=export.get("type"),
            dataset_version=export.get("dataVersion"),
            time_frame=export.get("timeFrame"),
            file_format=delivery.get("fileFormat"),
            run_id=run.get("runId"),
            submitted_at=_parse_time(run.get("submittedTime")),
            start_date=_parse_time(run.get("startDate")),
            end_date=_parse_time(run.get("endDate")),
            row_count=doc.get("dataRowCount"),
            blob_count=doc.get("blobCount"),
            blobs=tuple(parsed_blobs),
        )

    @property
    def billing_month(self) -> date | None:
        return self.start_date.date().replace(day=1) if self.start_date else None


def snake_case(column: str, sql_type: str | None = None) -> str:
    """FOCUS column -> warehouse column: `ChargePeriodStart` -> `charge_period_start_at`,
    `x_SkuMeterId` -> `x_sku_meter_id` (timestamps get `_at`, the `x_` prefix stays)."""
    prefix, name = ("x_", column[2:]) if column.startswith("x_") else ("", column)
    out = []
    for i, char in enumerate(name):
        if (
            char.isupper()
            and i
            and (not name[i - 1].isupper() or (i + 1 < len(name) and name[i + 1].islower()))
        ):
            out.append("_")
        out.append(char.lower())
    snake = prefix + "".join(out)
    if sql_type == "TIMESTAMP":
        snake = snake.removesuffix("_date") + "_at" if snake.endswith("_date") else snake + "_at"
    return snake


def staging_sql() -> str:
    """The body of models/staging/focus/stg_focus__costs.sql (generated; a test keeps it so)."""
    columns = canonical_columns()
    renames = ",\n".join(
        f"        source.{_quote(c)} as {snake_case(c, t)}" for c, t in columns.items()
    )
    return f"""{{#
    Generated by `python -m ingest.sources.focus` from the canonical FOCUS columns: do not edit.
    Rows of every landed export run (int_export_runs_current says which run counts for each
    export scope and billing month); FOCUS names in snake_case, timestamps (UTC) ending in _at.
#}}
-- noqa: disable=RF06,CP02
-- (landed columns keep their FOCUS spelling, quoted; this model renames them)
with

source as (

    select * from {{{{ source('focus', 'costs') }}}}

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


@cache
def column_descriptions() -> dict[str, str]:
    """Canonical column -> description, from the newest metadata that describes it."""
    descriptions: dict[str, str] = {}
    for name in METADATA_FILES:
        for column in json.loads((METADATA_DIR / name).read_text())["Columns"]:
            canonical = RENAMED_COLUMNS.get(column["ColumnName"], column["ColumnName"])
            text = " ".join(str(column.get("Description") or "").split())
            if text:
                descriptions[canonical] = text
    return descriptions


def staging_columns_yml() -> str:
    """The columns block of stg_focus__costs in models/staging/focus/_focus__models.yml."""
    descriptions = column_descriptions()
    old_names = {new: old for old, new in RENAMED_COLUMNS.items()}
    lines = [
        "      - name: run_key",
        "        description: Export run the row came from (its runInfo.runId, or file-<hash> for a"
        " loose file).",
        "        data_tests: [not_null]",
        "      - name: source_uri",
        "        description: Data file the row was read from.",
        "      - name: source_row",
        "        description: 1-based row of the data file (header excluded).",
    ]
    for column, sql_type in canonical_columns().items():
        text = descriptions.get(column, "Not described by the FOCUS metadata.")
        if column in old_names:
            text += f" (FOCUS `{column}`; read from `{old_names[column]}` in older exports.)"
        else:
            text += f" (FOCUS `{column}`.)"
        lines.append(f"      - name: {snake_case(column, sql_type)}")
        lines.append("        description: " + json.dumps(text))
    lines.append(f"      - name: {snake_case(EXTRA_COLUMNS)}")
    lines.append(
        "        description: Columns of the export that no FOCUS dataset version lists, as a JSON"
        " object of text values (for example the sample's `Id`)."
    )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    import sys

    print(staging_columns_yml() if "--yml" in sys.argv else staging_sql(), end="")
