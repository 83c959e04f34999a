"""`ingest report`: a compact reconciliation summary for the terminal and a self-contained HTML
report (no network: styles, charts and the one script are inline; charts are SVG drawn here).

Sections: billed vs API tokens per meter and day; billed/API ratio over time; expected vs billed
cost; hypothesis fit and the fitted formula; unmapped meters and unlinked usage; export run
history. Reads the marts of the built warehouse, read-only.
"""

from __future__ import annotations

import html
from collections import defaultdict
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb

WIDTH, HEIGHT, PAD = 560, 180, 36
COLOURS = ("#1f6feb", "#d1495b", "#2a9d8f", "#e9c46a", "#6d597a", "#f4a261")


def _rows(con: duckdb.DuckDBPyConnection, sql: str) -> list[dict[str, Any]]:
    rel = con.sql(sql)
    return [dict(zip(rel.columns, row, strict=True)) for row in rel.fetchall()]


def _esc(value: Any) -> str:
    return html.escape("" if value is None else str(value))


def line_chart(title: str, series: dict[str, list[tuple[str, float]]]) -> str:
    """An SVG line chart: x = ordered labels (days), one polyline per series."""
    labels = sorted({x for points in series.values() for x, _ in points})
    values = [y for points in series.values() for _, y in points]
    top = max([*values, 1.0])
    step = (WIDTH - 2 * PAD) / max(len(labels) - 1, 1)
    index = {label: i for i, label in enumerate(labels)}
    parts = [
        f'<svg class="chart" role="img" aria-label="{_esc(title)}" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'width="{WIDTH}" height="{HEIGHT}"><title>{_esc(title)}</title>',
        f'<line x1="{PAD}" y1="{HEIGHT - PAD}" x2="{WIDTH - PAD}" y2="{HEIGHT - PAD}" class="axis"/>',
        f'<text x="{PAD}" y="14" class="label">max {top:,.4g}</text>',
    ]
    for n, (name, points) in enumerate(sorted(series.items())):
        coords = " ".join(
            f"{PAD + index[x] * step:.1f},{HEIGHT - PAD - (y / top) * (HEIGHT - 2 * PAD):.1f}"
            for x, y in sorted(points)
        )
        colour = COLOURS[n % len(COLOURS)]
        if len(points) == 1:
            x, y = coords.split(",")
            parts.append(f'<circle cx="{x}" cy="{y}" r="4" fill="{colour}"/>')
        else:
            parts.append(
                f'<polyline points="{coords}" fill="none" stroke="{colour}" stroke-width="2"/>'
            )
        parts.append(
            f'<text x="{WIDTH - PAD - 150}" y="{16 + 14 * n}" style="fill:{colour}" class="label">'
            f"{_esc(name)}</text>"
        )
    if labels:
        parts.append(f'<text x="{PAD}" y="{HEIGHT - 10}" class="label">{_esc(labels[0])}</text>')
        parts.append(
            f'<text x="{WIDTH - PAD - 70}" y="{HEIGHT - 10}" class="label">{_esc(labels[-1])}</text>'
        )
    return "".join(parts) + "</svg>"


def bar_chart(title: str, groups: list[tuple[str, dict[str, float]]]) -> str:
    """An SVG grouped bar chart: one group per label, one bar per series."""
    names = sorted({name for _, bars in groups for name in bars})
    top = max([v for _, bars in groups for v in bars.values()] + [1e-12])
    height = max(HEIGHT, 26 * len(groups) + 40)
    parts = [
        f'<svg class="chart" role="img" aria-label="{_esc(title)}" viewBox="0 0 {WIDTH + 260} {height}" '
        f'width="{WIDTH + 260}" height="{height}"><title>{_esc(title)}</title>'
    ]
    for row, (label, bars) in enumerate(groups):
        y = 30 + row * 26
        parts.append(f'<text x="0" y="{y + 10}" class="label">{_esc(label[:42])}</text>')
        for n, name in enumerate(names):
            width = (bars.get(name, 0) / top) * (WIDTH - 60)
            parts.append(
                f'<rect x="260" y="{y + n * (20 / len(names))}" width="{width:.1f}" '
                f'height="{20 / len(names) - 1:.1f}" fill="{COLOURS[n % len(COLOURS)]}"/>'
            )
    for n, name in enumerate(names):
        parts.append(
            f'<text x="{260 + 150 * n}" y="14" style="fill:{COLOURS[n % len(COLOURS)]}" class="label">'
            f"{_esc(name)}</text>"
        )
    return "".join(parts) + "</svg>"


def table(rows: list[dict[str, Any]], columns: list[str]) -> str:
    if not rows:
        return '<p class="empty">none</p>'
    head = "".join(f"<th>{_esc(c)}</th>" for c in columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{_esc(_fmt(r.get(c)))}</td>" for c in columns) + "</tr>"
        for r in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _fmt(value: Any) -> Any:
    if isinstance(value, Decimal):
        return f"{value.normalize():f}" if value != 0 else "0"
    if isinstance(value, float):
        return f"{value:,.4g}"
    return value


def collect(warehouse: Path) -> dict[str, Any]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return {
            "reconciliation": _rows(
                con,
                "select usage_date, resource_name, meter_name, usage_field, pricing_unit, "
                "api_quantity, api_quantity_including_cached, billed_quantity, "
                "billed_to_api_ratio, api_cost_estimate, billed_cost, billing_currency, "
                "reconciliation_status "
                "from marts.fct_meter_reconciliation order by usage_date, meter_name",
            ),
            # per meter and billing currency: money is never added across currencies
            "summary": _rows(
                con,
                "select min(meter_name) as meter_name, min(pricing_unit) as unit, "
                "sum(api_quantity) as api_quantity, "
                "sum(api_quantity_including_cached) as api_incl_cached, "
                "sum(billed_quantity) as billed_quantity, "
                "round(sum(billed_quantity) / nullif(sum(api_quantity_including_cached), 0), 2) "
                "as ratio, sum(api_cost_estimate) as expected_cost, sum(billed_cost) as billed_cost, "
                "billing_currency as currency, "
                "string_agg(distinct reconciliation_status, ', ') as statuses "
                "from marts.fct_meter_reconciliation "
                "where not is_unlinked_usage and reconciliation_status != 'out_of_scope' "
                "group by lower(meter_name), billing_currency "
                "order by sum(billed_quantity) desc nulls last",
            ),
            "bill": _rows(
                con,
                "select billing_currency, sum(export_rows) as export_rows, "
                "sum(export_billed_cost) as export_billed_cost, "
                "sum(warehouse_billed_cost) as warehouse_billed_cost, "
                "sum(azure_openai_in_scope_cost) as realtime_in_scope, "
                "sum(azure_openai_out_of_scope_cost) as azure_openai_out_of_scope, "
                "sum(azure_openai_unmapped_cost) as azure_openai_unmapped, "
                "sum(other_service_cost) as other_services, sum(credit_cost) as credits, "
                "sum(adjustment_cost) as adjustments, sum(purchase_cost) as purchases, "
                "sum(tax_cost) as taxes, sum(other_charge_cost) as other_charges, "
                "bool_and(is_balanced) as adds_up "
                "from marts.fct_export_run_totals group by billing_currency order by 1",
            ),
            "out_of_scope": _rows(
                con,
                "select meter_name, model, pricing_unit, sum(billed_quantity) as billed_quantity, "
                "sum(billed_cost) as billed_cost, billing_currency, count(*) as days "
                "from marts.fct_meter_reconciliation where reconciliation_status = 'out_of_scope' "
                "group by meter_name, model, pricing_unit, billing_currency "
                "order by sum(billed_cost) desc nulls last",
            ),
            "hypotheses": _rows(
                con,
                "select hypothesis, sum(abs(residual_tokens)) as abs_residual_tokens, "
                "count(*) filter (where is_best_for_meter) as best_for_meter_days "
                "from marts.fct_reconciliation_hypotheses group by hypothesis "
                "order by abs_residual_tokens",
            ),
            "formula": _rows(
                con,
                "select distinct meter_name, formula, r_squared, observations, features_fitted "
                "from marts.fct_reconciliation_formula order by meter_name",
            ),
            "unmapped": _rows(
                con,
                "select meter_name, reconciliation_status, pricing_unit, "
                "sum(billed_quantity) as billed_quantity, sum(api_quantity) as api_quantity, "
                "count(*) as days "
                "from marts.fct_meter_reconciliation "
                "where reconciliation_status in ('unmapped_meter', 'unlinked_usage') group by all "
                "order by 1",
            ),
            "quality": _rows(
                con,
                "select check_name, check_date, resource_name, subject, affected_records, "
                "consequence from marts.fct_data_quality order by check_name, check_date",
            ),
            "runs": _rows(
                con,
                "select run_key, export_name, billing_month, submitted_at, run_status, "
                "rows_landed, is_current, not_current_reason "
                "from marts.dim_export_runs order by submitted_at",
            ),
        }


def summary_text(data: dict[str, Any]) -> str:
    """The terminal summary: one line per meter over the whole period."""
    lines = [
        f"{'meter':40} {'unit':>6} {'api':>10} {'api+cached':>11} {'billed':>10} {'ratio':>6} "
        f"{'expected':>12} {'billed':>12} cur  status"
    ]
    for row in data["summary"]:
        lines.append(
            f"{row['meter_name'][:40]:40} {row['unit'] or '':>6} "
            f"{float(row['api_quantity'] or 0):>10,.0f} "
            f"{float(row['api_incl_cached'] or 0):>11,.0f} "
            f"{float(row['billed_quantity'] or 0):>10,.0f} "
            f"{'' if row['ratio'] is None else row['ratio']:>6} "
            f"{float(row['expected_cost'] or 0):>12.6f} {float(row['billed_cost'] or 0):>12.6f} "
            f"{row['currency'] or '':3}  {row['statuses']}"
        )
    for row in data["bill"]:
        lines.append(
            f"the whole bill in {row['billing_currency']}: {row['export_rows']} rows, "
            f"{_fmt(row['export_billed_cost'])} billed; realtime {_fmt(row['realtime_in_scope'])}, "
            f"other Azure OpenAI {_fmt(row['azure_openai_out_of_scope'])}, "
            f"other services {_fmt(row['other_services'])}, credits {_fmt(row['credits'])}"
            + ("" if row["adds_up"] else "  - DOES NOT ADD UP (see marts.fct_export_run_totals)")
        )
    return "\n".join(lines)


def render(data: dict[str, Any]) -> str:
    by_meter: dict[str, dict[str, list[tuple[str, float]]]] = defaultdict(lambda: defaultdict(list))
    ratios: dict[str, list[tuple[str, float]]] = defaultdict(list)
    for row in data["reconciliation"]:
        if row["reconciliation_status"] in ("unmapped_meter", "unlinked_usage", "out_of_scope"):
            continue
        day = str(row["usage_date"])
        name = f"{row['meter_name']} ({row['resource_name']}, {row['pricing_unit']})"
        by_meter[name]["billed"].append((day, float(row["billed_quantity"])))
        by_meter[name]["API incl. cached"].append(
            (day, float(row["api_quantity_including_cached"]))
        )
        by_meter[name]["API documented"].append((day, float(row["api_quantity"])))
        if row["billed_to_api_ratio"] is not None:
            ratios[name].append((day, float(row["billed_to_api_ratio"])))
    token_charts = "".join(
        f"<figure>{line_chart(name, series)}<figcaption>{_esc(name)}</figcaption></figure>"
        for name, series in sorted(by_meter.items())
    )
    ratio_chart = line_chart("billed / API (incl. cached) per meter", dict(ratios))
    cost_chart = bar_chart(
        "expected vs billed cost per meter",
        [
            (
                f"{row['meter_name']} ({row['currency']})",
                {
                    "expected (API x price)": float(row["expected_cost"] or 0),
                    "billed": float(row["billed_cost"] or 0),
                },
            )
            for row in data["summary"]
        ],
    )
    fit_chart = bar_chart(
        "total absolute residual per hypothesis (lower fits better)",
        [
            (row["hypothesis"], {"abs residual tokens": float(row["abs_residual_tokens"] or 0)})
            for row in data["hypotheses"]
        ],
    )
    sections = [
        (
            "Summary",
            table(
                data["summary"],
                [
                    "meter_name",
                    "unit",
                    "api_quantity",
                    "api_incl_cached",
                    "billed_quantity",
                    "ratio",
                    "expected_cost",
                    "billed_cost",
                    "currency",
                    "statuses",
                ],
            ),
        ),
        (
            "The whole bill, per billing currency (marts.fct_export_run_totals)",
            table(
                data["bill"],
                [
                    "billing_currency",
                    "export_rows",
                    "export_billed_cost",
                    "warehouse_billed_cost",
                    "realtime_in_scope",
                    "azure_openai_out_of_scope",
                    "azure_openai_unmapped",
                    "other_services",
                    "credits",
                    "adjustments",
                    "purchases",
                    "taxes",
                    "other_charges",
                    "adds_up",
                ],
            ),
        ),
        ("Billed vs API tokens per meter and day", f'<div class="grid">{token_charts}</div>'),
        ("Billed / API ratio over time", ratio_chart),
        ("Expected vs billed cost", cost_chart),
        (
            "Hypotheses",
            fit_chart
            + table(
                data["hypotheses"], ["hypothesis", "abs_residual_tokens", "best_for_meter_days"]
            ),
        ),
        (
            "Fitted formula (non-negative least squares)",
            table(
                data["formula"],
                ["meter_name", "formula", "r_squared", "observations", "features_fitted"],
            ),
        ),
        (
            "Unmapped meters and unlinked usage",
            table(
                data["unmapped"],
                [
                    "meter_name",
                    "reconciliation_status",
                    "pricing_unit",
                    "billed_quantity",
                    "api_quantity",
                    "days",
                ],
            ),
        ),
        (
            "Azure OpenAI meters Realtime logs cannot explain (out of scope)",
            table(
                data["out_of_scope"],
                [
                    "meter_name",
                    "model",
                    "pricing_unit",
                    "billed_quantity",
                    "billed_cost",
                    "billing_currency",
                    "days",
                ],
            ),
        ),
        (
            "Data quality: what was left out or flagged, and why (marts.fct_data_quality)",
            table(
                data["quality"],
                [
                    "check_name",
                    "check_date",
                    "resource_name",
                    "subject",
                    "affected_records",
                    "consequence",
                ],
            ),
        ),
        (
            "Export run history",
            table(
                data["runs"],
                [
                    "run_key",
                    "export_name",
                    "billing_month",
                    "submitted_at",
                    "run_status",
                    "rows_landed",
                    "is_current",
                    "not_current_reason",
                ],
            ),
        ),
    ]
    body = "".join(
        f"<section><h2>{_esc(title)}</h2>{content}</section>" for title, content in sections
    )
    generated = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>tokenrecon report</title>
<style>
body {{ font: 14px system-ui, sans-serif; margin: 24px; color: #1b1f24; }}
h1 {{ font-size: 22px; }} h2 {{ font-size: 17px; margin-top: 28px; border-bottom: 1px solid #ddd; }}
table {{ border-collapse: collapse; margin: 8px 0; }} td, th {{ border: 1px solid #ddd; padding: 3px 8px; text-align: left; }}
th {{ background: #f3f5f7; }} .grid {{ display: flex; flex-wrap: wrap; gap: 12px; }}
figure {{ margin: 0; }} figcaption {{ font-size: 12px; color: #555; }}
.axis {{ stroke: #999; }} .label {{ font-size: 11px; fill: #444; }} .empty {{ color: #777; }}
</style></head>
<body><h1>tokenrecon - Realtime API usage vs the Azure bill</h1>
<p>Generated {generated}. API usage follows the documented semantics (an uncached input meter bills input minus cached); billed quantities are PricingQuantity x block size of the current export runs, in each meter's own unit; money is shown per billing currency, never added across currencies.</p>
{body}
<script>
document.addEventListener("DOMContentLoaded", function () {{
  var charts = document.querySelectorAll("svg.chart");
  var drawn = Array.prototype.filter.call(charts, function (c) {{ return c.getBBox().width > 0; }});
  document.body.setAttribute("data-charts-rendered", String(drawn.length));
}});
</script>
</body></html>
"""


def write_report(warehouse: Path, path: Path) -> tuple[Path, str]:
    data = collect(warehouse)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(data), encoding="utf-8")
    return path, summary_text(data)
