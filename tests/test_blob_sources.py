"""`ingest events|focus az://...` against Azurite, the real Azure Blob emulator."""

from __future__ import annotations

import json
from collections.abc import Iterator

import orjson
import pytest
from azure.storage.blob import BlobServiceClient

from tests.azurite import azurite
from tests.conftest import REFERENCE_LOG, Workspace

pytestmark = pytest.mark.azurite


@pytest.fixture(scope="module")
def blob_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with azurite(tmp_path_factory.mktemp("azurite")) as connection_string:
        yield connection_string


@pytest.fixture
def container(blob_service: str, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", blob_service)
    client = BlobServiceClient.from_connection_string(blob_service)
    name = request.node.name.replace("_", "-")[:60].strip("-").lower()
    container = client.create_container(name)
    yield container
    container.delete_container()


def test_logs_stream_from_blob_storage(
    workspace: Workspace, container, reference_envelopes: list[dict]
) -> None:
    container.upload_blob("voice/2026/03/31/session.jsonl.gz", REFERENCE_LOG.read_bytes())
    bare = b"".join(orjson.dumps(e["event"]) + b"\n" for e in reference_envelopes[:10])
    container.upload_blob(
        "voice/2026/03/31/bare.json", b"[" + bare.replace(b"\n", b",")[:-1] + b"]"
    )
    container.upload_blob("voice/README.txt", b"not a log")
    container.upload_blob("elsewhere/other.jsonl", b"{}\n")

    result = workspace.ingest(
        "events",
        f"az://{container.container_name}/voice/",
        "--resource",
        "contoso-voice-swc",
        "--received-at",
        "2026-03-31T09:00:00Z",
    )

    assert result.exit_code == 0, result.stderr
    assert "2 files" in result.stdout
    assert "172 records read, 172 landed, 0 quarantined" in result.stdout
    rows = workspace.landed(
        "select source_uri, count(*) as n, sum(audio_payload_bytes) as audio from landed "
        "group by all order by source_uri"
    )
    assert rows == [
        {
            "source_uri": f"az://{container.container_name}/voice/2026/03/31/bare.json",
            "n": 10,
            "audio": None,
        },
        {
            "source_uri": f"az://{container.container_name}/voice/2026/03/31/session.jsonl.gz",
            "n": 162,
            "audio": 1_008_000,
        },
    ]


def test_blob_rerun_is_idempotent_and_a_rewritten_blob_is_read_again(
    workspace: Workspace, container, reference_envelopes: list[dict]
) -> None:
    container.upload_blob(
        "logs/a.jsonl", b"".join(orjson.dumps(e) + b"\n" for e in reference_envelopes[:50])
    )
    source = f"az://{container.container_name}/logs"
    assert "50 landed" in workspace.ingest("events", source).stdout
    assert "1 already landed" in workspace.ingest("events", source).stdout

    # the logger appended to the blob: new etag, new content; the old landing is superseded
    # only where content is identical, so the marts de-duplicate the repeated events
    container.upload_blob(
        "logs/a.jsonl",
        b"".join(orjson.dumps(e) + b"\n" for e in reference_envelopes),
        overwrite=True,
    )
    assert "162 landed" in workspace.ingest("events", source).stdout
    assert workspace.landed("select count(distinct event_key) as n from landed") == [{"n": 162}]


def test_missing_credentials_and_empty_prefixes_are_clear_errors(
    workspace: Workspace, container, monkeypatch: pytest.MonkeyPatch
) -> None:
    empty = workspace.ingest("events", f"az://{container.container_name}/nothing-here/")
    assert empty.exit_code == 2
    assert "no accepted files under this Blob prefix" in empty.stderr

    monkeypatch.delenv("AZURE_STORAGE_CONNECTION_STRING")
    missing = workspace.ingest("events", f"az://{container.container_name}/logs/")
    assert missing.exit_code == 2
    assert "AZURE_STORAGE_CONNECTION_STRING" in missing.stderr
    assert "--account-url" in missing.stderr


def test_cost_exports_are_read_from_blob_storage(workspace: Workspace, container, tmp_path) -> None:
    """The reference export in a real container layout: runs found by their manifests."""
    from ingest.samples.reference_case import RUNS, write_bill

    write_bill(tmp_path / "export")
    for path in sorted((tmp_path / "export").rglob("*")):
        if path.is_file():
            container.upload_blob(str(path.relative_to(tmp_path / "export")), path.read_bytes())

    result = workspace.ingest("focus", f"az://{container.container_name}/costs/")

    assert result.exit_code == 0, result.stderr
    assert "2 runs (0 already landed, 2 complete" in result.stdout
    rows = workspace.landed_focus(
        "select SkuMeter, cast(PricingQuantity * 1000000 as int) as tokens, source_uri from costs "
        f"where run_key = '{RUNS['final'][0]}' and SkuMeter like 'gpt rt aud mn%' order by 1"
    )
    assert [(r["SkuMeter"], r["tokens"]) for r in rows] == [
        ("gpt rt aud mn cd in gl 1215 1M Tokens", 0),
        ("gpt rt aud mn in gl 1215 1M Tokens", 640),
        ("gpt rt aud mn out gl 1215 1M Tokens", 631),
    ]
    assert rows[0]["source_uri"].startswith(f"az://{container.container_name}/costs/")
    again = workspace.ingest("focus", f"az://{container.container_name}/costs/")
    assert "2 runs (2 already landed" in again.stdout

    # a later run whose manifest names a blob that is not there: incomplete, never current
    manifest = json.loads((tmp_path / "export").rglob("manifest.json").__next__().read_text())
    manifest["runInfo"]["runId"] = "run-with-missing-blob"
    manifest["runInfo"]["submittedTime"] = "2026-04-02T05:00:00Z"
    manifest["runInfo"]["endDate"] = "2026-03-31T00:00:00"
    manifest["blobs"][0]["blobName"] = "costs/late/part_0_0001.csv.gz"
    container.upload_blob("costs/late/manifest.json", json.dumps(manifest).encode())
    third = workspace.ingest("focus", f"az://{container.container_name}/costs/")
    assert third.exit_code == 1
    assert "incomplete run run-with-missing-blob" in third.stderr
    assert "costs/late/part_0_0001.csv.gz: listed in the manifest but missing" in third.stderr
    workspace.dbt("run", "--select", "+dim_export_runs", "--quiet")
    current = workspace.query("select run_key from marts.dim_export_runs where is_current")
    assert current == [(RUNS["final"][0],)]


def test_the_simulator_writes_to_blob_storage(workspace: Workspace, container) -> None:
    """simulate --out az://... uploads logs and exports (manifests last); ingest reads them."""
    prefix = f"az://{container.container_name}/sim"
    result = workspace.ingest(
        "simulate", "--out", prefix, "--days", "2", "--sessions-per-day", "1", "--no-audio"
    )
    assert result.exit_code == 0, result.stdout
    assert "bare log: python -m ingest events az://" in result.stdout
    names = [b.name for b in container.list_blobs(name_starts_with="sim/")]
    assert "sim/billing_truth.json" in names
    assert sum(n.endswith("manifest.json") for n in names) == 3  # two daily runs + the re-run

    events = workspace.ingest("events", f"{prefix}/logs/")
    assert events.exit_code == 0 and "3 files" in events.stdout
    focus = workspace.ingest("focus", f"{prefix}/cost_exports/")
    assert focus.exit_code == 0 and "3 runs (0 already landed, 3 complete" in focus.stdout


def test_actual_and_amortized_cost_exports_are_read_from_blob_storage(
    workspace: Workspace, container, tmp_path
) -> None:
    """An EA actual cost export (manifest layout) and a loose MCA amortized cost download in
    one container: each found, recognised (manifest type; header and name) and landed whole."""
    from ingest.samples import cost_exports
    from ingest.samples.reference_case import RUNS, _focus_columns, bill_rows, write_bill

    write_bill(tmp_path / "export", runs=("final",), bill_format="ea-actual")
    cost_exports.write_loose(
        tmp_path / "export" / "downloads" / "mca-amortized-2026-03.csv.gz",
        bill_rows("final"),
        "mca-amortized",
        focus_columns=_focus_columns("1.0"),
    )
    for path in sorted((tmp_path / "export").rglob("*")):
        if path.is_file():
            container.upload_blob(str(path.relative_to(tmp_path / "export")), path.read_bytes())

    result = workspace.ingest("costs", f"az://{container.container_name}/")

    assert result.exit_code == 0, result.stderr
    assert "2 runs (0 already landed, 2 complete" in result.stdout
    runs = workspace.landed_focus("select run_key, dataset_type, source_uri from runs order by 2")
    assert [(r["run_key"] == RUNS["final"][0], r["dataset_type"]) for r in runs] == [
        (True, "ActualCost"),
        (False, "AmortizedCost"),
    ]
    rows = workspace.landed_cost_details(
        "select MeterName, cast(Quantity * 1000000 as int) as tokens, count(*) as copies "
        "from costs where MeterName like 'gpt rt aud mn%' group by all order by 1"
    )
    assert [(r["MeterName"], r["tokens"], r["copies"]) for r in rows] == [
        ("gpt rt aud mn cd in gl 1215 1M Tokens", 0, 2),
        ("gpt rt aud mn in gl 1215 1M Tokens", 640, 2),
        ("gpt rt aud mn out gl 1215 1M Tokens", 631, 2),
    ]
