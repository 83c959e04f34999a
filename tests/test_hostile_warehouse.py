"""The warehouse never fails on a user's data: bad usage is flagged, left out of the sums and
counted in fct_data_quality; `dbt build` succeeds on an empty landing zone, on bills only and on
logs only, with empty, correctly typed marts."""

from __future__ import annotations

import copy
from datetime import date
from pathlib import Path

import pytest

from ingest.samples.reference_case import write_bill
from tests.conftest import Workspace, write_jsonl

TXT_IN = "gpt rt txt mn in gl 1215 1M Tokens"
AUD_IN = "gpt rt aud mn in gl 1215 1M Tokens"


def _api(ws: Workspace) -> dict[str, int]:
    return {
        meter: int(api)
        for meter, api in ws.query(
            "select meter_name, api_quantity from marts.fct_meter_reconciliation "
            "where resource_name = 'contoso-voice-swc'"
        )
    }


def test_usage_that_breaks_an_invariant_is_left_out_of_the_sums_and_counted(
    workspace: Workspace, reference_envelopes: list[dict], tmp_path: Path
) -> None:
    broken = copy.deepcopy(reference_envelopes)
    for e in broken:
        if e["event"]["type"] == "response.done":
            details = e["event"]["response"]["usage"]["input_token_details"]
            details["cached_tokens_details"]["text_tokens"] = 500  # above the 119 text tokens
            details["cached_tokens"] = 564
    write_jsonl(workspace.root / "broken.jsonl", broken)
    write_bill(tmp_path / "bill", runs=("final",))
    assert workspace.ingest("events", str(workspace.root / "broken.jsonl")).exit_code == 0
    assert workspace.ingest("focus", str(tmp_path / "bill")).exit_code == 0
    workspace.dbt("build")  # green: the negative uncached count never reaches a sum

    assert workspace.query(
        "select has_usage_violation, usage_violations, uncached_text_tokens "
        "from marts.fct_response_usage"
    ) == [(True, "cached exceeds input for a modality", -381)]
    assert workspace.query(
        "select reconciliation_status, count(*) from marts.fct_meter_reconciliation "
        "group by all order by all"
    ) == [("billed_without_usage", 4), ("matched", 2)]  # the response is out; the bill shows
    assert workspace.query(
        "select check_name, check_date, resource_name, subject, affected_records "
        "from marts.fct_data_quality"
    ) == [
        (
            "usage_violation",
            date(2026, 3, 31),
            "contoso-voice-swc",
            "cached exceeds input for a modality",
            1,
        )
    ]


def test_a_response_logged_twice_with_different_usage_is_flagged_not_settled(
    workspace: Workspace, reference_envelopes: list[dict]
) -> None:
    [done] = [e for e in reference_envelopes if e["event"]["type"] == "response.done"]
    other = copy.deepcopy(done)
    other["event"]["event_id"] = "event_copy_with_other_usage"
    other["event"]["response"]["usage"]["output_tokens"] = 600
    other["event"]["response"]["usage"]["output_token_details"]["audio_tokens"] = 483
    other["event"]["response"]["usage"]["total_tokens"] = 829
    write_jsonl(workspace.root / "log.jsonl", [*reference_envelopes, other])
    assert workspace.ingest("events", str(workspace.root / "log.jsonl")).exit_code == 0
    workspace.dbt("build")

    assert workspace.query(
        "select count(*), bool_and(has_usage_violation), min(done_events), min(usage_violations) "
        "from marts.fct_response_usage"
    ) == [(1, True, 2, "response.done logged 2 times with different usage")]
    assert _api(workspace) == {}  # nothing is reconciled from a response nobody can settle
    assert workspace.query(
        "select affected_records from marts.fct_data_quality where check_name = 'usage_violation'"
    ) == [(1,)]


@pytest.mark.parametrize("landed", ["nothing", "bills", "logs"])
def test_dbt_build_succeeds_with_typed_empty_marts(
    workspace: Workspace, reference_envelopes: list[dict], tmp_path: Path, landed: str
) -> None:
    if landed == "bills":
        write_bill(tmp_path / "bill", runs=("final",))
        assert workspace.ingest("focus", str(tmp_path / "bill")).exit_code == 0
    if landed == "logs":
        write_jsonl(workspace.root / "log.jsonl", reference_envelopes)
        assert workspace.ingest("events", str(workspace.root / "log.jsonl")).exit_code == 0
    if landed == "nothing":
        assert not workspace.landing.exists()  # a fresh install: not even the folder
    workspace.dbt("build")  # no "no files found": the landing zone's schema files are in place

    counts = dict(
        workspace.query(
            "select 'responses', count(*) from marts.fct_response_usage union all "
            "select 'billed', count(*) from marts.fct_billed_usage union all "
            "select 'reconciled', count(*) from marts.fct_meter_reconciliation"
        )
    )
    assert (
        counts
        == {
            "nothing": {"responses": 0, "billed": 0, "reconciled": 0},
            "bills": {"responses": 0, "billed": 6, "reconciled": 6},
            "logs": {"responses": 1, "billed": 0, "reconciled": 6},
        }[landed]
    )
    # typed, not just present: money stays DECIMAL even with no rows
    assert workspace.query(
        "select data_type from information_schema.columns "
        "where table_schema = 'marts' and table_name = 'fct_billed_usage' "
        "and column_name = 'billed_cost'"
    ) == [("DECIMAL(38,18)",)]
