"""Shared fixtures: an isolated landing zone and warehouse per test, the real CLI, real dbt."""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb
import orjson
import pytest
from typer.testing import CliRunner

from ingest.cli import app

PROJECT_ROOT = Path(__file__).resolve().parent.parent
REFERENCE_LOG = (
    PROJECT_ROOT / "samples" / "reference_case" / "realtime_logs" / "realtime_events.jsonl.gz"
)


@dataclass
class CliResult:
    exit_code: int
    stdout: str
    stderr: str


@dataclass
class Workspace:
    """One isolated tokenrecon installation: landing zone, warehouse, dbt target."""

    root: Path
    landing: Path
    warehouse: Path

    def ingest(self, *args: str) -> CliResult:
        result = CliRunner().invoke(app, [*args], catch_exceptions=False)
        return CliResult(result.exit_code, result.stdout, result.stderr)

    def dbt(self, *args: str) -> str:
        """Run the dbt CLI in its own process, as users do (it then releases the warehouse)."""
        dbt = Path(sys.executable).parent / "dbt"
        proc = subprocess.run(
            [
                str(dbt),
                *args,
                "--project-dir",
                str(PROJECT_ROOT),
                "--profiles-dir",
                str(PROJECT_ROOT),
                "--target-path",
                str(self.root / "dbt_target"),
                "--log-path",
                str(self.root / "dbt_logs"),
            ],
            capture_output=True,
            text=True,
            env={**os.environ, "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"},
        )
        if proc.returncode != 0:
            raise AssertionError(f"dbt {' '.join(args)} failed:\n{proc.stdout[-4000:]}")
        return proc.stdout

    def query(self, sql: str) -> list[tuple]:
        with duckdb.connect(str(self.warehouse), read_only=True) as con:
            return con.sql(sql).fetchall()

    def query_dicts(self, sql: str) -> list[dict]:
        with duckdb.connect(str(self.warehouse), read_only=True) as con:
            rel = con.sql(sql)
            return [dict(zip(rel.columns, row, strict=True)) for row in rel.fetchall()]

    def landed_focus(self, sql: str) -> list[dict]:
        """Query landed FOCUS data: `costs`, `runs`, `quarantine` (of focus_costs)."""
        con = duckdb.connect()
        con.execute("set TimeZone = 'UTC'")
        con.sql(
            f"create view costs as select * from read_parquet("
            f"'{self.landing}/focus_costs/**/*.parquet', union_by_name = true)"
        )
        runs = self.landing / "focus_runs" / "run_key=*" / "run.parquet"
        con.sql(f"create view runs as select * from read_parquet('{runs}')")
        con.sql(
            f"create view quarantine as select * from read_parquet("
            f"'{self.landing}/_quarantine/**/*.parquet', union_by_name = true) "
            f"where dataset = 'focus_costs'"
        )
        rel = con.sql(sql)
        return [dict(zip(rel.columns, row, strict=True)) for row in rel.fetchall()]

    def landed_cost_details(self, sql: str) -> list[dict]:
        """Query landed cost details (actual or amortized cost exports) as `costs`."""
        con = duckdb.connect()
        con.execute("set TimeZone = 'UTC'")
        con.sql(
            f"create view costs as select * from read_parquet("
            f"'{self.landing}/cost_details/**/*.parquet', union_by_name = true)"
        )
        rel = con.sql(sql)
        return [dict(zip(rel.columns, row, strict=True)) for row in rel.fetchall()]

    def landed(self, sql: str = "select * from landed") -> list[dict]:
        """Query the landed events directly (`landed`), the load log and the quarantine."""
        con = duckdb.connect()
        con.sql(
            f"create view landed as select * from read_parquet("
            f"'{self.landing}/realtime_events/**/*.parquet', union_by_name = true)"
        )
        con.sql(
            f"create view load_log as select * from read_parquet("
            f"'{self.landing}/_load_log/**/*.parquet', union_by_name = true)"
        )
        con.sql(
            f"create view quarantine as select * from read_parquet("
            f"'{self.landing}/_quarantine/**/*.parquet', union_by_name = true)"
        )
        rel = con.sql(sql)
        return [dict(zip(rel.columns, row, strict=True)) for row in rel.fetchall()]


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Workspace]:
    ws = Workspace(tmp_path, tmp_path / "landing", tmp_path / "warehouse.duckdb")
    monkeypatch.setenv("TOKENRECON_LANDING", str(ws.landing))
    monkeypatch.setenv("TOKENRECON_WAREHOUSE", str(ws.warehouse))
    monkeypatch.setenv("TOKENRECON_WORKERS", "1")
    for name in ("AZURE_STORAGE_CONNECTION_STRING", "AZURE_STORAGE_ACCOUNT_URL"):
        monkeypatch.delenv(name, raising=False)
    yield ws


@pytest.fixture(scope="session")
def reference_envelopes() -> list[dict]:
    """The bundled reference session, one envelope per event."""
    return [orjson.loads(line) for line in gzip.decompress(REFERENCE_LOG.read_bytes()).splitlines()]


WriteLines = Callable[[Path, list], Path]


def write_jsonl(path: Path, records: list) -> Path:
    """Records (dicts, or raw bytes for deliberately broken lines) -> a JSONL file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    body = b"".join((r if isinstance(r, bytes) else orjson.dumps(r)) + b"\n" for r in records)
    if path.suffix == ".gz":
        body = gzip.compress(body)
    path.write_bytes(body)
    return path
