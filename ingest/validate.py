"""`ingest validate`: Great Expectations suites on the meter mappings and the reconciliation.

Runs against the built warehouse (read-only). Frames are read with DuckDB and validated as
pandas DataFrames (Great Expectations 1.x cannot validate DuckDB tables through SQLAlchemy).

Suites (failures of the first four fail the run; the last one only warns):
  meter_catalogue    one entry per meter; attributes in their allowed sets; block size
                     consistent with the pricing unit
  billed_meters      every meter the bills use as Azure OpenAI is classified (by the catalogue
                     or the parser): an unclassified one fails, named
  billed_prices      the export's ListUnitPrice lies within the catalogue's regional prices of
                     the meter (which fix model and deployment type), within a tolerance
  reconciliation     quantities and costs are not negative; statuses are known
  ratio_warnings     billed/API ratios outside configurable bounds (warnings)
"""

from __future__ import annotations

import json
import logging
import warnings
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb

from ingest.sources import meters

# The meter attributes the parser may produce (ingest.sources.meters), so the suite checks the
# same vocabulary the catalogue was built with.
ALLOWED = {
    "modality": list(meters.MODALITIES),
    "direction": list(meters.DIRECTIONS),
    "deployment_type": list(meters.DEPLOYMENT_TYPES),
    "service_tier": list(meters.SERVICE_TIERS),
    "workload": list(meters.WORKLOADS),
    "pricing_unit": list(meters.PRICING_UNITS),
    "scope": list(meters.SCOPES),
}
UNIT_BLOCKS = [f"{unit}:{block}" for unit, blocks in meters.UNIT_BLOCKS.items() for block in blocks]


@dataclass
class Check:
    suite: str
    expectation: str
    column: str | None
    success: bool
    severity: str  # error | warning
    unexpected_count: int | None = None
    examples: list[Any] = field(default_factory=list)


@dataclass
class Report:
    checks: list[Check]
    results_path: Path | None = None

    @property
    def failures(self) -> list[Check]:
        return [c for c in self.checks if not c.success and c.severity == "error"]

    @property
    def warnings(self) -> list[Check]:
        return [c for c in self.checks if not c.success and c.severity == "warning"]


def _frames(warehouse: Path) -> dict[str, Any]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return {
            "meter_catalogue": con.sql(
                f"select meter_key, meter_name, {', '.join(ALLOWED)}, "
                "block_size, pricing_unit || ':' || block_size as unit_block "
                "from seeds.azure_openai_meters"
            ).df(),
            "billed_meters": con.sql(
                "select meter_key, meter_source from marts.dim_meters where is_billed"
            ).df(),
            # a regional price may differ from the most common one: the export's price is
            # compared with the catalogue's range (min..max over regions) of the same meter
            "billed_prices": con.sql(
                """select billed.meter_name, billed.charge_date, billed.list_unit_price,
                    catalogue.unit_price_min_usd, catalogue.unit_price_max_usd,
                    cast(case
                        when billed.list_unit_price < catalogue.unit_price_min_usd
                            then billed.list_unit_price / catalogue.unit_price_min_usd
                        when billed.list_unit_price > catalogue.unit_price_max_usd
                            then billed.list_unit_price / catalogue.unit_price_max_usd
                        else 1
                    end as double) as price_ratio
                from marts.fct_billed_usage as billed
                inner join seeds.azure_openai_meters as catalogue
                    on lower(billed.meter_name) = catalogue.meter_key
                where billed.billing_currency = 'USD' and billed.list_unit_price > 0
                    and catalogue.unit_price_min_usd > 0"""
            ).df(),
            # the non-negative checks judge the meters Realtime logs explain: an out-of-scope
            # meter's correction may bill a negative amount and is never a validation failure
            "reconciliation": con.sql(
                """select meter_name, usage_date, reconciliation_status,
                    cast(billed_to_api_ratio as double) as billed_to_api_ratio,
                    {checked}
                from marts.fct_meter_reconciliation""".format(
                    checked=", ".join(
                        f"case when reconciliation_status != 'out_of_scope' "
                        f"then cast({c} as double) end as {c}"
                        for c in (
                            "api_quantity",
                            "billed_quantity",
                            "billed_cost",
                            "api_cost_estimate",
                        )
                    )
                )
            ).df(),
            "classified_keys": [
                row[0]
                for row in con.sql(
                    "select meter_key from marts.dim_meters where meter_source != 'unclassified'"
                ).fetchall()
            ],
        }


def _suites(gx, frames: dict[str, Any], price_tolerance: float, ratio_bounds: tuple[float, float]):
    E = gx.expectations
    return {
        "meter_catalogue": (
            "error",
            [
                E.ExpectColumnValuesToBeUnique(column="meter_key"),
                E.ExpectColumnValuesToNotBeNull(column="meter_key"),
                *[E.ExpectColumnValuesToBeInSet(column=c, value_set=v) for c, v in ALLOWED.items()],
                E.ExpectColumnValuesToBeInSet(column="unit_block", value_set=UNIT_BLOCKS),
            ],
        ),
        "billed_meters": (
            "error",
            [
                E.ExpectColumnValuesToBeInSet(
                    column="meter_key", value_set=frames["classified_keys"]
                ),
            ],
        ),
        "billed_prices": (
            "error",
            [
                E.ExpectColumnValuesToBeBetween(
                    column="price_ratio",
                    min_value=1 - price_tolerance,
                    max_value=1 + price_tolerance,
                ),
            ],
        ),
        "reconciliation": (
            "error",
            [
                *[
                    E.ExpectColumnValuesToBeBetween(column=c, min_value=0)
                    for c in ("api_quantity", "billed_quantity", "billed_cost", "api_cost_estimate")
                ],
                E.ExpectColumnValuesToBeInSet(
                    column="reconciliation_status",
                    value_set=[
                        "matched",
                        "over_billed",
                        "under_billed",
                        "billed_without_usage",
                        "usage_without_billing",
                        "out_of_scope",
                        "unmapped_meter",
                        "unlinked_usage",
                    ],
                ),
            ],
        ),
        "ratio_warnings": (
            "warning",
            [
                E.ExpectColumnValuesToBeBetween(
                    column="billed_to_api_ratio",
                    min_value=ratio_bounds[0],
                    max_value=ratio_bounds[1],
                ),
            ],
        ),
    }


FRAME_OF = {"ratio_warnings": "reconciliation"}


def validate(
    warehouse: Path,
    results_dir: Path | None,
    price_tolerance: float = 0.01,
    ratio_bounds: tuple[float, float] = (0.8, 1.25),
) -> Report:
    logging.getLogger("great_expectations").setLevel(logging.ERROR)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import great_expectations as gx

        frames = _frames(warehouse)
        context = gx.get_context(mode="ephemeral")
        from great_expectations.data_context.types.base import ProgressBarsConfig

        # one line per check is the report: no metric progress bars, terminal or not
        context.variables.progress_bars = ProgressBarsConfig(globally=False)
        source = context.data_sources.add_pandas("tokenrecon")
        checks: list[Check] = []
        raw: dict[str, Any] = {}
        for name, (severity, expectations) in _suites(
            gx, frames, price_tolerance, ratio_bounds
        ).items():
            frame = frames[FRAME_OF.get(name, name)]
            asset = source.add_dataframe_asset(name=name)
            batch = asset.add_batch_definition_whole_dataframe(name).get_batch(
                batch_parameters={"dataframe": frame}
            )
            suite = context.suites.add(gx.ExpectationSuite(name=name))
            for expectation in expectations:
                suite.add_expectation(expectation)
            result = batch.validate(suite, result_format="COMPLETE")
            raw[name] = result.to_json_dict()
            for item in result.results:
                config = item.expectation_config
                details = item.result or {}
                checks.append(
                    Check(
                        suite=name,
                        expectation=config.type,
                        column=config.kwargs.get("column"),
                        success=bool(item.success),
                        severity=severity,
                        unexpected_count=details.get("unexpected_count"),
                        examples=list(
                            dict.fromkeys(str(v) for v in details.get("unexpected_list") or [])
                        )[:10],
                    )
                )
    report = Report(checks)
    if results_dir is not None:
        results_dir.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        report.results_path = results_dir / f"validation-{stamp}.json"
        report.results_path.write_text(
            json.dumps(
                {
                    "run_at": stamp,
                    "warehouse": str(warehouse),
                    "success": not report.failures,
                    "failures": len(report.failures),
                    "warnings": len(report.warnings),
                    "suites": raw,
                },
                indent=1,
                default=str,
            )
        )
    return report


def render(report: Report) -> str:
    """A readable report: one line per check, failures and warnings with their examples."""
    lines = []
    for check in report.checks:
        mark = "ok  " if check.success else ("FAIL" if check.severity == "error" else "warn")
        what = f"{check.suite}: {check.expectation}" + (f"({check.column})" if check.column else "")
        line = f"{mark} {what}"
        if not check.success:
            line += f" - {check.unexpected_count} unexpected"
            if check.examples:
                line += ": " + ", ".join(check.examples)
        lines.append(line)
    lines.append(
        f"validate: {len(report.checks)} checks, {len(report.failures)} failed, "
        f"{len(report.warnings)} warnings"
        + (f"; results in {report.results_path}" if report.results_path else "")
    )
    return "\n".join(lines)
