"""A dbt-duckdb plugin (profiles.yml `plugins`): before dbt reads anything, make sure the
landing zone holds every dataset's schema file, so `dbt build` succeeds - with empty, correctly
typed marts - on a fresh install, on bills only and on logs only."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from dbt.adapters.duckdb.plugins import BasePlugin


class Plugin(BasePlugin):
    def initialize(self, plugin_config: dict[str, Any]) -> None:
        from ingest.zone import open_zone

        # the same path the sources read (models/staging/*/_*__sources.yml)
        open_zone(Path(os.environ.get("TOKENRECON_LANDING") or "data/landing"))
