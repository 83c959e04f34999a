"""Incremental by day: after new days, a late file for an earlier day, copies of landed events
and a session that straddles midnight (landed whole, and rotated at midnight into two logs
landed in different builds), the incrementally built warehouse equals `dbt build
--full-refresh` of the same landing zone - every mart and every event-level table, row for row
- while days outside the rebuilt window were left as they were."""

from __future__ import annotations

import shutil
from datetime import date, datetime, timedelta

import orjson
import pytest

from ingest.simulate import simulate
from tests.conftest import Workspace, write_jsonl

MIDNIGHT = datetime(2026, 4, 7)


def _across_midnight(envelopes: list[dict], tag: str) -> list[dict]:
    """The reference session under new ids, one event every half second from 60 s before
    MIDNIGHT: it starts on 2026-04-06 and ends on 2026-04-07 (UTC)."""
    start = MIDNIGHT - timedelta(seconds=60)
    text = orjson.dumps(envelopes).decode()
    for prefix in ("sess_", "event_", "resp_", "item_", "conv_"):
        text = text.replace(f':"{prefix}', f':"{prefix}{tag}')  # values, never keys
    moved = orjson.loads(text)
    for n, envelope in enumerate(moved):
        at = start + timedelta(milliseconds=500 * n)
        envelope["received_at"] = at.isoformat(timespec="milliseconds") + "Z"
    assert moved[0]["received_at"] < "2026-04-07" < moved[-1]["received_at"]
    return moved


def _tables(ws: Workspace) -> dict[str, list[tuple]]:
    """Every mart and event-level intermediate table, rows sorted, without _built_at."""
    names = ws.query(
        "select table_schema, table_name from information_schema.tables "
        "where table_schema in ('marts', 'intermediate') and table_type = 'BASE TABLE' "
        "order by all"
    )
    tables = {}
    for schema, name in names:
        columns = [
            c
            for (c,) in ws.query(
                "select column_name from information_schema.columns where table_schema = "
                f"'{schema}' and table_name = '{name}' order by ordinal_position"
            )
            if c != "_built_at"
        ]
        select = ", ".join(f'"{c}"' for c in columns)
        tables[f"{schema}.{name}"] = ws.query(
            f'select {select} from {schema}."{name}" order by all'
        )
    return tables


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory, reference_envelopes: list[dict]) -> dict:
    root = tmp_path_factory.mktemp("incremental")
    ws = Workspace(root, root / "landing", root / "warehouse.duckdb")
    sim = root / "sim"
    simulate(sim, date(2026, 4, 1), 8, 2, seed=5, truth="observed", noise=0.01, audio=False,
             overwrite=False)  # fmt: skip
    logs = sorted((sim / "logs").rglob("*.jsonl"))
    late = sim / "logs" / "contoso-voice-weu" / "2026-04-01.jsonl"
    whole = write_jsonl(
        root / "extra" / "midnight-whole.jsonl", _across_midnight(reference_envelopes, "W")
    )
    rotated = _across_midnight(reference_envelopes, "R")
    for envelope in rotated:  # a logger that names the session on every line
        envelope["session_id"] = "sess_RRefCase20260331"
    before = write_jsonl(root / "extra" / "midnight-a.jsonl", rotated[:120])
    after = write_jsonl(root / "extra" / "midnight-b.jsonl", rotated[120:])
    swc_day2 = (sim / "logs" / "contoso-voice-swc" / "2026-04-02.jsonl").read_bytes()
    copied = root / "extra" / "copied-part.jsonl"  # a copy of a landed log's first 200 lines
    copied.write_bytes(b"".join(swc_day2.splitlines(keepends=True)[:200]))

    steps = [
        [p for p in logs if p.stem <= "2026-04-04" and p != late],
        [p for p in logs if p.stem > "2026-04-04"] + [whole, before],
        [late, after, copied],
    ]
    built_at: list[dict] = []
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TOKENRECON_LANDING", str(ws.landing))
        mp.setenv("TOKENRECON_WAREHOUSE", str(ws.warehouse))
        mp.setenv("TOKENRECON_WORKERS", "1")
        assert ws.ingest("costs", str(sim / "cost_exports")).exit_code == 0
        for paths in steps:
            result = ws.ingest("events", *map(str, paths))
            assert result.exit_code == 0, result.stderr
            ws.dbt("build", "--quiet")
            built_at.append(
                dict(
                    ws.query(
                        "select event_date, max(_built_at) "
                        "from intermediate.int_events_deduplicated group by all"
                    )
                )
            )
        incremental = _tables(ws)
        shutil.copy(ws.warehouse, root / "incremental.duckdb")  # kept to read a difference
        ws.dbt("build", "--quiet", "--full-refresh")
        full = _tables(ws)
    return {"incremental": incremental, "full": full, "built_at": built_at, "ws": ws}


def test_incremental_builds_equal_a_full_refresh(built: dict) -> None:
    incremental, full = built["incremental"], built["full"]
    assert sorted(incremental) == sorted(full)
    assert {"marts.fct_response_usage", "intermediate.int_events_deduplicated"} <= set(full)
    differ = [name for name in full if incremental[name] != full[name]]
    assert differ == []
    assert len(full["intermediate.int_events_deduplicated"]) > 10_000


def test_the_session_across_midnight_is_one_session_with_all_its_responses(built: dict) -> None:
    ws: Workspace = built["ws"]
    sessions = ws.query(
        "select session_id, cast(first_event_at as date), cast(last_event_at as date), "
        "responses from marts.fct_session_usage "
        "where session_id like 'sess_W%' or session_id like 'sess_R%' order by 1"
    )
    # the whole log and the log rotated at midnight (its halves landed in different builds)
    # each give one session of 2026-04-06..07 with every response of the reference session
    [(rotated, *r), (whole, *w)] = sessions
    assert rotated.startswith("sess_R") and whole.startswith("sess_W")
    assert w == r
    assert w == [date(2026, 4, 6), date(2026, 4, 7), 1]  # the reference session's one turn
    per_day = ws.query(
        "select usage_date, count(*) from marts.fct_response_usage "
        "where session_id like 'sess_R%' group by all order by 1"
    )
    assert sum(n for _, n in per_day) == w[2]


def test_days_outside_the_rebuilt_window_were_not_rebuilt(built: dict) -> None:
    first, second, third = built["built_at"]
    # step 3 changed 2026-04-01 (a late file; copies of 04-02 events) and 2026-04-07 (the
    # second half of the rotated session): 03-31..04-03 and 04-06..04-08 were rebuilt, not 04-04/05
    rebuilt = {day for day in third if third[day] != second.get(day)}
    assert rebuilt == {date(2026, 4, d) for d in (1, 2, 3, 6, 7, 8)}
    for day in (date(2026, 4, 4), date(2026, 4, 5)):
        assert third[day] == second[day]
    # step 2 added 04-05.. and the whole midnight session: 04-04 was rebuilt, 04-01..03 kept
    assert {d for d in second if second[d] == first.get(d)} == {date(2026, 4, d) for d in (1, 2, 3)}
