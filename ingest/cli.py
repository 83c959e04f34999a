"""The tokenrecon CLI: `python -m ingest <command> --help`.

Exit codes: 0 the job was done (records may have been quarantined: see the summary);
1 an input could not be read, or --fail-on-quarantine and something was quarantined;
2 the command line or a SOURCE is unusable (missing path, bad az:// location, no credentials).
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import tempfile
from concurrent.futures import Executor, ProcessPoolExecutor
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from ingest import azure_blob, config, events, focus
from ingest.azure_blob import BlobConfigError
from ingest.inputs import Shard, SourceError, resolve
from ingest.landing import FINAL_STATUSES, LandingZone
from ingest.sources.realtime_events import RecordError


class LooseType(StrEnum):
    ActualCost = "ActualCost"
    AmortizedCost = "AmortizedCost"


app = typer.Typer(
    help="tokenrecon: land Realtime event logs and Azure cost exports as Parquet for dbt; "
    "validate, report and export the warehouse; simulate a month of traffic.",
    no_args_is_help=True,
    add_completion=False,
)

LandingOption = Annotated[
    Path | None,
    typer.Option(
        "--landing",
        envvar="TOKENRECON_LANDING",
        help="Landing zone root (default: data/landing in the project).",
        show_default=False,
    ),
]
WarehouseOption = Annotated[
    Path | None,
    typer.Option(
        envvar="TOKENRECON_WAREHOUSE",
        help="Warehouse file built by dbt (default: warehouse.duckdb in the project).",
        show_default=False,
    ),
]
ShardOption = Annotated[
    str | None,
    typer.Option(
        "--shard",
        envvar="TOKENRECON_SHARD",
        help="Land only shard i of N (i/N, e.g. 2/4): every input belongs to exactly one shard, "
        "so N processes given the same sources land one zone without coordinating.",
        show_default=False,
    ),
]


def _shard(text: str | None) -> Shard | None:
    try:
        return Shard.parse(text) if text else None
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--shard") from None


AccountUrlOption = Annotated[
    str | None,
    typer.Option(
        "--account-url",
        envvar="AZURE_STORAGE_ACCOUNT_URL",
        help="Blob account URL for az:// sources, used with DefaultAzureCredential when "
        "AZURE_STORAGE_CONNECTION_STRING is not set.",
    ),
]


@app.callback()
def _root() -> None:
    """tokenrecon: land Realtime event logs and Azure cost exports as Parquet for dbt; validate,
    report and export the warehouse; simulate a month of traffic."""


def _zone(landing: Path | None) -> LandingZone:
    """The landing zone, with every dataset's schema file in place (dbt reads them all)."""
    from ingest.zone import open_zone

    return open_zone(landing)


def _process_pool(workers: int) -> Executor:
    """Parser processes, started lazily on the first chunk (spawned: no inherited threads)."""
    return ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"))


def _built_warehouse(warehouse: Path | None) -> Path:
    """The warehouse file to read; exit 2 when dbt has not built it yet."""
    path = warehouse or config.warehouse_path()
    if not path.exists():
        typer.echo(f"error: {path}: no warehouse; run dbt build first", err=True)
        raise typer.Exit(2)
    return path


def _progress_bar(total: int, label: str):
    """A tqdm bar over bytes when stderr is a terminal, else None (quiet, structured output)."""
    if not sys.stderr.isatty():
        return None
    from tqdm import tqdm

    return tqdm(total=total, unit="B", unit_scale=True, desc=label, leave=False)


@app.command("events")
def events_command(
    sources: Annotated[
        list[str],
        typer.Argument(
            help="Log files, folders (searched recursively for .jsonl/.ndjson/.json[.gz]) or "
            "az://<container>/<prefix> Blob locations.",
            show_default=False,
        ),
    ],
    resource: Annotated[
        str | None,
        typer.Option(
            envvar="TOKENRECON_RESOURCE",
            help="Azure OpenAI / Foundry account name for lines without an envelope 'resource'.",
        ),
    ] = None,
    deployment: Annotated[
        str | None,
        typer.Option(
            envvar="TOKENRECON_DEPLOYMENT",
            help="Deployment name for lines without an envelope 'deployment'.",
        ),
    ] = None,
    received_at: Annotated[
        str | None,
        typer.Option(
            "--received-at",
            envvar="TOKENRECON_RECEIVED_AT",
            help="Receive time (ISO-8601, UTC if no zone; or epoch ms) for lines without an "
            "envelope 'received_at'. Without it such lines are quarantined: no silent guess.",
        ),
    ] = None,
    landing: LandingOption = None,
    account_url: AccountUrlOption = None,
    workers: Annotated[
        int,
        typer.Option(
            envvar="TOKENRECON_WORKERS",
            min=0,
            help="Processes parsing JSONL chunks in parallel (0: one per CPU; 1: in-process).",
        ),
    ] = 0,
    fail_on_quarantine: Annotated[
        bool,
        typer.Option(
            "--fail-on-quarantine",
            envvar="TOKENRECON_FAIL_ON_QUARANTINE",
            help="Exit 1 when any record was quarantined (default: report and exit 0).",
        ),
    ] = False,
    shard: ShardOption = None,
) -> None:
    """Land Realtime API event logs (bare wire events or envelopes; GA, beta or .NET shapes)."""
    options = events.EventOptions(resource, deployment, received_at)
    try:
        options.defaults()
    except RecordError as exc:
        raise typer.BadParameter(str(exc), param_hint="--received-at") from None
    part = _shard(shard)
    zone = _zone(landing)
    try:
        files = list(resolve(sources, events.accepts, account_url))
    except (SourceError, BlobConfigError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    if part:
        files = [f for f in files if part.holds(f.uri)]

    workers = workers or os.cpu_count() or 1
    totals = dict.fromkeys(("files", "skipped", "duplicates", "read", "landed", "quarantined"), 0)
    failed: list[str] = []
    # the scratch folder first: it completes the commits of killed runs, whose load log rows
    # must be read below
    with zone.scratch(events.DATASET) as scratch:
        log = zone.load_log(events.DATASET)
        done_keys = {row["load_key"] for row in log if row["status"] in FINAL_STATUSES}
        landed: dict[str, str] = {}
        for row in sorted(log, key=lambda r: r["finished_at"]):
            if row["status"] == "landed":
                landed[row["file_id"]] = row["options_json"]
        pool = _process_pool(workers) if workers > 1 else None
        bar = _progress_bar(sum(f.size for f in files), "events")
        try:
            for file in files:
                result = events.read_events(
                    file,
                    options,
                    zone,
                    done_keys,
                    landed,
                    bar.update if bar else None,
                    pool,
                    workers,
                    scratch,
                )
                record = result.record
                totals["files"] += 1
                if result.skipped:
                    totals["skipped"] += 1
                    if bar:
                        bar.update(file.size)
                    continue
                for line in result.quarantine_echo or []:
                    typer.echo(f"quarantined {line}", err=True)
                if record.rows_quarantined > len(result.quarantine_echo or []):
                    typer.echo(
                        f"quarantined {record.rows_quarantined} records of {file.uri} in all",
                        err=True,
                    )
                if record.status == "failed":
                    failed.append(record.message or file.uri)
                    typer.echo(f"error: {record.message}", err=True)
                    continue
                done_keys.add(record.load_key)
                totals["duplicates"] += record.status == "duplicate_content"
                totals["read"] += record.records_read - record.rows_duplicate
                totals["landed"] += record.rows_landed
                totals["quarantined"] += record.rows_quarantined
        finally:
            if bar:
                bar.close()
            if pool:
                pool.shutdown()
    typer.echo(
        f"events: {totals['files']} files ({totals['skipped']} already landed, "
        f"{totals['duplicates']} copies of landed content, {len(failed)} failed); "
        f"{totals['read']} records read, {totals['landed']} landed, "
        f"{totals['quarantined']} quarantined -> {zone.root}"
    )
    if failed or (fail_on_quarantine and totals["quarantined"]):
        raise typer.Exit(1)


@app.command("costs")
def costs_command(
    sources: Annotated[
        list[str],
        typer.Argument(
            help="Cost Management export folders or files, or az://<container>/<prefix>: runs "
            "are found by their manifest.json (exportConfig.type FocusCost, ActualCost or "
            "AmortizedCost); a cost file no manifest names is a run of its own, FOCUS or cost "
            "details (EA or MCA) by its header.",
            show_default=False,
        ),
    ],
    landing: LandingOption = None,
    account_url: AccountUrlOption = None,
    workers: Annotated[
        int,
        typer.Option(
            envvar="TOKENRECON_WORKERS",
            min=0,
            help="Data files of a run read at once (0: one per CPU; 1: one at a time).",
        ),
    ] = 0,
    fail_on_incomplete: Annotated[
        bool,
        typer.Option(
            "--fail-on-incomplete",
            envvar="TOKENRECON_FAIL_ON_INCOMPLETE",
            help="Exit 1 when a run is incomplete (default: report it and exit 0).",
        ),
    ] = False,
    loose_type: Annotated[
        LooseType | None,
        typer.Option(
            "--loose-type",
            help="Dataset type of cost details files without a manifest (default: what the "
            "file name says - ...amortized... or ...actual... - else ActualCost).",
            show_default=False,
        ),
    ] = None,
    shard: ShardOption = None,
) -> None:
    """Land Azure Cost Management exports - FOCUS, actual cost and amortized cost (EA and MCA);
    CSV, CSV gzip, Parquet - and their run bookkeeping (dbt picks the current runs)."""
    zone = _zone(landing)
    try:
        part = _shard(shard)
        plans = focus.plan_runs(sources, account_url, loose_type.value if loose_type else None)
        if part:  # a run (its manifest, or a loose file) is the unit a shard takes
            plans = [p for p in plans if part.holds(p.source.uri)]
    except (SourceError, BlobConfigError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    runs = focus.load_runs(zone)
    counts = dict.fromkeys(("skipped", "complete", "incomplete", "empty"), 0)
    rows = dict.fromkeys(("rows_read", "rows_landed", "rows_quarantined"), 0)
    unreadable = 0
    for plan in plans:
        if focus.is_landed(runs.get(plan.run_key), plan, zone):
            counts["skipped"] += 1
            continue
        try:
            result = focus.land_run(plan, zone, workers or os.cpu_count() or 1)
        except Exception as exc:  # one run that cannot be landed never costs the others
            typer.echo(f"error: run {plan.run_key} ({plan.source.uri}) not landed: {exc}", err=True)
            unreadable += 1
            continue
        focus.save_run(zone, result.row)
        runs[plan.run_key] = result.row
        counts[result.row["status"]] += 1
        unreadable += result.unreadable
        for key in rows:
            rows[key] += result.row[key]
        for line in result.notes:
            typer.echo(f"note: {line}", err=True)
        for line in result.echo:
            typer.echo(f"quarantined {line}", err=True)
        if result.row["status"] == "incomplete":
            typer.echo(f"incomplete run {plan.run_key}: {result.row['problems']}", err=True)
    typer.echo(
        f"costs: {len(plans)} runs ({counts['skipped']} already landed, {counts['complete']} "
        f"complete, {counts['incomplete']} incomplete, {counts['empty']} empty); "
        f"{rows['rows_read']} rows read, {rows['rows_landed']} landed, "
        f"{rows['rows_quarantined']} quarantined -> {zone.root} "
        "(dbt build picks the current run of each export and month: marts.dim_export_runs)"
    )
    if unreadable:
        typer.echo(
            f"error: {unreadable} runs had a data file that is missing or could not be read; "
            "they are landed as incomplete and never become current",
            err=True,
        )
        raise typer.Exit(1)
    if fail_on_incomplete and counts["incomplete"]:
        raise typer.Exit(1)


app.command(
    "focus",
    help="The same as `costs` (its name before it read actual and amortized cost exports).",
)(costs_command)


@app.command("validate")
def validate_command(
    warehouse: WarehouseOption = None,
    results_dir: Annotated[
        Path | None,
        typer.Option(
            "--results-dir",
            envvar="TOKENRECON_VALIDATIONS",
            help="Where each run's full results are kept as JSON (default: data/validations).",
            show_default=False,
        ),
    ] = None,
    price_tolerance: Annotated[
        float,
        typer.Option(help="Allowed relative difference of export and catalogue unit prices."),
    ] = 0.01,
    ratio_min: Annotated[
        float, typer.Option(help="Billed/API ratios below this are reported as warnings.")
    ] = 0.8,
    ratio_max: Annotated[
        float, typer.Option(help="Billed/API ratios above this are reported as warnings.")
    ] = 1.25,
) -> None:
    """Great Expectations suites on the meter mappings and the reconciliation.

    Exit 1 when an expectation fails (an unmapped billed meter, an export price that disagrees
    with the catalogue, a negative token count ...); ratio bounds only warn."""
    from ingest import validate

    path = _built_warehouse(warehouse)
    report = validate.validate(
        path,
        results_dir or config.PROJECT_ROOT / "data" / "validations",
        price_tolerance,
        (ratio_min, ratio_max),
    )
    typer.echo(validate.render(report))
    if report.failures:
        raise typer.Exit(1)


@app.command("simulate")
def simulate_command(
    out: Annotated[
        str,
        typer.Option(
            envvar="TOKENRECON_SIMULATE_OUT",
            help="Folder to write into, or az://<container>/<prefix> (Blob storage; credentials "
            "as for ingest).",
        ),
    ] = "data/simulated",
    account_url: AccountUrlOption = None,
    month: Annotated[
        str, typer.Option(help="First day of the simulated month (YYYY-MM-DD).")
    ] = "2026-03-01",
    days: Annotated[int, typer.Option(min=1, max=31, help="Days of traffic.")] = 31,
    sessions_per_day: Annotated[
        int, typer.Option(min=1, help="Sessions per account and day.")
    ] = 12,
    seed: Annotated[
        int, typer.Option(help="Random seed: the same seed writes the same files.")
    ] = 7,
    truth: Annotated[
        str,
        typer.Option(help="Billing truth: documented, or observed (extra terms and noise)."),
    ] = "observed",
    noise: Annotated[float, typer.Option(help="Relative noise of the observed truth.")] = 0.01,
    audio: Annotated[
        bool, typer.Option("--audio/--no-audio", help="Write base64 audio deltas.")
    ] = True,
    overwrite: Annotated[
        bool,
        typer.Option(
            help="Exports overwrite one folder (dataOverwriteBehavior) instead of a run a day."
        ),
    ] = False,
    bill_format: Annotated[
        str,
        typer.Option(
            help="The bill's export: focus, ea-actual, ea-amortized, mca-actual or mca-amortized."
        ),
    ] = "focus",
) -> None:
    """Write a realistic month of Realtime logs and the cost exports that bill it."""
    from datetime import date

    from ingest.simulate import simulate

    try:
        start = date.fromisoformat(month)
        if out.startswith(azure_blob.AZ_SCHEME):
            location = azure_blob.BlobLocation.parse(out)
            client = azure_blob.service_client(account_url)
            with tempfile.TemporaryDirectory(prefix="tokenrecon-simulate-") as folder:
                result = simulate(
                    Path(folder),
                    start,
                    days,
                    sessions_per_day,
                    seed,
                    truth,
                    noise,
                    audio,
                    overwrite,
                    bill_format,
                )
                azure_blob.upload_folder(client, location, Path(folder))
        else:
            result = simulate(
                Path(out),
                start,
                days,
                sessions_per_day,
                seed,
                truth,
                noise,
                audio,
                overwrite,
                bill_format,
            )
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    except BlobConfigError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"simulate: {days} days, truth {result['truth']} -> {out} (billing_truth.json)")
    for bare in result["bare_logs"]:
        typer.echo(
            f"  bare log: python -m ingest events {out.rstrip('/')}/{bare['path']} "
            f"--resource {bare['resource']} --deployment {bare['deployment']} "
            f"--received-at {bare['received_at']}"
        )


@app.command("report")
def report_command(
    warehouse: WarehouseOption = None,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            envvar="TOKENRECON_REPORT",
            help="HTML file to write (default: data/report.html in the project).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Print a reconciliation summary and write a self-contained HTML report with charts."""
    from ingest.report import write_report

    path = _built_warehouse(warehouse)
    written, summary = write_report(path, out or config.PROJECT_ROOT / "data" / "report.html")
    typer.echo(summary)
    typer.echo(f"report: {written.resolve()}")


@app.command("export")
def export_command(
    warehouse: WarehouseOption = None,
    folder: Annotated[
        Path | None,
        typer.Option(
            "--to",
            envvar="TOKENRECON_EXPORTS",
            help="Folder for the Parquet files (default: exports/ in the project).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Write every mart as exports/<mart>.parquet for BI tools (Power BI, Excel, Fabric)."""
    from ingest.export import export_marts

    path = _built_warehouse(warehouse)
    target = folder or config.PROJECT_ROOT / "exports"
    written = export_marts(path, target)
    typer.echo(f"export: {len(written)} marts -> {target}")


@app.command("meters")
def meters_command(
    dumps: Annotated[
        list[Path] | None,
        typer.Option(
            "--dump",
            envvar="TOKENRECON_PRICE_DUMPS",
            exists=True,
            dir_okay=False,
            help="Azure Retail Prices dump to merge: NDJSON, one API item a line (.ndjson, "
            ".ndjson.gz), or one API page saved as .json. Repeat for several files.",
            show_default=False,
        ),
    ] = None,
    from_api: Annotated[
        bool,
        typer.Option(
            "--from-api",
            help="Fetch the current prices from the Azure Retail Prices API (network; may be "
            "combined with --dump).",
        ),
    ] = False,
    api_url: Annotated[
        str,
        typer.Option(
            "--api-url",
            envvar="TOKENRECON_PRICES_API_URL",
            help="Retail Prices API endpoint, for --from-api.",
        ),
    ] = "https://prices.azure.com/api/retail/prices",
    filter_: Annotated[
        str,
        typer.Option(
            "--filter",
            envvar="TOKENRECON_PRICES_FILTER",
            help="OData $filter of the API query, for --from-api; Azure OpenAI consumption "
            "meters in USD are picked from what it returns.",
        ),
    ] = "serviceName eq 'Cognitive Services'",
    seed: Annotated[
        Path | None,
        typer.Option(
            "--seed",
            envvar="TOKENRECON_METER_SEED",
            dir_okay=False,
            help="Seed to update in place (default: seeds/azure_openai_meters.csv in the "
            "project). Its meters are kept; a missing file starts from the bundled catalogue.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Build the meter catalogue seed: every Azure OpenAI meter with its price and what it bills.

    Without --dump or --from-api: re-classify the seed's meters with the current parser (no
    network; run it after changing ingest/sources/meters.py). With them: merge in the Azure
    OpenAI consumption prices they hold; per meter the latest effective date wins and no meter
    is ever dropped. Exit 1 when a source cannot be read or a meter cannot be classified (every
    such name is listed: add an override or teach the parser)."""
    from itertools import chain

    from ingest import meter_catalogue as catalogue

    path = seed or catalogue.SEED
    sources = [catalogue.read_dump(dump) for dump in dumps or []]
    if from_api:
        log = lambda line: typer.echo(f"meters: {line}", err=True)  # noqa: E731
        sources.append(catalogue.fetch_items(api_url, filter_, log=log))
    try:
        update = catalogue.update_seed(path, chain.from_iterable(sources) if sources else None)
    except catalogue.CatalogueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    if update.priced == 0:
        typer.echo("meters: warning: the sources hold no Azure OpenAI prices in USD", err=True)
    try:
        catalogue.write_rows(update.rows, path)
    except OSError as exc:
        typer.echo(f"error: {path}: cannot write: {exc.strerror or exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(
        f"meters: {len(update.rows)} meters ({update.new} new, {update.overrides} by override) "
        f"-> {path}"
    )


def main() -> None:
    app()
