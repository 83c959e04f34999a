"""A simulated month end to end: the fitted formula recovers the billing truth; the HTML report
renders in headless Chromium; the marts are exported as Parquet for BI tools."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from datetime import date
from pathlib import Path

import duckdb
import pytest

from ingest.simulate import INSTRUCTION_TOKENS, simulate
from tests.conftest import PROJECT_ROOT, Workspace

ARTIFACTS = PROJECT_ROOT / "tests" / "artifacts"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# Relative tolerance on coefficients the simulation makes identifiable: cached and uncached
# tokens grow together with the context, so 20 days with 1% noise pin each to about 10%.
TOLERANCE = 0.10


def digest(folder: Path) -> str:
    h = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            h.update(str(path.relative_to(folder)).encode() + path.read_bytes())
    return h.hexdigest()


def test_simulation_is_deterministic_for_a_seed(tmp_path: Path) -> None:
    kwargs = {
        "month": date(2026, 3, 1),
        "days": 3,
        "sessions_per_day": 2,
        "truth": "observed",
        "noise": 0.01,
        "audio": True,
        "overwrite": False,
    }
    simulate(tmp_path / "a", seed=11, **kwargs)
    simulate(tmp_path / "b", seed=11, **kwargs)
    simulate(tmp_path / "c", seed=12, **kwargs)
    assert digest(tmp_path / "a") == digest(tmp_path / "b")
    assert digest(tmp_path / "a") != digest(tmp_path / "c")
    runs = sorted(p.parent.name for p in (tmp_path / "a" / "cost_exports").rglob("manifest.json"))
    assert runs == ["sim-202603-01", "sim-202603-02", "sim-202603-03", "sim-202603-rerun"]


@pytest.fixture(scope="module")
def month(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    """Twenty simulated days under the observed truth, landed and built once."""
    root = tmp_path_factory.mktemp("month")
    ws = Workspace(root, root / "landing", root / "warehouse.duckdb")
    truth = simulate(
        root / "sim",
        date(2026, 3, 1),
        20,
        6,
        seed=7,
        truth="observed",
        noise=0.01,
        audio=False,
        overwrite=False,
    )
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TOKENRECON_LANDING", str(ws.landing))
        mp.setenv("TOKENRECON_WAREHOUSE", str(ws.warehouse))
        mp.setenv("TOKENRECON_WORKERS", "1")
        assert ws.ingest("events", str(root / "sim" / "logs")).exit_code == 0
        [bare] = truth["bare_logs"]  # the last day of the second account, raw wire events
        options = ["--resource", bare["resource"], "--deployment", bare["deployment"]]
        options += ["--received-at", bare["received_at"]]
        assert ws.ingest("events", str(root / "sim" / bare["path"]), *options).exit_code == 0
        assert ws.ingest("focus", str(root / "sim" / "cost_exports")).exit_code == 0
        ws.dbt("build")
    return ws


def coefficients(ws: Workspace, meter: str) -> tuple[dict[str, float], float]:
    [(raw, r2)] = ws.query(
        f"select distinct coefficients_json, r_squared from marts.fct_reconciliation_formula "
        f"where meter_name = '{meter}'"
    )
    return json.loads(raw), r2


def test_the_fit_recovers_the_billing_truth(month: Workspace) -> None:
    assert month.query(
        "select count(*) filter (where is_current), count(*) from marts.dim_export_runs"
    ) == [(1, 21)]
    for meter in ("gpt rt txt mn in gl 1215 1M Tokens", "gpt rt txt 0828 Inp DZone Tokens"):
        fitted, r2 = coefficients(month, meter)
        assert r2 > 0.99
        assert fitted["responses"] == pytest.approx(INSTRUCTION_TOKENS, rel=TOLERANCE)
        assert fitted["uncached_text_tokens"] == pytest.approx(1, rel=TOLERANCE)
        assert fitted["cached_text_tokens"] == pytest.approx(1, rel=TOLERANCE)
    for meter in ("gpt rt aud mn out gl 1215 1M Tokens", "gpt rt aud 0828 Outp DZone Tokens"):
        fitted, r2 = coefficients(month, meter)
        assert r2 > 0.99 and fitted == {"output_audio_tokens": pytest.approx(1, rel=0.01)}
    for meter in ("gpt rt aud mn cd in gl 1215 1M Tokens", "gpt rt txt 0828 cchd Inp DZn Tokens"):
        fitted, _ = coefficients(month, meter)
        assert all(c == 0 for c in fitted.values())  # cached meters bill nothing
    # audio input: cached audio billed at the uncached meter; whisper seconds and VAD speech
    # seconds move together, so only their sum is identifiable - the fit must still explain it
    fitted, r2 = coefficients(month, "gpt rt aud mn in gl 1215 1M Tokens")
    assert r2 > 0.99
    assert fitted["cached_audio_tokens"] == pytest.approx(1, rel=TOLERANCE)


def test_the_report_renders_in_headless_chromium(month: Workspace, tmp_path: Path) -> None:
    assert CHROMIUM, "chromium is installed by .ci/run (Debian package chromium)"
    report = tmp_path / "report.html"
    result = month.ingest("report", "--warehouse", str(month.warehouse), "--out", str(report))
    assert result.exit_code == 0
    assert "gpt rt txt mn in gl 1215 1M Tokens" in result.stdout  # the terminal summary
    assert f"report: {report.resolve()}" in result.stdout
    text = report.read_text()
    assert "http://" not in text and "https://" not in text and "<link" not in text  # offline
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
    ]
    dom = subprocess.run(
        [
            CHROMIUM,
            *flags,
            f"--user-data-dir={tmp_path / 'profile-a'}",
            "--dump-dom",
            report.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    charts = int(dom.split('data-charts-rendered="')[1].split('"')[0])
    assert charts == text.count('<svg class="chart"') >= 10  # every chart has a drawn box
    for section in (
        "Billed vs API tokens per meter and day",
        "Billed / API ratio over time",
        "Expected vs billed cost",
        "Hypotheses",
        "Fitted formula",
        "Unmapped meters",
        "Export run history",
    ):
        assert section in dom
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "report.png"
    shot.unlink(missing_ok=True)
    subprocess.run(
        [
            CHROMIUM,
            *flags,
            f"--user-data-dir={tmp_path / 'profile-b'}",
            "--window-size=1400,2400",
            f"--screenshot={shot}",
            report.as_uri(),
        ],
        capture_output=True,
        timeout=120,
        check=True,
    )
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 50_000


def test_marts_are_exported_as_parquet(month: Workspace, tmp_path: Path) -> None:
    result = month.ingest(
        "export", "--warehouse", str(month.warehouse), "--to", str(tmp_path / "exports")
    )
    assert result.exit_code == 0
    manifest = json.loads((tmp_path / "exports" / "_exports.json").read_text())
    files = {f["file"]: f["rows"] for f in manifest["files"]}
    assert "fct_meter_reconciliation.parquet" in files and "fct_billed_usage.parquet" in files
    with duckdb.connect() as con:
        exported = con.sql(
            f"select count(*), typeof(any_value(billed_cost)) "
            f"from '{tmp_path / 'exports' / 'fct_billed_usage.parquet'}'"
        ).fetchone()
    assert exported == (files["fct_billed_usage.parquet"], "DECIMAL(38,18)")
