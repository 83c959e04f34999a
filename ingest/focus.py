"""`ingest focus`: Azure Cost Management FOCUS exports (local or Azure Blob) -> landed Parquet.

An export run is found by its manifest.json, and its data files are exactly the manifest's
`blobs[].blobName`. A FOCUS file no manifest names (a CSV someone downloaded) is a run of its
own. Each data file is read in batches (pyarrow: CSV, CSV gzip, Parquet, Parquet snappy),
normalised to the canonical FOCUS columns column by column (ingest.focus_columns, applying the
SQL rule of ingest.sources.focus) and written as Parquet parts; rows that cannot be read go to
the quarantine with their row and reason. The files of a run are read in parallel threads.

Every run is landed with its manifest facts and its completeness (a listed blob missing, row
counts that disagree with the manifest, or quarantined rows make it incomplete). After landing,
the models make exactly one run current per (export scope, billing month): see
models/intermediate/billing/int_export_runs_current.sql.

Layout under the landing zone:
    focus_costs/run_key=<run>/part-<n>-<k>.parquet  rows of the run's n-th data file; a part
                                                    holds the columns its rows have values in
    focus_runs/run_key=<run>/run.parquet            the run's bookkeeping row, written last (its
                                                    commit record); one file per run, so
                                                    concurrent ingests never rewrite a shared file
    focus_meters/run_key=<run>/meters.parquet       every meter name the run's bill uses,
                                                    classified by ingest.sources.meters
    focus_run_totals/run_key=<run>/totals.parquet   rows and BilledCost the run landed per
                                                    billing currency (what the marts must hold)
"""

from __future__ import annotations

import csv
import gzip
import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Context, Decimal, localcontext
from pathlib import Path, PurePosixPath
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import xxhash

from ingest import azure_blob
from ingest.focus_columns import ColumnNormaliser, read_as_dictionary, stacked, write_part
from ingest.inputs import InputFile, SourceError, resolve
from ingest.landing import LandingZone, LoadRecord, load_key, write_table_atomically
from ingest.sources import cost_details, meters
from ingest.sources import focus as fx

COSTS = "focus_costs"
RUNS = "focus_runs"
METERS = "focus_meters"
TOTALS = "focus_run_totals"
COST_TYPE = pa.decimal128(38, 18)
EXACT = Context(prec=80)  # sums of DECIMAL(38,18) values, exactly
DATA_SUFFIXES = (".csv", ".csv.gz", ".gz", ".parquet")
CSV_BLOCK_BYTES = 2 << 20  # CSV bytes the reader parses at once
CSV_BLOCKS_PER_BATCH = 4  # blocks normalised together
PARQUET_BATCH_ROWS = 65_536
PART_ROWS = 250_000  # landed rows per part (at least; the last part of a file holds the rest)
QUARANTINE_ECHO = 20

RUN_SCHEMA = pa.schema(
    [
        ("run_key", pa.string()),
        ("scope", pa.string()),
        ("export_name", pa.string()),
        ("dataset_type", pa.string()),
        ("dataset_version", pa.string()),
        ("time_frame", pa.string()),
        ("run_id", pa.string()),
        ("submitted_at", pa.timestamp("us", tz="UTC")),
        ("start_date", pa.timestamp("us", tz="UTC")),
        ("end_date", pa.timestamp("us", tz="UTC")),
        ("billing_month", pa.date32()),
        ("source_uri", pa.string()),
        ("source_hash", pa.string()),
        ("is_loose_file", pa.bool_()),
        ("manifest_blob_count", pa.int64()),
        ("manifest_row_count", pa.int64()),
        ("files_read", pa.int64()),
        ("rows_read", pa.int64()),
        ("rows_landed", pa.int64()),
        ("rows_quarantined", pa.int64()),
        ("status", pa.string()),
        ("problems", pa.string()),
        ("landed_at", pa.timestamp("us", tz="UTC")),
    ]
)


# What a run landed, per billing currency: the warehouse must account for exactly these rows and
# this BilledCost (a dbt test holds it; rows that were quarantined are in the run's counts).
TOTALS_SCHEMA = pa.schema(
    [
        ("run_key", pa.string()),
        ("billing_currency", pa.string()),
        ("rows_landed", pa.int64()),
        ("billed_cost_landed", COST_TYPE),
    ]
)


def is_data_file(name: str) -> bool:
    lowered = name.lower()
    return lowered.endswith(DATA_SUFFIXES) and not lowered.endswith(".json.gz")


def _accepts(name: str) -> bool:
    return name.rsplit("/", 1)[-1].lower() == "manifest.json" or is_data_file(name)


@dataclass
class RunPlan:
    """A run to land: its manifest (None for a loose file) and its data files in order; a data
    file that the manifest names but that does not exist is None."""

    run_key: str
    source: InputFile
    source_hash: str
    manifest: fx.Manifest | None
    files: list[tuple[str, InputFile | None, fx.ManifestBlob | None]]
    repeated: list[fx.ManifestBlob] = field(default_factory=list)  # listed again: read once
    # what the manifest's exportConfig.type says the files hold (None: each file's header says)
    dataset: fx.CostDataset | None = None
    dataset_type: str | None = None
    loose_type: str | None = None  # a loose cost details file's type, as the user said it


@dataclass
class RunResult:
    row: dict[str, Any]
    echo: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    unreadable: bool = False  # a data file was missing or could not be read


def _read_all(file: InputFile) -> bytes:
    with file.open() as stream:
        return stream.read()


def _content_hash(file: InputFile) -> str:
    digest = xxhash.xxh3_128()
    with file.open() as stream:
        while block := stream.read(8 << 20):
            digest.update(block)
    return digest.hexdigest()


def _blob_path_for(manifest_uri: str, blob_name: str) -> str:
    """Where a manifest's blobName lives. blobName is relative to the export's root (the
    container, as Cost Management writes it, or the folder a copy was made into); the manifest
    sits in the blob's folder, so that root is the manifest's folder minus the blob's folder.
    The same rule serves local paths and az:// locations."""
    scheme = azure_blob.AZ_SCHEME if manifest_uri.startswith(azure_blob.AZ_SCHEME) else ""
    folder = PurePosixPath(manifest_uri[len(scheme) :]).parent
    blob = PurePosixPath(blob_name.lstrip("/"))
    blob_folder = blob.parent.parts
    if blob_folder and folder.parts[-len(blob_folder) :] == blob_folder:
        return scheme + str(PurePosixPath(*folder.parts[: -len(blob_folder)]) / blob)
    return scheme + str(folder / blob.name)


_SAFE_KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")


def safe_run_key(run_id: str | None, fallback: str) -> str:
    """A run key that is safe as a folder name: the manifest's runId when it is a plain name (a
    GUID), else `run-<hash of it>` - a runId with `/`, `..` or other characters never becomes
    a path."""
    if not run_id:
        return fallback
    if _SAFE_KEY.fullmatch(run_id) and ".." not in run_id:
        return run_id
    return f"run-{xxhash.xxh3_128(run_id.encode()).hexdigest()}"


def plan_runs(
    sources: list[str], account_url: str | None, loose_type: str | None = None
) -> list[RunPlan]:
    """Runs under the sources: one per manifest, one per data file no manifest names
    (`loose_type`: the dataset type of such a file when it holds cost details)."""
    found = {f.uri: f for f in resolve(sources, _accepts, account_url)}
    manifests = [f for uri, f in found.items() if uri.rsplit("/", 1)[-1].lower() == "manifest.json"]
    named: set[str] = set()
    plans: list[RunPlan] = []
    for manifest_file in sorted(manifests, key=lambda f: f.uri):
        content = _read_all(manifest_file)
        try:
            manifest = fx.Manifest.parse(content)
        except fx.ExportError as exc:
            raise SourceError(f"{manifest_file.uri}: {exc}") from None
        files = []
        repeated = []
        for blob in manifest.blobs:
            uri = _blob_path_for(manifest_file.uri, blob.name)
            if uri in named:  # listed twice: read once, and say so
                repeated.append(blob)
                continue
            named.add(uri)
            files.append((uri, found.get(uri) or _lookup(uri, account_url), blob))
        source_hash = xxhash.xxh3_128(content).hexdigest()
        run_key = safe_run_key(manifest.run_id, f"manifest-{source_hash}")
        dataset, dataset_type = cost_details.dataset_of_export_type(manifest.dataset_type) or (
            None,
            manifest.dataset_type,
        )
        plans.append(
            RunPlan(
                run_key,
                manifest_file,
                source_hash,
                manifest,
                files,
                repeated,
                dataset,
                dataset_type,
            )
        )
    for uri, file in sorted(found.items()):
        if uri in named or not is_data_file(uri):
            continue
        source_hash = _content_hash(file)
        plan = RunPlan(f"file-{source_hash}", file, source_hash, None, [(uri, file, None)])
        plan.loose_type = loose_type
        plans.append(plan)
    return plans


def _lookup(uri: str, account_url: str | None) -> InputFile | None:
    """A file a manifest names but the listing did not show (outside the SOURCE prefix)."""
    try:
        return next(iter(resolve([uri], lambda _: True, account_url)))
    except (SourceError, StopIteration):
        return None
    except Exception:  # the Blob SDK raises many kinds of error for a missing blob
        return None


@contextmanager
def _local_copy(file: InputFile) -> Iterator[Path]:
    """A local path for the file: itself, or a streamed download in a temporary folder."""
    if file.local_path is not None:
        yield file.local_path
        return
    with tempfile.TemporaryDirectory(prefix="tokenrecon-") as folder:
        path = Path(folder) / "download"  # never the blob's name: that comes from the input
        with file.open() as src, path.open("wb") as dst:
            shutil.copyfileobj(src, dst, 8 << 20)
        yield path


def _csv_header(path: Path, compressed: bool) -> list[str]:
    opener = gzip.open if compressed else open
    with opener(path, "rt", encoding="utf-8-sig", newline="") as f:  # type: ignore[operator]
        return next(csv.reader(f), [])


def _header(path: Path, name: str) -> list[str]:
    """A data file's column names (CSV header, or Parquet schema)."""
    lowered = name.lower()
    if lowered.endswith(".parquet"):
        return pq.read_schema(path).names
    return _csv_header(path, lowered.endswith(".gz"))


@dataclass
class FileRead:
    rows_read: int = 0
    rows_landed: int = 0
    quarantined: list[dict[str, Any]] = field(default_factory=list)
    billing_months: set[date] = field(default_factory=set)
    max_charge_end: datetime | None = None
    problem: str | None = None
    dataset: fx.CostDataset | None = None  # what the file holds (None: unreadable, or empty)
    # landed rows and cost per billing currency (None: rows without a currency)
    totals: dict[str | None, tuple[int, Decimal]] = field(default_factory=dict)
    accounts: set[str] = field(default_factory=set)  # sub account ids of the rows
    billing_accounts: set[str] = field(default_factory=set)  # billing account ids of the rows


def add_totals(
    totals: dict[str | None, tuple[int, Decimal]],
    table: pa.Table,
    dataset: fx.CostDataset = fx.FOCUS,
) -> dict[str | None, tuple[int, Decimal]]:
    """Add a landed table's rows and cost (FOCUS: BilledCost; cost details: the cost in billing
    currency) per billing currency to `totals` (exact decimals; a row without a cost counts as
    a row and adds nothing)."""
    if table.num_rows == 0:
        return totals
    names = table.column_names
    currency = (
        pc.cast(table[dataset.currency], pa.string())
        if dataset.currency in names
        else pa.nulls(table.num_rows, pa.string())
    )
    cost = table[dataset.cost] if dataset.cost in names else pa.nulls(table.num_rows, COST_TYPE)
    grouped = (
        pa.table({"currency": currency, "cost": cost})
        .group_by("currency")
        .aggregate([("cost", "sum"), ([], "count_all")])
    )
    with localcontext(EXACT):  # Python's default 28 digits would round a large bill's total
        for row in grouped.to_pylist():
            rows, billed = totals.get(row["currency"], (0, Decimal(0)))
            totals[row["currency"]] = (
                rows + row["count_all"],
                billed + (row["cost_sum"] if row["cost_sum"] is not None else Decimal(0)),
            )
    return totals


def _batches(
    path: Path, name: str, on_invalid, dataset: fx.CostDataset = fx.FOCUS
) -> Iterator[pa.RecordBatch]:
    """The file's rows in batches, as stored: text columns of few values dictionary-encoded
    (see focus_columns.read_as_dictionary), other text as text, Parquet types as they are."""
    lowered = name.lower()
    if lowered.endswith(".parquet"):
        parquet = pq.ParquetFile(path)
        text = [
            f.name
            for f in parquet.schema_arrow
            if pa.types.is_string(f.type) and read_as_dictionary(f.name, dataset)
        ]
        parquet = pq.ParquetFile(path, read_dictionary=text)
        yield from parquet.iter_batches(batch_size=PARQUET_BATCH_ROWS)
        return
    compressed = lowered.endswith(".gz")
    header = _csv_header(path, compressed)
    if not header:
        return
    dictionary = pa.dictionary(pa.int32(), pa.string())
    stream = pa.input_stream(str(path), compression="gzip" if compressed else None)
    reader = pacsv.open_csv(
        stream,
        read_options=pacsv.ReadOptions(block_size=CSV_BLOCK_BYTES),
        parse_options=pacsv.ParseOptions(newlines_in_values=True, invalid_row_handler=on_invalid),
        convert_options=pacsv.ConvertOptions(
            column_types={
                c: dictionary if read_as_dictionary(c, dataset) else pa.string() for c in header
            },
            strings_can_be_null=False,
        ),
    )
    group: list[pa.RecordBatch] = []
    for batch in reader:  # small blocks parse fastest; normalising wants bigger batches
        group.append(batch)
        if len(group) == CSV_BLOCKS_PER_BATCH:
            yield from _combined(group)
            group = []
    yield from _combined(group)


def _combined(batches: list[pa.RecordBatch]) -> list[pa.RecordBatch]:
    """Batches as one, their dictionaries unified."""
    if len(batches) < 2:
        return batches
    return pa.Table.from_batches(batches).unify_dictionaries().combine_chunks().to_batches()


def _raw_record(batch: pa.RecordBatch, index: int) -> bytes:
    """A quarantined row as read: its non-empty values by column, as JSON."""
    row = batch.slice(index, 1).to_pylist()[0]
    return json.dumps({k: v for k, v in row.items() if v not in (None, "")}, default=str).encode()


def read_file(
    path: Path,
    uri: str,
    run_key: str,
    parts: Path,
    con: duckdb.DuckDBPyConnection,
    dataset: fx.CostDataset | None = None,
) -> FileRead:
    """Normalise one data file of `dataset` (None: the one its header belongs to) into Parquet
    parts `<parts>-<k>.parquet` (every part, or none)."""
    result = FileRead()
    try:
        header = _header(path, uri)
    except (pa.ArrowInvalid, OSError, EOFError, UnicodeDecodeError, csv.Error) as exc:
        result.problem = f"{uri}: could not be read: {exc}"
        return result
    if not header:
        return result
    if dataset is None:
        dataset = cost_details.dataset_of_columns(header)
        if dataset is None:
            missing = ", ".join(fx.missing_required(header))
            result.problem = (
                f"{uri}: no column {missing}: not a FOCUS cost file, nor a cost details "
                "(actual or amortized cost) file"
            )
            return result
    result.dataset = dataset

    def on_invalid(row) -> str:
        result.rows_read += 1
        result.quarantined.append(
            {
                "source_uri": uri,
                "record_number": row.number,
                "reason": f"malformed CSV row: {row.expected_columns} columns expected, "
                f"{row.actual_columns} found",
                "raw_record": row.text.encode(),
                "quarantined_at": datetime.now(UTC),
            }
        )
        return "skip"

    normaliser = ColumnNormaliser(con, run_key, uri, dataset)
    pending: list[pa.RecordBatch] = []
    written: list[Path] = []

    def flush() -> None:
        if not pending:
            return
        good = stacked(pending, dataset)
        pending.clear()
        written.append(parts.with_name(f"{parts.name}-{len(written):04d}.parquet"))
        written[-1].parent.mkdir(parents=True, exist_ok=True)
        write_part(good, written[-1])
        add_totals(result.totals, good, dataset)
        for column, found in (
            (dataset.billing_account, result.billing_accounts),
            (dataset.sub_account, result.accounts),
        ):
            if column in good.column_names:
                found.update(pc.unique(pc.cast(good[column], pa.string())).drop_null().to_pylist())
        if dataset.billing_period_start in good.column_names:
            starts = good[dataset.billing_period_start]
            for month in pc.unique(pc.floor_temporal(starts, unit="month")):
                if month.is_valid:
                    result.billing_months.add(month.as_py().date())
        charge_end = None
        if dataset.charge_end and dataset.charge_end in good.column_names:
            charge_end = pc.max(good[dataset.charge_end]).as_py()
        elif dataset.charge_end is None and dataset.charge_start in good.column_names:
            last_day = pc.max(good[dataset.charge_start]).as_py()  # a row is that day
            charge_end = last_day + timedelta(days=1) if last_day else None
        if charge_end and (result.max_charge_end is None or charge_end > result.max_charge_end):
            result.max_charge_end = charge_end

    offset = 0
    try:
        for batch in _batches(path, uri, on_invalid, dataset):
            if offset == 0:
                missing = fx.missing_required(batch.schema.names, dataset)
                if missing:
                    kind = "FOCUS cost" if dataset is fx.FOCUS else "cost details"
                    result.problem = f"{uri}: no column {', '.join(missing)}: not a {kind} file"
                    return result
            landed, problems = normaliser.normalise(batch, offset + 1)
            offset += batch.num_rows
            result.rows_read += batch.num_rows
            if problems.null_count < len(problems):
                refused = pc.is_valid(problems)
                for index in pc.indices_nonzero(refused).to_pylist():
                    result.quarantined.append(
                        {
                            "source_uri": uri,
                            "record_number": landed["source_row"][index].as_py(),
                            "reason": problems[index].as_py(),
                            "raw_record": _raw_record(batch, index),
                            "quarantined_at": datetime.now(UTC),
                        }
                    )
                landed = landed.filter(pc.invert(refused))
            if landed.num_rows:
                pending.append(landed)
                result.rows_landed += landed.num_rows
            if sum(b.num_rows for b in pending) >= PART_ROWS:
                flush()
        flush()
    except (
        pa.ArrowInvalid,
        OSError,
        EOFError,
        gzip.BadGzipFile,
        duckdb.Error,
        UnicodeDecodeError,
        csv.Error,
    ) as exc:
        result.problem = f"{uri}: could not be read: {exc}"
    if result.problem:
        for part in written:
            part.unlink(missing_ok=True)
    return result


def _run_row(plan: RunPlan) -> dict[str, Any]:
    m = plan.manifest
    return {
        "run_key": plan.run_key,
        "scope": (m.scope if m and m.scope else None) or f"file:{plan.source.uri}",
        "export_name": m.export_name if m else None,
        "dataset_type": plan.dataset_type,
        "dataset_version": m.dataset_version if m else None,
        "time_frame": m.time_frame if m else None,
        "run_id": m.run_id if m else None,
        "submitted_at": m.submitted_at if m else None,
        "start_date": m.start_date if m else None,
        "end_date": m.end_date if m else None,
        "billing_month": m.billing_month if m else None,
        "source_uri": plan.source.uri,
        "source_hash": plan.source_hash,
        "is_loose_file": m is None,
        "manifest_blob_count": (m.blob_count if m.blob_count is not None else len(m.blobs))
        if m
        else None,
        "manifest_row_count": m.row_count if m else None,
        "files_read": 0,
        "rows_read": 0,
        "rows_landed": 0,
        "rows_quarantined": 0,
        "status": None,
        "problems": None,
        "landed_at": datetime.now(UTC),
    }


def land_run(plan: RunPlan, zone: LandingZone, workers: int = 1) -> RunResult:
    """Land one run whole: its parts replace any earlier landing of the same run. Up to
    `workers` data files are read at once (threads: Arrow, DuckDB and the Parquet writer work
    outside Python's lock); results are taken in the manifest's order."""
    row = _run_row(plan)
    problems: list[str] = []
    notes: list[str] = []
    # landing a run again: un-commit it first, so that a crash before its new commit record
    # leaves the run absent (and landed again next time), never old bookkeeping over new rows
    run_path(zone, plan.run_key).unlink(missing_ok=True)
    # a locked folder of this process's own, where no reader looks; the run appears only when
    # its folder is renamed into place (leftovers of killed runs are removed on the next open)
    scratch = zone.scratch(COSTS)
    staging = scratch.folder / "run"
    staging.mkdir()
    quarantined: list[dict[str, Any]] = []
    months: set[date] = set()
    accounts: set[str] = set()
    billing_accounts: set[str] = set()
    unreadable = False
    charge_end: datetime | None = None
    totals: dict[str | None, tuple[int, Decimal]] = {}
    dataset = plan.dataset

    def read_nth(n: int) -> FileRead | None:
        uri, file, _ = plan.files[n]
        if file is None:
            return None
        with _local_copy(file) as path:
            return read_file(
                path, uri, plan.run_key, staging / f"part-{n:04d}", connect(), plan.dataset
            )

    pool = ThreadPoolExecutor(max(1, workers))
    try:
        reads = pool.map(read_nth, range(len(plan.files)))
        for (uri, file, blob), read in zip(plan.files, reads, strict=True):
            if file is None or read is None:
                problems.append(f"{uri}: listed in the manifest but missing")
                unreadable = True
                continue
            row["files_read"] += 1
            if read.dataset is not None:
                if dataset is None:
                    dataset = read.dataset
                elif read.dataset is not dataset:  # no manifest type: the headers disagree
                    problems.append(f"{uri}: a {read.dataset.name} file in a {dataset.name} run")
                    unreadable = True
            row["rows_read"] += read.rows_read
            row["rows_landed"] += read.rows_landed
            quarantined.extend(read.quarantined)
            if not read.problem:
                with localcontext(EXACT):
                    for currency, (rows, billed) in read.totals.items():
                        before = totals.get(currency, (0, Decimal(0)))
                        totals[currency] = (before[0] + rows, before[1] + billed)
            months |= read.billing_months
            accounts |= read.accounts
            billing_accounts |= read.billing_accounts
            if read.max_charge_end and (charge_end is None or read.max_charge_end > charge_end):
                charge_end = read.max_charge_end
            if read.problem:
                problems.append(read.problem)
                unreadable = True
            elif blob and blob.row_count is not None and blob.row_count != read.rows_read:
                problems.append(
                    f"{uri}: manifest says {blob.row_count} rows, the file holds {read.rows_read}"
                )
            scratch.record_load(
                zone,
                LoadRecord(
                    load_key(uri, file.size, file.version, plan.run_key),
                    COSTS,
                    uri,
                    file.size,
                    file.version,
                    json.dumps({"run_key": plan.run_key}),
                    file_id=plan.run_key,
                    status="failed" if read.problem else "landed",
                    records_read=read.rows_read,
                    rows_landed=0 if read.problem else read.rows_landed,
                    rows_quarantined=len(read.quarantined),
                    message=read.problem,
                ),
            )
        m = plan.manifest
        expected = m.row_count if m else None
        if expected is not None:  # a blob listed twice is counted twice by the manifest
            expected -= sum(b.row_count or 0 for b in plan.repeated)
        if expected is not None and expected != row["rows_read"] and not problems:
            problems.append(f"manifest says {expected} rows, the files hold {row['rows_read']}")
        if m is None and (billing_accounts or accounts):
            # the id's last segment: FOCUS writes /providers/Microsoft.Billing/billingAccounts/<id>
            # (or /subscriptions/<id>), cost details the bare <id>: the same account either way
            ids = {i.rstrip("/").rsplit("/", 1)[-1].lower() for i in billing_accounts or accounts}
            row["scope"] = "loose:" + ",".join(sorted(ids))
        if quarantined:
            problems.append(f"{len(quarantined)} rows quarantined")
        row["rows_quarantined"] = len(quarantined)
        if row["billing_month"] is None and months:
            row["billing_month"] = min(months)
        if row["end_date"] is None:
            row["end_date"] = charge_end
        if row["submitted_at"] is None:
            row["submitted_at"] = row["landed_at"]
        if row["dataset_type"] is None and dataset is not None:
            row["dataset_type"] = _loose_dataset_type(plan, dataset, notes)
        row["problems"] = "; ".join(problems) or None
        if problems:
            row["status"] = "incomplete"
        elif row["rows_read"] == 0:
            row["status"] = "empty"
        else:
            row["status"] = "complete"
        scratch.write_quarantine(zone, COSTS, plan.run_key, quarantined)
        write_table_atomically(
            pa.Table.from_pylist(
                [
                    {
                        "run_key": plan.run_key,
                        "billing_currency": currency,
                        "rows_landed": rows,
                        "billed_cost_landed": billed,
                    }
                    for currency, (rows, billed) in sorted(totals.items(), key=lambda t: str(t[0]))
                ],
                schema=TOTALS_SCHEMA,
            ),
            totals_path(zone, plan.run_key),
        )
        # into place in two renames: an earlier landing of the run moves out whole, the new one
        # moves in whole (a crash between them leaves the run absent, and is_landed re-lands it)
        for n, other in enumerate(cost_details.DATASETS):
            earlier = zone.dataset_dir(other.landed) / f"run_key={plan.run_key}"
            if earlier.exists():
                os.replace(earlier, staging.with_name(f"{staging.name}-replaced-{n}"))
        final = zone.dataset_dir((dataset or fx.FOCUS).landed) / f"run_key={plan.run_key}"
        os.replace(staging, final)
        save_run_meters(zone, plan.run_key, final, dataset or fx.FOCUS)
    finally:
        pool.shutdown(cancel_futures=True)
        scratch.close()
    notes += [
        f"{plan.source.uri}: {b.name} listed again in the manifest, read once"
        for b in plan.repeated
    ]
    echo = [
        f"{q['source_uri']}:row {q['record_number']}: {q['reason']}"
        for q in quarantined[:QUARANTINE_ECHO]
    ]
    return RunResult(row, echo=echo, notes=notes, unreadable=unreadable)


def _loose_dataset_type(plan: RunPlan, dataset: fx.CostDataset, notes: list[str]) -> str:
    """The dataset type of a run no manifest describes: FocusCost for a FOCUS file; for a cost
    details file what its name says (`...amortized...`, `...actual...`), else ActualCost - the
    columns of actual and amortized cost are the same, and what an invoice holds is actual
    cost. Said in a note, with how to land it as amortized."""
    if dataset is fx.FOCUS:
        return "FocusCost"
    named = plan.loose_type or cost_details.dataset_type_of_name(plan.source.uri.rsplit("/", 1)[-1])
    if named:
        return named
    notes.append(
        f"{plan.source.uri}: cost details without a manifest, landed as ActualCost "
        "(--loose-type AmortizedCost lands it as amortized cost)"
    )
    return "ActualCost"


def run_path(zone: LandingZone, run_key: str) -> Path:
    return zone.dataset_dir(RUNS) / f"run_key={run_key}" / "run.parquet"


def load_runs(zone: LandingZone) -> dict[str, dict[str, Any]]:
    """Every landed run's bookkeeping row (one file per run: concurrent ingests never rewrite a
    shared file). A zone written before runs had files of their own is split up first."""
    _split_legacy_runs(zone)
    runs: dict[str, dict[str, Any]] = {}
    for path in sorted(zone.dataset_dir(RUNS).glob("run_key=*/run.parquet")):
        for row in pq.read_table(path).to_pylist():
            runs[row["run_key"]] = row
    return runs


def save_run(zone: LandingZone, row: dict[str, Any]) -> None:
    """Write one run's bookkeeping row - the commit record of the run, written last. Which run
    is current per export scope and billing month is decided by the models
    (int_export_runs_current), from all of these."""
    table = pa.Table.from_pylist([row], schema=RUN_SCHEMA)
    write_table_atomically(table, run_path(zone, row["run_key"]))


def _split_legacy_runs(zone: LandingZone) -> None:
    legacy = zone.dataset_dir(RUNS) / "runs.parquet"
    if legacy.exists():
        for row in pq.read_table(legacy).to_pylist():
            if not run_path(zone, row["run_key"]).exists():
                save_run(zone, {k: row.get(k) for k in RUN_SCHEMA.names})
        legacy.unlink()
    (zone.dataset_dir(METERS) / "meters.parquet").unlink(missing_ok=True)


METER_SCHEMA = pa.schema(
    [
        ("run_key", pa.string()),
        ("meter_key", pa.string()),
        ("meter_name", pa.string()),
        ("meter_category", pa.string()),
        ("meter_subcategory", pa.string()),
        ("unit_of_measure", pa.string()),
        ("parse_error", pa.string()),
        ("family", pa.string()),
        ("model_version", pa.string()),
        ("modality", pa.string()),
        ("direction", pa.string()),
        ("is_cached", pa.bool_()),
        ("deployment_type", pa.string()),
        ("service_tier", pa.string()),
        ("workload", pa.string()),
        ("pricing_unit", pa.string()),
        ("block_size", pa.int64()),
        ("usage_field", pa.string()),
        ("scope", pa.string()),
        ("note", pa.string()),
    ]
)


def save_run_meters(
    zone: LandingZone, run_key: str, run_folder: Path, dataset: fx.CostDataset = fx.FOCUS
) -> int:
    """Classify every meter name the run's bill uses, with the parser that classifies the
    catalogue (given the bill's meter subcategory as the product and its unit description), so
    a meter the catalogue does not know yet is still understood where the grammar allows, and
    reported either way. One file per run; the models take each meter once. Returns the number
    of meters."""
    names: dict[str, tuple[str, str | None, str | None, str | None]] = {}
    columns = dataset.meter  # name, category, subcategory, unit of measure
    for part in sorted(run_folder.glob("*.parquet")):
        present = [c for c in columns if c in pq.read_schema(part).names]
        if columns[0] not in present:
            continue
        table = pq.read_table(part, columns=present)
        # the distinct combinations only (a few hundred), never a Python object per row
        table = pa.table({c: pc.cast(table[c], pa.string()) for c in present})
        distinct = table.group_by(present).aggregate([]).to_pylist()
        for values in sorted(distinct, key=lambda v: [str(v.get(c) or "") for c in present]):
            name = values[columns[0]]
            if name and name.strip().lower() not in names:
                names[name.strip().lower()] = (name, *(values.get(c) for c in columns[1:]))
    rows = []
    for key, (name, category, subcategory, unit) in sorted(names.items()):
        row: dict[str, Any] = {
            "run_key": run_key,
            "meter_key": key,
            "meter_name": name,
            "meter_category": category,
            "meter_subcategory": subcategory,
            "unit_of_measure": unit,
        }
        try:
            row.update(asdict(meters.parse_meter(name, subcategory, unit)))
        except meters.MeterError as exc:
            row["parse_error"] = str(exc)
        except (ValueError, ArithmeticError) as exc:  # a name no grammar foresaw: reported too
            row["parse_error"] = f"unreadable meter name: {exc}"
        rows.append(row)
    write_table_atomically(
        pa.Table.from_pylist(rows, schema=METER_SCHEMA),
        zone.dataset_dir(METERS) / f"run_key={run_key}" / "meters.parquet",
    )
    return len(rows)


def totals_path(zone: LandingZone, run_key: str) -> Path:
    return zone.dataset_dir(TOTALS) / f"run_key={run_key}" / "totals.parquet"


def is_landed(previous: dict[str, Any] | None, plan: RunPlan, zone: LandingZone) -> bool:
    """Already landed as it is now: same run, same manifest, nothing was missing then, and its
    totals are there (a run landed before totals were kept is landed again)."""
    return (
        previous is not None
        and previous["source_hash"] == plan.source_hash
        and previous["status"] in ("complete", "empty")
        and totals_path(zone, plan.run_key).exists()
        and (zone.dataset_dir(METERS) / f"run_key={plan.run_key}" / "meters.parquet").exists()
        and any(
            (zone.dataset_dir(d.landed) / f"run_key={plan.run_key}").is_dir()
            for d in cost_details.DATASETS
        )
    )


def connect() -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB for normalising (one per file read: connections are not shared
    between threads). normalise_sql has one short IN list per column (the NULL placeholders);
    DuckDB's in_clause optimizer spends seconds planning some 100 of them and gains nothing, so
    that one rule is off."""
    con = duckdb.connect()
    con.execute("set TimeZone = 'UTC'")
    con.execute("set disabled_optimizers = 'in_clause'")
    return con
