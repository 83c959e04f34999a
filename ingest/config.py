"""Paths shared by the ingest CLI and dbt (profiles.yml reads the same variables)."""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def landing_root() -> Path:
    """TOKENRECON_LANDING, default data/landing in the project root."""
    return Path(os.environ.get("TOKENRECON_LANDING") or PROJECT_ROOT / "data" / "landing")


def warehouse_path() -> Path:
    """TOKENRECON_WAREHOUSE, default warehouse.duckdb in the project root."""
    return Path(os.environ.get("TOKENRECON_WAREHOUSE") or PROJECT_ROOT / "warehouse.duckdb")
