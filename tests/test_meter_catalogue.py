"""The meter catalogue seed: Retail Prices dumps and the live API (a local HTTP server here),
reduced to one entry per meter, merged without dropping, classified, written deterministically."""

from __future__ import annotations

import csv
import gzip
import io
import json
import threading
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from typer.testing import CliRunner

from ingest import meter_catalogue as mc
from ingest.cli import app

FIXTURES = Path(__file__).parent / "fixtures"
SLICE = FIXTURES / "retail_prices_slice.ndjson"  # 14 real items of the 2025-08-25 dump
DUMP = (
    Path(__file__).resolve().parents[2]
    / "shared"
    / "reference"
    / "azure-retail-prices"
    / "cognitive_services_2025-08-25.ndjson.gz"
)
needs_dump = pytest.mark.skipif(not DUMP.exists(), reason=f"{DUMP} is not there")

SLICE_ENTRIES = {
    "gpt 4.1 inp regnl tokens": mc.PriceEntry(
        meter_key="gpt 4.1 inp regnl tokens",
        meter_name="gpt 4.1 Inp regnl Tokens",
        product_name="Azure OpenAI",
        unit_of_measure="1K",
        unit_price_usd=Decimal("0.0022"),  # 6 regions; swedencentral charges 0.00242
        unit_price_min_usd=Decimal("0.0022"),
        unit_price_max_usd=Decimal("0.00242"),
        effective_start_date=date(2025, 4, 1),
        region_count=7,
    ),
    "gpt-4o-mini-0718-ft-hstng-regnl unit": mc.PriceEntry(
        meter_key="gpt-4o-mini-0718-ft-hstng-regnl unit",
        meter_name="gpt-4o-mini-0718-FT-Hstng-regnl Unit",
        product_name="Azure OpenAI",
        unit_of_measure="1 Hour",
        unit_price_usd=Decimal("2.04"),  # only southeastasia has the latest date
        unit_price_min_usd=Decimal("2.04"),
        unit_price_max_usd=Decimal("2.04"),
        effective_start_date=date(2025, 1, 1),
        region_count=1,
    ),
    "o1 preview cached input regnl tokens": mc.PriceEntry(
        meter_key="o1 preview cached input regnl tokens",
        meter_name="o1 preview cached input regnl Tokens",
        product_name="Azure OpenAI",
        unit_of_measure="1K",
        unit_price_usd=Decimal("0.00825"),  # one region each: the lowest
        unit_price_min_usd=Decimal("0.00825"),
        unit_price_max_usd=Decimal("0.009075"),
        effective_start_date=date(2024, 10, 1),
        region_count=2,
    ),
}


def slice_lines() -> list[str]:
    return SLICE.read_text().splitlines()


# --- the Retail Prices API, served from 127.0.0.1 -----------------------------------------


class PriceServer:
    """A Retail Prices API on a free loopback port: `pages` of raw JSON items chained by
    NextPageLink ($skip); `failures[skip]` are statuses answered before that page succeeds
    (negative: always). Every request is recorded as (skip, status, $filter)."""

    def __init__(self, pages: list[list[str]], failures: dict[int, list[int]]) -> None:
        self.pages = pages
        self.failures = {skip: list(statuses) for skip, statuses in failures.items()}
        self.seen: list[tuple[int, int, str]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                query = parse_qs(urlsplit(self.path).query)
                skip = int(query.get("$skip", ["0"])[0])
                pending = server.failures.get(skip, [])
                status = pending.pop(0) if pending else 200
                if status < 0:
                    pending.insert(0, status)
                    status = -status
                server.seen.append((skip, status, query["$filter"][0]))
                if status != 200:
                    self.send_response(status)
                    if status == 429:
                        self.send_header("Retry-After", "0")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self._send_page(skip, query)

            def _send_page(self, skip: int, query: dict[str, list[str]]) -> None:
                index = sum(1 for _ in server._starts() if _ < skip)
                page = server.pages[index]
                following = skip + len(page)
                next_link = (
                    "null"
                    if index + 1 == len(server.pages)
                    else json.dumps(
                        f"{server.base_url}?api-version={query['api-version'][0]}"
                        f"&$filter={query['$filter'][0]}&$skip={following}"
                    )
                )
                body = (
                    f'{{"BillingCurrency":"USD","CustomerEntityId":"Default",'
                    f'"Items":[{",".join(page)}],"NextPageLink":{next_link},'
                    f'"Count":{len(page)}}}'
                ).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self.httpd.server_port}/api/retail/prices"

    def _starts(self) -> Iterator[int]:
        start = 0
        for page in self.pages:
            yield start
            start += len(page)

    def __enter__(self) -> PriceServer:
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


FAST = mc.RetryPolicy(attempts=3, backoff_factor=0, timeout=10)


def test_api_pages_are_followed_and_transient_failures_retried() -> None:
    lines = slice_lines()
    pages = [lines[0:5], lines[5:10], lines[10:14]]
    flt = "serviceName eq 'Cognitive Services' and armRegionName ne 'x'"
    retries: list[str] = []
    with PriceServer(pages, failures={5: [429], 10: [503]}) as server:
        items = list(mc.fetch_items(server.base_url, flt, FAST, log=retries.append))
        seen = server.seen

    assert [(skip, status) for skip, status, _ in seen] == [
        (0, 200),
        (5, 429),
        (5, 200),
        (10, 503),
        (10, 200),
    ]
    assert {f for _, _, f in seen} == {flt}  # the filter reaches the server intact
    assert [r.split(":")[0] for r in retries] == ["retrying in 0s (1/2)", "retrying in 0s (1/2)"]
    assert "HTTP 429" in retries[0] and "HTTP 503" in retries[1]
    assert [i["meterId"] for i in items] == [json.loads(line)["meterId"] for line in lines]
    assert all(isinstance(i["retailPrice"], Decimal) for i in items)
    assert mc.reduce_items(mc.select_items(items)) == SLICE_ENTRIES


def test_api_that_keeps_failing_names_url_and_status() -> None:
    with PriceServer([slice_lines()], failures={0: [-500]}) as server:
        with pytest.raises(mc.CatalogueError) as caught:
            list(mc.fetch_items(server.base_url, policy=FAST))
        seen = len(server.seen)
    assert seen == 3
    message = str(caught.value)
    assert message.startswith(f"{mc.api_url(server.base_url)}: HTTP 500")
    assert "gave up after 3 attempts" in message


def test_api_client_error_is_not_retried() -> None:
    with PriceServer([slice_lines()], failures={0: [400]}) as server:
        with pytest.raises(
            mc.CatalogueError, match=r"/api/retail/prices\?api-version=.*: HTTP 400"
        ):
            list(mc.fetch_items(server.base_url, policy=FAST))
        assert len(server.seen) == 1


def test_api_url_encodes_the_filter() -> None:
    assert mc.api_url("https://h/p", "serviceName eq 'Cognitive Services'") == (
        "https://h/p?api-version=2023-01-01-preview"
        "&$filter=serviceName%20eq%20%27Cognitive%20Services%27"
    )


# --- dumps --------------------------------------------------------------------------------


def test_dump_formats_read_the_same_items(tmp_path: Path) -> None:
    lines = slice_lines()
    gz = tmp_path / "slice.ndjson.gz"
    gz.write_bytes(gzip.compress(SLICE.read_bytes()))
    page = tmp_path / "page.json"
    page.write_text(f'{{"Items":[{",".join(lines)}],"NextPageLink":null,"Count":{len(lines)}}}')
    read = [list(mc.read_dump(p)) for p in (SLICE, gz, page)]
    assert read[0] == read[1] == read[2]
    assert len(read[0]) == 14
    assert read[0][5]["retailPrice"] == Decimal("0.00242")


def test_selection_keeps_azure_openai_consumption_in_usd() -> None:
    lines = slice_lines()
    kept = lines[0]
    variants = [
        kept,
        kept.replace('"type":"Consumption"', '"type":"Reservation"'),
        kept.replace('"currencyCode":"USD"', '"currencyCode":"EUR"'),
        kept.replace('"productName":"Azure OpenAI"', '"productName":"AZURE OPENAI GPT5"'),
        kept.replace('"productName":"Azure OpenAI"', '"productName":"Foundry Models"'),
    ]
    items = [json.loads(v, parse_float=Decimal) for v in variants]
    assert list(mc.select_items(items)) == [items[0], items[3]]
    # the slice's own outsiders: a Cognitive Services meter and a PTU reservation
    all_items = [json.loads(line, parse_float=Decimal) for line in lines]
    assert len(list(mc.select_items(all_items))) == 12


def test_bad_dump_lines_are_named(tmp_path: Path) -> None:
    bad = tmp_path / "bad.ndjson"
    bad.write_text(f"{slice_lines()[0]}\n{{not json\n")
    with pytest.raises(mc.CatalogueError, match=r"bad\.ndjson:2: not JSON"):
        list(mc.read_dump(bad))
    noprice = json.loads(slice_lines()[0], parse_float=Decimal)
    noprice["retailPrice"] = None
    with pytest.raises(
        mc.CatalogueError, match=r"price item 002b52a5.*retailPrice is not a number"
    ):
        mc.reduce_items([noprice])
    with pytest.raises(mc.CatalogueError, match="unknown dump format"):
        list(mc.read_dump(tmp_path / "prices.csv"))


def test_spelling_with_most_items_names_the_meter() -> None:
    base = json.loads(slice_lines()[0], parse_float=Decimal)
    items = [
        {**base, "meterName": "GPT 4.1 inp regnl Tokens", "armRegionName": "a"},
        {**base, "meterName": "gpt 4.1 Inp regnl Tokens", "armRegionName": "b"},
        {**base, "meterName": "gpt 4.1 Inp regnl Tokens ", "armRegionName": "c"},
    ]
    (entry,) = mc.reduce_items(items).values()
    assert entry.meter_name == "gpt 4.1 Inp regnl Tokens"
    assert entry.region_count == 3
    tie = mc.reduce_items(items[:2])["gpt 4.1 inp regnl tokens"]
    assert tie.meter_name == "GPT 4.1 inp regnl Tokens"  # alphabetical: upper case first


@needs_dump
def test_the_real_dump_has_653_azure_openai_meters() -> None:
    entries = mc.reduce_items(mc.select_items(mc.read_dump(DUMP)))
    assert len(entries) == 653
    assert entries["gpt 4.1 inp regnl tokens"] == SLICE_ENTRIES["gpt 4.1 inp regnl tokens"]
    products = {e.product_name for e in entries.values()}
    assert products == {
        "Azure OpenAI",
        "Azure OpenAI GPT5",
        "Azure OpenAI Reasoning",
        "Azure OpenAI Image Video",
        "Azure OpenAI OSS models",
        "Azure OpenAI Free Meter",
    }


# --- merging ------------------------------------------------------------------------------


def entry(key: str, price: str, day: date, regions: int | None = 1) -> mc.PriceEntry:
    return mc.PriceEntry(
        key, key, "Azure OpenAI", "1K", Decimal(price), Decimal(price), Decimal(price), day, regions
    )


def test_merge_never_drops_and_the_latest_date_wins() -> None:
    old = [entry("only old", "1", date(2024, 1, 1)), entry("both", "1", date(2025, 1, 1))]
    catalogue = [entry("both", "9", date(2026, 1, 1)), entry("tie", "1", date(2025, 1, 1))]
    new = [
        entry("both", "2", date(2025, 6, 1)),  # older than the catalogue's: loses
        entry("tie", "2", date(2025, 1, 1)),  # same date: the newer source wins
        entry("only new", "3", date(2025, 8, 1)),
    ]
    merged = mc.merge_entries(old, catalogue, new)
    assert list(merged) == ["both", "only new", "only old", "tie"]
    assert {k: e.unit_price_usd for k, e in merged.items()} == {
        "both": Decimal("9"),
        "only new": Decimal("3"),
        "only old": Decimal("1"),
        "tie": Decimal("2"),
    }


def test_merge_prefers_an_entry_with_region_counts_on_a_tie() -> None:
    legacy_seed = [entry("m", "1", date(2025, 1, 1), regions=None)]
    catalogue = [entry("m", "1", date(2025, 1, 1), regions=4)]
    assert mc.merge_entries(catalogue, legacy_seed)["m"].region_count == 4


def test_seed_and_catalogue_sources_read(tmp_path: Path) -> None:
    catalogue = mc.read_catalogue()
    assert len(catalogue) == 333
    hd = next(e for e in catalogue if e.meter_key == "speech-text to speech hd-global characters")
    assert hd == mc.PriceEntry(
        "speech-text to speech hd-global characters",
        "Speech-Text to Speech HD-global Characters",
        "Azure OpenAI",
        "1M",
        Decimal("30.0"),
        Decimal("30.0"),
        Decimal("30.0"),
        date(2024, 6, 1),
        2,
    )
    assert mc.read_seed(tmp_path / "missing.csv") == []
    legacy = tmp_path / "legacy.csv"
    legacy.write_text(
        "meter_key,meter_name,product_name,unit_of_measure,unit_price_usd,effective_start_date\n"
        "x tokens,X Tokens,Azure OpenAI,1K,0.5,2025-01-01\n"
    )
    assert mc.read_seed(legacy) == [
        mc.PriceEntry(
            "x tokens",
            "X Tokens",
            "Azure OpenAI",
            "1K",
            Decimal("0.5"),
            Decimal("0.5"),
            Decimal("0.5"),
            date(2025, 1, 1),
            None,
        )
    ]
    legacy.write_text(legacy.read_text() + "y tokens,Y Tokens,Azure OpenAI,1K,cheap,2025-01-01\n")
    with pytest.raises(mc.CatalogueError, match=r"legacy\.csv:3: bad seed row"):
        mc.read_seed(legacy)


# --- the command --------------------------------------------------------------------------


def meters_cli(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["meters", *args], env=env, catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_cli_unreadable_dump_exits_1_and_writes_nothing(tmp_path: Path) -> None:
    bad = tmp_path / "prices.ndjson.gz"
    bad.write_bytes(b"not gzip")
    seed = tmp_path / "seed.csv"
    code, out, err = meters_cli("--dump", str(bad), "--seed", str(seed))
    assert (code, out) == (1, "")
    assert err.startswith(f"error: {bad}: cannot read: ")
    assert not seed.exists()
    code, _, err = meters_cli("--dump", str(tmp_path / "missing.ndjson"), "--seed", str(seed))
    assert code == 2 and "does not exist" in err


def test_cli_defaults_are_the_modules() -> None:
    import typer.main

    command = typer.main.get_command(app).commands["meters"]  # type: ignore[attr-defined]
    defaults = {p.name: p.default for p in command.params}
    assert (defaults["api_url"], defaults["filter_"]) == (mc.API_URL, mc.DEFAULT_FILTER)


def test_cli_builds_merges_and_reclassifies_idempotently(tmp_path: Path) -> None:
    seed = tmp_path / "seed.csv"
    env = {"TOKENRECON_METER_SEED": str(seed)}
    assert meters_cli(env=env) == (
        0,
        f"meters: 333 meters (333 new, 0 by override) -> {seed}\n",
        "",
    )
    from_catalogue = seed.read_bytes()

    code, out, _ = meters_cli("--dump", str(SLICE), "--seed", str(seed))
    assert (code, out) == (0, f"meters: 336 meters (3 new, 0 by override) -> {seed}\n")
    merged = seed.read_bytes()
    assert meters_cli("--dump", str(SLICE), "--seed", str(seed))[1].startswith(
        "meters: 336 meters (0 new, "
    )
    assert seed.read_bytes() == merged  # byte-identical
    assert meters_cli(env=env)[0] == 0  # re-classify only: keeps the dump's meters
    assert seed.read_bytes() == merged

    text = merged.decode()
    assert "\r" not in text
    lines = text.splitlines()
    assert lines[0] == ",".join(mc.SEED_COLUMNS)
    assert set(lines) > set(from_catalogue.decode().splitlines()) - {lines[0]}
    rows = {row["meter_key"]: row for row in csv.DictReader(io.StringIO(text))}
    assert list(rows) == sorted(rows)
    gpt41 = rows["gpt 4.1 inp regnl tokens"]
    assert {k: gpt41[k] for k in mc.PRICE_COLUMNS} == {
        "unit_of_measure": "1K",
        "unit_price_usd": "0.0022",
        "unit_price_min_usd": "0.0022",
        "unit_price_max_usd": "0.00242",
        "effective_start_date": "2025-04-01",
        "region_count": "7",
    }
    assert (gpt41["family"], gpt41["direction"], gpt41["deployment_type"]) == (
        "gpt-4.1",
        "input",
        "regional",
    )
    assert (gpt41["meter_source"], gpt41["parse_note"]) == ("catalogue_parsed", "parsed")
    # a catalogue price written as 30.0 is written as 30, whatever the source's spelling
    hd = rows["speech-text to speech hd-global characters"]
    assert (hd["unit_price_usd"], hd["region_count"]) == ("30", "2")


def test_cli_from_api_writes_what_the_dump_writes(tmp_path: Path) -> None:
    from_dump, from_api = tmp_path / "dump.csv", tmp_path / "api.csv"
    assert meters_cli("--dump", str(SLICE), "--seed", str(from_dump))[0] == 0
    lines = slice_lines()
    with PriceServer([lines[:7], lines[7:]], failures={}) as server:
        code, out, err = meters_cli(
            "--from-api", "--api-url", server.base_url, "--seed", str(from_api)
        )
        assert [skip for skip, _, _ in server.seen] == [0, 7]
    assert (code, err) == (0, "")
    assert out == f"meters: 336 meters (336 new, 0 by override) -> {from_api}\n"
    assert from_api.read_bytes() == from_dump.read_bytes()


def test_cli_lists_every_meter_it_cannot_classify(tmp_path: Path) -> None:
    line = slice_lines()[0]
    dump = tmp_path / "new.ndjson"
    dump.write_text(
        "\n".join(
            line.replace("gpt 4.1 Inp regnl Tokens", name)
            for name in ("mystery meter xyz Tokens", "Llama-3.3-70B-Instruct-inp-glbl Tokens")
        )
    )
    seed = tmp_path / "seed.csv"
    seed.write_text("untouched")
    code, out, err = meters_cli("--dump", str(dump), "--seed", str(seed))
    assert (code, out) == (1, "")
    assert err.startswith("error: 2 meters cannot be classified")
    assert "\n  Llama-3.3-70B-Instruct-inp-glbl Tokens: " in err
    assert "\n  mystery meter xyz Tokens: no known model family" in err
    assert seed.read_text() == "untouched"


def test_the_committed_seed_is_current(tmp_path: Path) -> None:
    """What `python -m ingest meters` (re-classify) writes; every catalogue and dump meter."""
    fresh = mc.write_seed(tmp_path / "seed.csv", seed=mc.SEED)
    assert fresh.read_bytes() == mc.SEED.read_bytes(), "rebuild it: python -m ingest meters"
    keys = {row["meter_key"] for row in csv.DictReader(mc.SEED.open(encoding="utf-8"))}
    expected = {e.meter_key for e in mc.read_catalogue()}
    if DUMP.exists():
        expected |= set(mc.reduce_items(mc.select_items(mc.read_dump(DUMP))))
        assert len(expected) == 848
    assert keys >= expected


def test_cli_warns_when_the_sources_hold_no_azure_openai_prices(tmp_path: Path) -> None:
    other = tmp_path / "speech.ndjson"
    other.write_text(slice_lines()[3] + "\n")  # Academic Knowledge, a Cognitive Services meter
    seed = tmp_path / "seed.csv"
    code, out, err = meters_cli("--dump", str(other), "--seed", str(seed))
    assert (code, err) == (0, "meters: warning: the sources hold no Azure OpenAI prices in USD\n")
    assert out == f"meters: 333 meters (333 new, 0 by override) -> {seed}\n"
