"""Benchmark `dbt build` as a month grows: a full build of 30 days, then the build after one more
day lands (incremental by day), on the DuckDB target.

For each size (sessions a day, no audio), simulates 31 days on two accounts
(`python -m ingest simulate`), lands days 1-30 and the bill, times `dbt build` (wall seconds and
peak resident memory of the whole process tree), lands day 31 and times `dbt build` again, then
`dbt build --full-refresh` of the same 31 days - the baseline a user without incremental models
pays for the same result. Writes the table to benchmarks/results/scale.md.

    python benchmarks/bench_scale.py [--sizes 30,120,480] [--workdir /tmp/x]
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.bench_events import BIN, measure  # noqa: E402
from ingest.simulate import simulate  # noqa: E402

MONTH = date(2026, 5, 1)
DAYS = 31


@dataclass
class Row:
    sessions_per_day: int
    events: int
    full_seconds: float
    full_peak: int
    next_day_seconds: float
    next_day_peak: int
    refresh_seconds: float
    refresh_peak: int

    def cells(self) -> list[str]:
        return [
            f"{self.sessions_per_day}",
            f"{self.events:,}",
            f"{self.full_seconds:.1f}",
            f"{self.full_peak / 2**20:,.0f}",
            f"{self.next_day_seconds:.1f}",
            f"{self.next_day_peak / 2**20:,.0f}",
            f"{self.next_day_seconds / self.full_seconds:.2f}x",
            f"{self.refresh_seconds:.1f}",
            f"{self.refresh_peak / 2**20:,.0f}",
        ]


HEADER = [
    "sessions a day",
    "events (31 days)",
    "full build of 30 days, s",
    "peak RSS MB",
    "build after day 31, s",
    "peak RSS MB",
    "next day / full",
    "full refresh of 31 days, s",
    "peak RSS MB",
]


def table(rows: list[Row]) -> str:
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    lines += ["| " + " | ".join(r.cells()) + " |" for r in rows]
    return "\n".join(lines)


def run_size(sessions_per_day: int, work: Path) -> Row:
    sim = work / "sim"
    simulate(sim, MONTH, DAYS, sessions_per_day, seed=3, truth="observed", noise=0.01,
             audio=False, overwrite=False)  # fmt: skip
    env = {
        **os.environ,
        "TOKENRECON_LANDING": str(work / "landing"),
        "TOKENRECON_WAREHOUSE": str(work / "warehouse.duckdb"),
        "DBT_PROFILES_DIR": str(ROOT),
        "DBT_PROJECT_DIR": str(ROOT),
        "PYTHONPATH": str(ROOT),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }
    last = MONTH.replace(day=DAYS).isoformat()
    logs = sorted((sim / "logs").rglob("*.jsonl"))
    month = [str(p) for p in logs if p.stem != last]
    next_day = [str(p) for p in logs if p.stem == last]
    ingest = [str(BIN / "python"), "-m", "ingest"]
    dbt = [str(BIN / "dbt"), "build", "--quiet", "--target-path", str(work / "target")]
    subprocess.run([*ingest, "events", *month], env=env, check=True, capture_output=True)
    subprocess.run([*ingest, "costs", str(sim / "cost_exports")], env=env, check=True,
                   capture_output=True)  # fmt: skip
    full = measure(dbt, env=env, cwd=work)
    subprocess.run([*ingest, "events", *next_day], env=env, check=True, capture_output=True)
    incremental = measure(dbt, env=env, cwd=work)
    shutil.copy(work / "target" / "run_results.json", work / "next_day_run_results.json")
    refresh = measure([*dbt, "--full-refresh"], env=env, cwd=work)
    with duckdb.connect(str(work / "warehouse.duckdb"), read_only=True) as con:
        [(events,)] = con.sql("select count(*) from intermediate.int_events_sessionised").fetchall()
    return Row(sessions_per_day, events, *full, *incremental, *refresh)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="30,120,480", help="sessions a day, comma-separated")
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument(
        "--keep", action="store_true", help="keep each size's landing, warehouse and dbt target"
    )
    args = parser.parse_args()
    base = args.workdir or Path(tempfile.mkdtemp(prefix="tokenrecon-bench-scale-"))
    rows = []
    for size in (int(s) for s in args.sizes.split(",")):
        work = base / f"s{size}"
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        rows.append(run_size(size, work))
        print(table(rows[-1:]), flush=True)
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    header = (
        f"`dbt build` on the DuckDB target, {DAYS - 1} simulated days then one more "
        f"({datetime.now(UTC):%Y-%m-%d}, {platform.machine()}, {os.cpu_count()} CPUs, "
        f"DuckDB memory_limit {os.environ.get('TOKENRECON_DUCKDB_MEMORY_LIMIT', '1200MB')}):"
    )
    result = header + "\n\n" + table(rows) + "\n"
    print("\n" + result)
    out = ROOT / "benchmarks" / "results" / "scale.md"
    out.write_text(result)
    print(f"written to {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
