"""The warehouse as a Dagster resource: which DuckDB file the loads write to."""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from orchestration import settings


class WarehouseResource(dg.ConfigurableResource):
    """The DuckDB warehouse file (``CDP_DUCKDB_PATH`` unless configured)."""

    duckdb_path: str = ""

    @property
    def path(self) -> Path:
        return Path(self.duckdb_path) if self.duckdb_path else settings.duckdb_path()
