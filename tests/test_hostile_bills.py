"""Hostile cost exports: names from inputs never become paths or SQL, nothing escapes the
landing zone, crashes and concurrent ingests lose and double nothing, overlapping loose files
and repeated blobs are resolved, not summed, and every bill row is landed or quarantined."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ingest.samples import every_meter_bill
from ingest.samples.reference_case import RUNS, write_bill
from tests.conftest import PROJECT_ROOT, Workspace
from tests.test_ingest_focus import FINAL, REFERENCE_TOKENS, csv_part, rewrite_csv

AUD_IN = "gpt rt aud mn in gl 1215 1M Tokens"


def _tree(root: Path, skip: Path) -> dict[str, int]:
    """Every file under root but outside `skip`, with its size."""
    return {
        str(p): p.stat().st_size for p in root.rglob("*") if p.is_file() and skip not in p.parents
    }


def _billed(ws: Workspace) -> list[tuple[str, int]]:
    rows = ws.query(
        "select meter_name, cast(billed_tokens as int) from marts.fct_billed_usage "
        "where resource_name = 'contoso-voice-swc' order by meter_name"
    )
    return [(m, t) for m, t in rows]


def test_a_run_id_with_slashes_and_dots_never_becomes_a_path(
    workspace: Workspace, tmp_path: Path
) -> None:
    [manifest] = write_bill(tmp_path / "c", runs=("final",))
    doc = json.loads(manifest.read_text())
    doc["runInfo"]["runId"] = "../../../outside/..\\evil/run"
    manifest.write_text(json.dumps(doc))
    (workspace.landing / "focus_costs").mkdir(parents=True)
    decoy = workspace.root / "outside" / "keep.txt"
    decoy.parent.mkdir()
    decoy.write_text("untouched")
    before = _tree(workspace.root, workspace.landing)

    result = workspace.ingest("focus", str(tmp_path / "c"))
    assert result.exit_code == 0, result.stderr
    assert _tree(workspace.root, workspace.landing) == before  # nothing outside the zone changed
    assert decoy.read_text() == "untouched"
    [run] = workspace.landed_focus("select run_key, run_id from runs")
    assert run["run_id"] == "../../../outside/..\\evil/run"  # kept as data, hashed as a name
    assert run["run_key"].startswith("run-") and "/" not in run["run_key"]
    assert [p.name for p in (workspace.landing / "focus_costs").iterdir() if p.is_dir()] == [
        f"run_key={run['run_key']}"
    ]


def test_a_landing_path_with_a_quote_is_never_pasted_into_sql(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "it's here"
    ws = Workspace(
        root, root / "land'ing", root / "warehouse.duckdb"
    )  # dbt-duckdb names the catalog after the file
    monkeypatch.setenv("TOKENRECON_LANDING", str(ws.landing))
    monkeypatch.setenv("TOKENRECON_WAREHOUSE", str(ws.warehouse))
    write_bill(tmp_path / "c", runs=("final",))
    assert ws.ingest("focus", str(tmp_path / "c")).exit_code == 0
    ws.dbt("build")
    assert _billed(ws) == REFERENCE_TOKENS
    exported = ws.ingest("export", "--to", str(root / "ex'ports"))
    assert exported.exit_code == 0, exported.stderr
    assert (root / "ex'ports" / "fct_billed_usage.parquet").exists()


def test_overlapping_loose_month_to_date_files_are_resolved_like_runs(
    workspace: Workspace, tmp_path: Path
) -> None:
    """Two month-to-date downloads of one account, made by hand (no manifest): the later,
    fuller one counts, the other is named as superseded - a day is never billed twice."""
    write_bill(tmp_path / "c")
    early = tmp_path / "downloads" / "costs-until-0330.csv.gz"
    final = tmp_path / "downloads" / "costs-until-0331.csv.gz"
    early.parent.mkdir()
    early.write_bytes(csv_part(tmp_path / "c", "early").read_bytes())
    final.write_bytes(csv_part(tmp_path / "c", "final").read_bytes())
    assert workspace.ingest("focus", str(early.parent)).exit_code == 0
    workspace.dbt("build")

    assert _billed(workspace) == REFERENCE_TOKENS  # not early + final
    runs = workspace.query(
        "select source_uri, is_current, not_current_reason from marts.dim_export_runs "
        "order by source_uri"
    )
    assert [(uri.rsplit("/", 1)[-1], current) for uri, current, _ in runs] == [
        ("costs-until-0330.csv.gz", False),
        ("costs-until-0331.csv.gz", True),
    ]
    # both end on 03-31 (the early download holds part of that day): the fuller one wins
    assert runs[0][2].startswith("holds fewer rows than file-")


def test_a_blob_listed_twice_is_read_once(workspace: Workspace, tmp_path: Path) -> None:
    [manifest] = write_bill(tmp_path / "c", runs=("final",))
    doc = json.loads(manifest.read_text())
    doc["blobs"].append(dict(doc["blobs"][0]))
    doc["blobCount"] = 2
    doc["dataRowCount"] *= 2
    manifest.write_text(json.dumps(doc))

    result = workspace.ingest("focus", str(tmp_path / "c"))
    assert result.exit_code == 0, result.stderr
    assert "15 rows read, 15 landed" in result.stdout
    assert "part_0_0001.csv.gz listed again in the manifest, read once" in result.stderr
    workspace.dbt("build")
    assert _billed(workspace) == REFERENCE_TOKENS


def test_identical_bill_rows_are_kept_and_reported(workspace: Workspace, tmp_path: Path) -> None:
    write_bill(tmp_path / "c", runs=("final",))
    rewrite_csv(csv_part(tmp_path / "c", "final"), lambda rows: [*rows, dict(rows[0])])
    assert workspace.ingest("focus", str(tmp_path / "c")).exit_code == 0
    workspace.dbt("build")

    assert workspace.query(
        "select check_name, resource_name, subject, affected_records from marts.fct_data_quality"
    ) == [("duplicate_bill_rows", "contoso-voice-swc", AUD_IN, 2)]
    assert dict(_billed(workspace))[AUD_IN] == 1280  # both rows are what the bill charges


def test_a_truncated_gzip_part_fails_the_ingest_and_never_becomes_current(
    workspace: Workspace, tmp_path: Path
) -> None:
    write_bill(tmp_path / "c")
    part = csv_part(tmp_path / "c", "final")
    part.write_bytes(part.read_bytes()[:-40])

    result = workspace.ingest("focus", str(tmp_path / "c"))
    assert result.exit_code == 1
    assert f"{part}: could not be read" in result.stderr
    workspace.dbt("build")
    assert workspace.query(
        "select run_key, is_current from marts.dim_export_runs order by run_key"
    ) == [(RUNS["early"][0], True), (FINAL, False)]


def test_an_export_without_block_size_columns_bills_tokens_not_blocks(
    workspace: Workspace, tmp_path: Path
) -> None:
    write_bill(tmp_path / "c", runs=("final",))

    def drop_block_sizes(rows: list[dict]) -> None:
        for row in rows:
            row["x_PricingBlockSize"] = ""
            row["x_PricingUnitDescription"] = ""

    rewrite_csv(csv_part(tmp_path / "c", "final"), drop_block_sizes)
    assert workspace.ingest("focus", str(tmp_path / "c")).exit_code == 0
    workspace.dbt("build")
    assert _billed(workspace) == REFERENCE_TOKENS  # the catalogue knows these are 1M meters


def _cli(*args: str, env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "ingest", *args],
        cwd=PROJECT_ROOT,
        env={**os.environ, **env, "PYTHONPATH": str(PROJECT_ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def test_concurrent_ingests_into_one_zone_lose_nothing(
    workspace: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_bill(tmp_path / "reference")
    every_meter_bill.write(tmp_path / "account")
    env = {"TOKENRECON_LANDING": str(workspace.landing), "TOKENRECON_WORKERS": "1"}
    for trial in range(3):
        landing = workspace.landing.with_name(f"landing-{trial}")
        env["TOKENRECON_LANDING"] = str(landing)
        both = [
            _cli("focus", str(tmp_path / "reference"), env=env),
            _cli("focus", str(tmp_path / "account"), env=env),
        ]
        for proc in both:
            _, err = proc.communicate(timeout=300)
            assert proc.returncode == 0, err.decode()
        runs = sorted(p.parent.name for p in landing.glob("focus_runs/run_key=*/run.parquet"))
        assert runs == sorted(
            f"run_key={k}" for k in (RUNS["early"][0], FINAL, every_meter_bill.RUN_ID)
        ), f"trial {trial}"
        meters = list(landing.glob("focus_meters/run_key=*/meters.parquet"))
        assert len(meters) == 3
    monkeypatch.setenv("TOKENRECON_LANDING", str(landing))
    workspace.dbt("build")
    assert workspace.query(
        "select count(*), bool_and(is_balanced) from marts.fct_export_run_totals"
    ) == [(3, True)]


def test_another_ingest_starting_at_any_rename_never_takes_a_live_runs_files(
    workspace: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The race the test above samples, made certain: before every rename an ingest makes,
    another ingest opens the zone and clears what killed runs left. Nothing of a live run may
    look like a leftover (its load log and quarantine are staged in its own locked folder)."""
    from ingest import landing as landing_module

    write_bill(tmp_path / "reference")
    rename = os.replace
    opened: list[int] = []
    inside = [False]

    def replace_after_another_ingest_opens(src: object, dst: object) -> None:
        if not inside[0]:  # the other ingest's own renames go straight through
            inside[0] = True
            try:
                landing_module.LandingZone(workspace.landing).scratch("focus_costs").close()
                opened.append(1)
            finally:
                inside[0] = False
        rename(src, dst)

    monkeypatch.setattr(landing_module.os, "replace", replace_after_another_ingest_opens)
    result = workspace.ingest("focus", str(tmp_path / "reference"))
    assert result.exit_code == 0, result.stderr
    assert len(opened) > 10  # the other ingest really did open at each rename
    monkeypatch.setattr(landing_module.os, "replace", rename)
    runs = workspace.landed_focus("select status, files_read from runs order by run_key")
    assert runs and all(r["status"] == "complete" for r in runs)
    logged = [p for p in (workspace.landing / "_load_log" / "focus_costs").glob("*.parquet")]
    assert len(logged) == sum(r["files_read"] for r in runs)


def test_a_killed_ingest_leaves_nothing_partial_and_the_rerun_lands_every_row_once(
    workspace: Workspace, tmp_path: Path
) -> None:
    big = every_meter_bill.catalogue() * 120  # ~100k rows: a second or two to land
    every_meter_bill.write(tmp_path / "account", big, with_others=False)
    env = {"TOKENRECON_LANDING": str(workspace.landing), "TOKENRECON_WORKERS": "1"}
    for delay in (0.3, 0.8, 1.5, 3.0):
        proc = _cli("focus", str(tmp_path / "account"), env=env)
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        # whatever was killed: no run is committed without all its rows, and no scratch file
        # is where a reader looks
        committed = {
            p.parent.name.removeprefix("run_key=")
            for p in workspace.landing.glob("focus_runs/run_key=*/run.parquet")
        }
        for folder in workspace.landing.glob("focus_costs/run_key=*"):
            key = folder.name.removeprefix("run_key=")
            if key in committed:
                rows = workspace.landed_focus(
                    f"select count(*) as n from costs where run_key = '{key}'"
                )
                assert rows == [{"n": len(big)}]
        assert not list(workspace.landing.glob("focus_costs/**/*.tmp"))
    rerun = _cli("focus", str(tmp_path / "account"), env=env)
    _, err = rerun.communicate(timeout=300)
    assert rerun.returncode == 0, err.decode()
    assert workspace.landed_focus(
        "select count(*) as n, count(distinct source_row) as d from costs"
    ) == [{"n": len(big), "d": len(big)}]
    assert not list((workspace.landing / "_scratch" / "focus_costs").iterdir())  # cleaned up
    workspace.dbt("build")
    assert workspace.query(
        "select sum(export_rows), bool_and(is_balanced) from marts.fct_export_run_totals"
    ) == [(len(big), True)]
