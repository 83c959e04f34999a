"""`ingest export`: every mart as a Parquet file under exports/ (TOKENRECON_EXPORTS), for Power
BI, Excel, Fabric and anything else that reads Parquet but not DuckDB files.

Each file is written under a temporary name and renamed into place; a manifest
(`_exports.json`) lists the files, their row counts and when they were written. Money columns
stay DECIMAL(38,18) in Parquet.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path

import duckdb


def export_marts(warehouse: Path, folder: Path) -> list[tuple[str, int]]:
    """Copy every table of the `marts` schema to `<folder>/<table>.parquet`."""
    folder.mkdir(parents=True, exist_ok=True)
    written: list[tuple[str, int]] = []
    with duckdb.connect(str(warehouse), read_only=True) as con:
        tables = [
            row[0]
            for row in con.sql(
                "select table_name from information_schema.tables "
                "where table_schema = 'marts' order by table_name"
            ).fetchall()
        ]
        for table in tables:
            final = folder / f"{table}.parquet"
            tmp = folder / f".{table}.parquet.tmp"
            # the path is the user's: quoted as a literal, never pasted; the table as an identifier
            relation = 'marts."' + table.replace('"', '""') + '"'
            target = "'" + str(tmp).replace("'", "''") + "'"
            con.execute(f"copy {relation} to {target} (format parquet, compression zstd)")
            os.replace(tmp, final)
            rows = con.sql(f"select count(*) from {relation}").fetchone()[0]
            written.append((table, rows))
    manifest = {
        "written_at": datetime.now(UTC).isoformat(),
        "warehouse": str(warehouse),
        "files": [{"file": f"{t}.parquet", "rows": n} for t, n in written],
    }
    tmp = folder / "._exports.json.tmp"
    tmp.write_text(json.dumps(manifest, indent=1))
    os.replace(tmp, folder / "_exports.json")
    return written
