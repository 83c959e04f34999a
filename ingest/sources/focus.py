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


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _column_sql(
    name: str, sql_type: str, source_type: str | None, sources: list[str]
) -> tuple[str, str | None]:
    """(value expression, problem expression or None) for one canonical column."""
    if not sources:
        return f"cast(null as {'VARCHAR' if sql_type == 'JSON' else sql_type})", None
    src = sources[0] if len(sources) == 1 else "coalesce(" + ", ".join(sources) + ")"
    text = (
        "case when trim(cast("
        + src
        + " as varchar)) in ("
        + ", ".join(_literal(p) for p in NULL_PLACEHOLDERS)
        + ") then null else trim(cast("
        + src
        + " as varchar)) end"
    )
    kind = (source_type or "VARCHAR").upper()
    if sql_type == DECIMAL:
        if kind.startswith("DECIMAL") or kind in (
            "BIGINT",
            "INTEGER",
            "SMALLINT",
            "TINYINT",
            "HUGEINT",
        ):
            return f"cast({src} as {DECIMAL})", None
        value = f"try_cast({text} as {DECIMAL})"
        what = "is not a decimal number"
    elif sql_type == "TIMESTAMP":
        if kind.startswith("TIMESTAMP WITH TIME ZONE"):
            return f"timezone('UTC', {src})", None
        if kind.startswith("TIMESTAMP"):
            return f"cast({src} as TIMESTAMP)", None
        # ISO-8601 with or without seconds, with or without a zone (UTC when none).
        minutes_only = r"'^(\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2})(Z|[+-]\d{2}:?\d{2})?$'"
        fixed = f"regexp_replace({text}, {minutes_only}, '\\1:00\\2')"
        value = f"timezone('UTC', try_cast({fixed} as TIMESTAMPTZ))"
        what = "is not a date and time"
    elif sql_type == "BOOLEAN":
        if kind == "BOOLEAN":
            return src, None
        value = f"try_cast(lower({text}) as BOOLEAN)"
        what = "is not true or false"
    elif sql_type == "JSON":
        value = f"case when json_valid({text}) then {text} end"
        what = "is not valid JSON"
    else:
        return text, None
    shown = f" || left({text}, 60) || "  # the value, quoted, cut at 60 characters
    problem = (
        f"case when {text} is not null and {value} is null then "
        f"{_literal(name + ' ')} || {shown} || {_literal(' ' + what)} end"
    )
    return value, problem


def normalise_sql(relation: str, source_types: Mapping[str, str]) -> str:
    """SQL (DuckDB) that reads `relation` (columns as found in one data file, with DuckDB types)
    and returns the canonical columns, plus `x_ExtraColumns`, `source_row` (kept from the
    relation) and `row_problem` (why the row cannot be used, NULL when it can)."""
    by_canonical: dict[str, list[str]] = {}
    for column in source_types:
        if column == "source_row":
            continue
        canonical = RENAMED_COLUMNS.get(column, column)
        # the canonical spelling first, so it wins over an old one in coalesce
        by_canonical.setdefault(canonical, []).insert(0 if canonical == column else 1 << 30, column)
    known = canonical_columns()
    selects: list[str] = []
    problems: list[str] = []
    for name, sql_type in known.items():
        sources = by_canonical.get(name, [])
        value, problem = _column_sql(
            name,
            sql_type,
            source_types.get(sources[0]) if sources else None,
            [_quote(s) for s in sources],
        )
        selects.append(f"{value} as {_quote(name)}")
        if problem:
            problems.append(problem)
    extra = [c for c in by_canonical if c not in known]
    if extra:
        pairs = ", ".join(f"{_literal(c)}: cast({_quote(c)} as varchar)" for c in extra)
        selects.append(f"cast(to_json({{{pairs}}}) as varchar) as {EXTRA_COLUMNS}")
    else:
        selects.append(f"cast(null as varchar) as {EXTRA_COLUMNS}")
    problem_sql = "nullif(concat_ws('; ', " + ", ".join(problems) + "), '')" if problems else "null"
    return (
        "select "
        + ",\n    ".join(selects)
        + ",\n    source_row,\n    "
        + problem_sql
        + " as row_problem\nfrom "
        + relation
    )


def missing_required(columns: Iterable[str]) -> list[str]:
    present = {RENAMED_COLUMNS.get(c, c) for c in columns}
    return [c for c in REQUIRED_COLUMNS if c not in present]


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


@dataclass(frozen=True)
class RunFacts:
    """What the current-run rule needs to know of a run."""

    run_key: str
    scope: str
    billing_month: date | None
    status: str  # complete | empty | incomplete
    rows: int
    end_date: datetime | None
    submitted_at: datetime | None


def choose_current(runs: Iterable[RunFacts]) -> dict[str, tuple[bool, str | None]]:
    """Exactly one current run per (scope, billing month): runs are cumulative, so appending
    them multiplies cost. Among complete runs the winner covers the latest end date (a shorter
    custom run does not replace a fuller one), then was submitted last; an empty run never
    replaces a run with rows. Incomplete runs are never current.
    Returns run_key -> (is_current, why not current)."""
    result: dict[str, tuple[bool, str | None]] = {}
    groups: dict[tuple[str, date | None], list[RunFacts]] = {}
    for run in runs:
        if run.status == "incomplete":
            result[run.run_key] = (False, "incomplete")
            continue
        groups.setdefault((run.scope, run.billing_month), []).append(run)
    oldest = datetime.min.replace(tzinfo=UTC)
    for group in groups.values():
        ranked = sorted(
            group,
            key=lambda r: (r.rows > 0, r.end_date or oldest, r.submitted_at or oldest, r.run_key),
            reverse=True,
        )
        winner = ranked[0]
        result[winner.run_key] = (True, None)
        for run in ranked[1:]:
            if run.rows == 0 and winner.rows > 0:
                why = f"empty run; {winner.run_key} has rows"
            elif (run.end_date or oldest) < (winner.end_date or oldest):
                why = f"covers a shorter period than {winner.run_key}"
            else:
                why = f"superseded by {winner.run_key}, submitted later"
            result[run.run_key] = (False, why)
    return result
