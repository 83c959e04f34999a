"""The Azure OpenAI meter catalogue, seeds/azure_openai_meters.csv, from Azure Retail Prices.

One row per meter (keyed by the lower-cased name: bills and price lists differ in case) with
its price and what it bills (ingest.sources.meters.parse_meter). `python -m ingest meters`
writes it from three sources, oldest first, and never drops a meter one of them knows:

    ingest/sources/meter_catalogue/realtime_audio_meters.csv   bundled snapshot (333 meters)
    the seed as it is                                          what earlier refreshes found
    Retail Prices items, from dumps and/or the live API        --dump FILE ... / --from-api

Per meter the entry with the latest effective start date wins; on a tie the one with region
counts, then the newer source. Price items reduce to one entry per meter: items of the latest
effective date give the price most regions charge (ties: the lowest), its range and the region
count. Money is Decimal from the JSON text, never float. With no new items the seed is only
re-classified: what to run after changing the parser.

I/O at the edges (read_dump, fetch_items, read_seed, read_catalogue, write_rows); the rest is pure.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, NamedTuple
from urllib.parse import quote

from ingest import config
from ingest.sources import meters

if TYPE_CHECKING:
    import requests

API_URL = "https://prices.azure.com/api/retail/prices"
API_VERSION = "2023-01-01-preview"
DEFAULT_FILTER = "serviceName eq 'Cognitive Services'"
PRODUCT_PREFIX = "azure openai"  # productName, without case

SEED = config.PROJECT_ROOT / "seeds" / "azure_openai_meters.csv"
CATALOGUE = Path(__file__).parent / "sources" / "meter_catalogue" / "realtime_audio_meters.csv"

OVERRIDE, PARSED = "catalogue_override", "catalogue_parsed"  # meter_source values


class CatalogueError(ValueError):
    """A source could not be read, or the catalogue could not be built from it."""


class UnclassifiedMetersError(CatalogueError):
    """Meters the parser cannot classify: every one, with the parser's reason."""

    def __init__(self, failures: list[tuple[str, str]]) -> None:
        self.failures = failures
        lines = "\n".join(f"  {name}: {reason}" for name, reason in failures)
        super().__init__(
            f"{len(failures)} meters cannot be classified (add an override or teach the "
            f"parser in ingest/sources/meters.py):\n{lines}"
        )


@dataclass(frozen=True)
class PriceEntry:
    """One meter's price, as a source knows it."""

    meter_key: str
    meter_name: str
    product_name: str
    unit_of_measure: str
    unit_price_usd: Decimal  # what most regions charge at the latest effective date
    unit_price_min_usd: Decimal
    unit_price_max_usd: Decimal
    effective_start_date: date
    region_count: int | None  # None: the source does not say


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try one page of the API: `attempts` tries in all; after the n-th failure
    wait Retry-After when the server sends it, else backoff_factor * 2**(n-1) seconds (both
    capped at max_wait)."""

    attempts: int = 6
    backoff_factor: float = 1.0
    max_wait: float = 120.0
    timeout: float = 60.0


@dataclass(frozen=True)
class SeedUpdate:
    rows: list[dict[str, Any]]  # classified seed rows, typed (Decimal, date, bool, None)
    new: int  # meters the previous seed did not have
    priced: int | None  # Azure OpenAI meters among the new price items (None: none given)

    @property
    def overrides(self) -> int:
        return sum(row["meter_source"] == OVERRIDE for row in self.rows)


def meter_key(name: str) -> str:
    return name.strip().lower()


# --- reading price items ------------------------------------------------------------------


def read_dump(path: Path) -> Iterator[dict[str, Any]]:
    """Price items of a dump: NDJSON (one API item a line, .ndjson/.jsonl, optionally .gz) or
    one API page saved as JSON ({"Items": [...], "NextPageLink": ..., "Count": ...})."""
    name = path.name.lower()
    kind = name.removesuffix(".gz").rsplit(".", 1)[-1]
    if kind not in ("ndjson", "jsonl", "json"):
        raise CatalogueError(
            f"{path}: unknown dump format (expected .ndjson, .ndjson.gz or a .json API page)"
        )
    try:
        with _open_text(path, compressed=name.endswith(".gz")) as f:
            if kind == "json":
                yield from _page_items(_load(f.read(), str(path)), str(path))
                return
            for number, line in enumerate(f, 1):
                if line.strip():
                    item = _load(line, f"{path}:{number}")
                    if not isinstance(item, dict):
                        raise CatalogueError(f"{path}:{number}: not a price item (a JSON object)")
                    yield item
    except (OSError, EOFError, UnicodeDecodeError) as exc:
        raise CatalogueError(f"{path}: cannot read: {exc}") from None


def _open_text(path: Path, compressed: bool) -> IO[str]:
    return gzip.open(path, "rt", encoding="utf-8") if compressed else path.open(encoding="utf-8")


def _load(text: str | bytes, where: str) -> Any:
    """JSON with every non-integer number as Decimal (prices are never floats)."""
    try:
        return json.loads(text, parse_float=Decimal)
    except ValueError as exc:
        raise CatalogueError(f"{where}: not JSON: {exc}") from None


def _page_items(page: object, where: str) -> list[dict[str, Any]]:
    items = page.get("Items") if isinstance(page, dict) else None
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise CatalogueError(f"{where}: not a Retail Prices page (no 'Items' list of objects)")
    return items


def api_url(base_url: str = API_URL, filter: str = DEFAULT_FILTER) -> str:
    """The first page's URL: the API version and the OData filter, encoded."""
    separator = "&" if "?" in base_url else "?"
    return f"{base_url}{separator}api-version={API_VERSION}&$filter={quote(filter, safe='')}"


def fetch_items(
    base_url: str = API_URL,
    filter: str = DEFAULT_FILTER,
    policy: RetryPolicy = RetryPolicy(),  # frozen: safe to share
    log: Callable[[str], None] | None = None,
) -> Iterator[dict[str, Any]]:
    """Every item the Retail Prices API returns for `filter`, page by page (NextPageLink until
    it is null). Connection errors, timeouts, HTTP 429 and 5xx are retried per `policy`; then,
    or on any other status, CatalogueError names the URL and the status. `log` hears retries."""
    import requests

    url: str | None = api_url(base_url, filter)
    seen: set[str] = set()
    with requests.Session() as session:
        session.headers["Accept"] = "application/json"
        while url:
            if url in seen:
                raise CatalogueError(f"{url}: NextPageLink points to a page already read")
            seen.add(url)
            page = _get_page(session, url, policy, log)
            yield from _page_items(page, url)
            url = page.get("NextPageLink") or None


def _get_page(
    session: requests.Session,
    url: str,
    policy: RetryPolicy,
    log: Callable[[str], None] | None,
) -> dict[str, Any]:
    import requests

    transient = (
        requests.ConnectionError,
        requests.Timeout,
        requests.exceptions.ChunkedEncodingError,
    )
    for attempt in range(1, policy.attempts + 1):
        wait = policy.backoff_factor * 2 ** (attempt - 1)
        try:
            response = session.get(url, timeout=policy.timeout)
        except transient as exc:
            problem = f"{type(exc).__name__}: {exc}"
        else:
            status = response.status_code
            if status == 200:
                return _load(response.content, f"{url}: HTTP 200 body")
            problem = f"HTTP {status} {response.reason}".rstrip()
            if status != 429 and status < 500:
                raise CatalogueError(f"{url}: {problem}: {response.text[:300]}")
            wait = _retry_after(response.headers.get("Retry-After"), wait)
        if attempt == policy.attempts:
            raise CatalogueError(f"{url}: {problem} (gave up after {attempt} attempts)")
        wait = min(wait, policy.max_wait)
        if log:
            log(f"retrying in {wait:g}s ({attempt}/{policy.attempts - 1}): {problem}: {url}")
        time.sleep(wait)
    raise CatalogueError(f"{url}: no attempt made (RetryPolicy.attempts < 1)")


def _retry_after(value: str | None, default: float) -> float:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date)."""
    if not value:
        return default
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return default
    return max(0.0, when.timestamp() - time.time())


# --- price items -> one entry per meter ---------------------------------------------------


def select_items(items: Iterable[Mapping[str, Any]]) -> Iterator[Mapping[str, Any]]:
    """Azure OpenAI consumption prices in USD (productName starts with "Azure OpenAI")."""
    for item in items:
        if (
            str(item.get("productName") or "").strip().lower().startswith(PRODUCT_PREFIX)
            and item.get("type") == "Consumption"
            and item.get("currencyCode") == "USD"
        ):
            yield item


def reduce_items(items: Iterable[Mapping[str, Any]]) -> dict[str, PriceEntry]:
    """One entry per meter key from (selected) price items.

    meter_name: the spelling with the most items (ties: alphabetical); the latest effective
    date's items give product_name and unit_of_measure (same rule), unit_price_usd (the price
    most regions charge; ties: the lowest), its min and max, and region_count."""
    groups: dict[str, list[_Price]] = defaultdict(list)
    for item in items:
        name = _text(item, "meterName")
        groups[meter_key(name)].append(
            _Price(
                name=name.strip(),
                product=_text(item, "productName").strip(),
                unit=_text(item, "unitOfMeasure").strip(),
                region=str(item.get("armRegionName") or "").strip().lower(),
                price=_money(item, "retailPrice"),
                day=_date(item, "effectiveStartDate"),
            )
        )
    entries = {}
    for key, prices in groups.items():
        latest = max(p.day for p in prices)
        current = [p for p in prices if p.day == latest]
        regions: dict[Decimal, set[str]] = defaultdict(set)
        for p in current:
            regions[p.price].add(p.region)
        entries[key] = PriceEntry(
            meter_key=key,
            meter_name=_most_common(p.name for p in prices),
            product_name=_most_common(p.product for p in current),
            unit_of_measure=_most_common(p.unit for p in current),
            unit_price_usd=min(regions, key=lambda price: (-len(regions[price]), price)),
            unit_price_min_usd=min(regions),
            unit_price_max_usd=max(regions),
            effective_start_date=latest,
            region_count=len({p.region for p in current}),
        )
    return entries


class _Price(NamedTuple):
    name: str
    product: str
    unit: str
    region: str
    price: Decimal
    day: date


def _most_common(values: Iterable[str]) -> str:
    counts = Counter(values)
    return min(counts, key=lambda v: (-counts[v], v))


def _where(item: Mapping[str, Any]) -> str:
    return f"price item {item.get('meterId') or item.get('meterName') or '?'}"


def _text(item: Mapping[str, Any], field: str) -> str:
    value = item.get(field)
    if not isinstance(value, str) or not value.strip():
        raise CatalogueError(f"{_where(item)}: no {field} ({value!r})")
    return value


def _money(item: Mapping[str, Any], field: str) -> Decimal:
    value = item.get(field)
    if isinstance(value, bool) or not isinstance(value, Decimal | int | str):
        raise CatalogueError(f"{_where(item)}: {field} is not a number ({value!r})")
    try:
        return Decimal(value)
    except InvalidOperation:
        raise CatalogueError(f"{_where(item)}: {field} is not a number ({value!r})") from None


def _date(item: Mapping[str, Any], field: str) -> date:
    value = item.get(field)
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError:
        raise CatalogueError(f"{_where(item)}: {field} is not a date ({value!r})") from None


# --- the other sources: the seed as it is, the bundled catalogue -------------------------


def read_seed(path: Path = SEED) -> list[PriceEntry]:
    """The seed's entries; none when it does not exist yet. A seed written before price ranges
    were recorded has min = max = the price and no region count."""
    if not path.exists():
        return []
    entries = []
    with path.open(encoding="utf-8", newline="") as f:
        for number, row in enumerate(csv.DictReader(f), 2):
            try:
                price = Decimal(row["unit_price_usd"])
                entries.append(
                    PriceEntry(
                        meter_key=meter_key(row["meter_name"]),
                        meter_name=row["meter_name"].strip(),
                        product_name=row["product_name"],
                        unit_of_measure=row["unit_of_measure"],
                        unit_price_usd=price,
                        unit_price_min_usd=Decimal(row.get("unit_price_min_usd") or price),
                        unit_price_max_usd=Decimal(row.get("unit_price_max_usd") or price),
                        effective_start_date=date.fromisoformat(row["effective_start_date"]),
                        region_count=int(row["region_count"]) if row.get("region_count") else None,
                    )
                )
            except (KeyError, TypeError, ValueError, InvalidOperation) as exc:
                raise CatalogueError(f"{path}:{number}: bad seed row: {exc!r}") from None
    return entries


def read_catalogue(path: Path = CATALOGUE) -> list[PriceEntry]:
    """The bundled catalogue (productName, meterName, unitOfMeasure, retailPriceUSD,
    effectiveStartDate, regionCount, regions): one price per meter, so min = max = it."""
    entries = []
    with path.open(encoding="utf-8", newline="") as f:
        for number, row in enumerate(csv.DictReader(f), 2):
            try:
                price = Decimal(row["retailPriceUSD"])
                entries.append(
                    PriceEntry(
                        meter_key=meter_key(row["meterName"]),
                        meter_name=row["meterName"].strip(),
                        product_name=row["productName"].strip(),
                        unit_of_measure=row["unitOfMeasure"].strip(),
                        unit_price_usd=price,
                        unit_price_min_usd=price,
                        unit_price_max_usd=price,
                        effective_start_date=date.fromisoformat(row["effectiveStartDate"][:10]),
                        region_count=int(row["regionCount"]) if row["regionCount"] else None,
                    )
                )
            except (KeyError, TypeError, ValueError, InvalidOperation) as exc:
                raise CatalogueError(f"{path}:{number}: bad catalogue row: {exc!r}") from None
    return entries


# --- merging, classifying, writing -------------------------------------------------------


def merge_entries(*sources: Iterable[PriceEntry]) -> dict[str, PriceEntry]:
    """Every meter any source knows, oldest source first. Per meter the latest effective start
    date wins; on a tie the entry with a region count, then the newer source."""
    best: dict[str, tuple[tuple[date, bool, int], PriceEntry]] = {}
    for rank, source in enumerate(sources):
        for entry in source:
            order = (entry.effective_start_date, entry.region_count is not None, rank)
            held = best.get(entry.meter_key)
            if held is None or order >= held[0]:
                best[entry.meter_key] = (order, entry)
    return {key: best[key][1] for key in sorted(best)}


PRICE_COLUMNS = (
    "unit_of_measure",
    "unit_price_usd",
    "unit_price_min_usd",
    "unit_price_max_usd",
    "effective_start_date",
    "region_count",
)


# The key and names, what the meter bills and where that came from, the price.
SEED_COLUMNS = (
    "meter_key",
    "meter_name",
    "product_name",
    *meters.CLASSIFIED_FIELDS,
    "meter_source",
    "parse_note",
    *PRICE_COLUMNS,
)


def classify(entries: Iterable[PriceEntry]) -> list[dict[str, Any]]:
    """Seed rows, by meter key: each entry with what the parser says it bills. Raises
    UnclassifiedMetersError naming every meter the parser cannot classify."""
    rows, failures = [], []
    for entry in sorted(entries, key=lambda e: e.meter_key):
        try:
            meter = meters.parse_meter(entry.meter_name, entry.product_name, entry.unit_of_measure)
        except meters.MeterError as exc:
            failures.append((entry.meter_name, str(exc)))
            continue
        rows.append(
            {
                **asdict(entry),
                **{name: getattr(meter, name) for name in meters.CLASSIFIED_FIELDS},
                "meter_source": OVERRIDE if entry.meter_key in meters.OVERRIDES else PARSED,
                "parse_note": meter.note,
            }
        )
    if failures:
        raise UnclassifiedMetersError(failures)
    return rows


def update_seed(
    seed: Path = SEED,
    items: Iterable[Mapping[str, Any]] | None = None,
    catalogue: Path = CATALOGUE,
) -> SeedUpdate:
    """The seed's rows after merging the bundled catalogue, the seed at `seed` and the Azure
    OpenAI meters among `items` (None: re-classify only). Writes nothing."""
    old = read_seed(seed)
    sources: list[Iterable[PriceEntry]] = [read_catalogue(catalogue), old]
    priced = None
    if items is not None:
        entries = reduce_items(select_items(items))
        sources.append(entries.values())
        priced = len(entries)
    merged = merge_entries(*sources)
    rows = classify(merged.values())
    return SeedUpdate(rows, len(merged.keys() - {e.meter_key for e in old}), priced)


def render(rows: Iterable[Mapping[str, Any]]) -> str:
    """CSV text of seed rows: `\\n` line ends, plain decimals, empty for None."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(SEED_COLUMNS)
    for row in rows:
        writer.writerow([_cell(row[column]) for column in SEED_COLUMNS])
    return out.getvalue()


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")  # 0.0 -> 0, 30.0 -> 30, 1E-7 -> 0.0000001
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def write_rows(rows: Iterable[Mapping[str, Any]], path: Path = SEED) -> Path:
    """Write the seed atomically (a temporary file in the same folder, renamed into place)."""
    data = render(rows).encode("utf-8")
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def build_seed(seed: Path = SEED, catalogue: Path = CATALOGUE) -> list[dict[str, Any]]:
    """The seed's rows as the current parser classifies them (what `write_seed` writes)."""
    return update_seed(seed, None, catalogue).rows


def write_seed(path: Path = SEED, seed: Path | None = None, catalogue: Path = CATALOGUE) -> Path:
    """Re-classify the seed at `seed` (default: `path` itself) and write it to `path`."""
    return write_rows(build_seed(seed or path, catalogue), path)
