"""Ingest that scales out: N processes, each given shard i/N of the same sources, land one zone
between them without coordinating - the same rows as one process, none twice."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from ingest.inputs import Shard
from tests.conftest import PROJECT_ROOT, Workspace


def _landed(landing: Path) -> dict[str, list[tuple]]:
    con = duckdb.connect()
    return {
        "events": con.sql(
            f"select source_uri, count(*) from read_parquet("
            f"'{landing}/realtime_events/**/*.parquet', union_by_name = true) "
            "group by all order by all"
        ).fetchall(),
        "runs": con.sql(
            f"select run_key, dataset_type, rows_landed from read_parquet("
            f"'{landing}/focus_runs/**/*.parquet', union_by_name = true) order by all"
        ).fetchall(),
        "loads": con.sql(
            f"select dataset, source_uri, rows_landed from read_parquet("
            f"'{landing}/_load_log/**/*.parquet', union_by_name = true) order by all"
        ).fetchall(),
    }


def _run(landing: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "ingest", *args],
        cwd=PROJECT_ROOT,
        env={
            **os.environ,
            "PYTHONPATH": str(PROJECT_ROOT),
            "TOKENRECON_LANDING": str(landing),
            "TOKENRECON_WORKERS": "1",
        },
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def test_three_shards_in_parallel_land_what_one_process_lands(
    workspace: Workspace, tmp_path: Path
) -> None:
    sim = tmp_path / "sim"
    result = workspace.ingest(
        "simulate", "--out", str(sim), "--days", "3", "--sessions-per-day", "1", "--no-audio"
    )
    assert result.exit_code == 0, result.stderr
    sources = {
        "events": [str(PROJECT_ROOT / "samples/reference_case/realtime_logs"), str(sim / "logs")],
        "costs": [
            str(PROJECT_ROOT / "samples/reference_case/cost_exports"),
            str(sim / "cost_exports"),
        ],
    }
    whole = tmp_path / "whole"
    for command, paths in sources.items():
        proc = _run(whole, command, *paths)
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err.decode()

    sharded = tmp_path / "sharded"
    for command, paths in sources.items():
        procs = [_run(sharded, command, *paths, "--shard", f"{i}/3") for i in (1, 2, 3)]
        outs = [p.communicate(timeout=300) for p in procs]
        assert [p.returncode for p in procs] == [0, 0, 0], [e.decode() for _, e in outs]

    expected = _landed(whole)
    assert len(expected["events"]) == 6  # the reference log and 5 simulated (one day is bare)
    assert len(expected["runs"]) == 6  # the reference case's 2 runs, 3 daily runs and a re-run
    assert _landed(sharded) == expected


def test_every_key_belongs_to_exactly_one_shard() -> None:
    keys = [f"az://c/logs/{n}.jsonl" for n in range(300)]
    shards = [Shard(i, 4) for i in (1, 2, 3, 4)]
    owners = [[s.index for s in shards if s.holds(k)] for k in keys]
    assert all(len(o) == 1 for o in owners)
    assert {o[0] for o in owners} == {1, 2, 3, 4}  # spread, not all in one
    with pytest.raises(ValueError, match="i/N"):
        Shard.parse("2")
    with pytest.raises(ValueError, match="between 1 and N"):
        Shard.parse("5/4")
