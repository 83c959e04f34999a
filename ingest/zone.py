"""The landing zone with every dataset's schema file in place - what dbt's sources read.

Each landed dataset keeps a zero-row `_schema.parquet`, so its `**/*.parquet` glob always
matches and a dataset nobody has landed yet reads as empty, correctly typed. Both the ingest
commands and dbt (ingest.dbt_plugin, on every dbt run) call `open_zone`, so `dbt build` works on
a fresh install before the first ingest.
"""

from __future__ import annotations

from pathlib import Path

from ingest import config, events, focus
from ingest.focus_columns import landed_schema
from ingest.landing import LandingZone
from ingest.sources.cost_details import COST_DETAILS


def open_zone(root: Path | None = None) -> LandingZone:
    zone = LandingZone(root or config.landing_root())
    zone.ensure_datasets(
        {
            events.DATASET: events.EVENT_SCHEMA,
            focus.COSTS: landed_schema(),
            COST_DETAILS.landed: landed_schema(COST_DETAILS),
            focus.RUNS: focus.RUN_SCHEMA,
            focus.METERS: focus.METER_SCHEMA,
            focus.TOTALS: focus.TOTALS_SCHEMA,
        }
    )
    return zone
