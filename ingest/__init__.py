"""tokenrecon ingest: raw Realtime event logs and Azure cost exports -> landed Parquet."""

__version__ = "0.1.0"
