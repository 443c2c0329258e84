"""The warehouse as a Dagster resource: the dbt target the Python steps read and write (the
syncs' state, privacy, quality checks, predictions), and the DuckDB file the loads write to."""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from orchestration import settings


class WarehouseResource(dg.ConfigurableResource):
    """The warehouse of dbt target ``target`` (CDP_TARGET unless configured; dev is the DuckDB
    file ``duckdb_path``, CDP_DUCKDB_PATH unless configured)."""

    duckdb_path: str = ""
    target: str = ""

    @property
    def path(self) -> Path:
        return Path(self.duckdb_path) if self.duckdb_path else settings.duckdb_path()

    @property
    def target_name(self) -> str:
        return self.target or settings.dbt_target()

    def connect(self):
        """An open orchestration.lib.warehouse.Warehouse on the target (close it when done)."""
        from orchestration.lib import warehouse

        if warehouse.engine_of(self.target_name) == "duckdb":
            return warehouse.connect(self.target_name, self.path)
        return warehouse.connect(self.target_name)

    def target_with(self, dbt_target: str | None) -> str:
        """The target, checked against the dbt resource's: dbt builds where the Python steps
        read and write, or the run stops here with the fix."""
        if dbt_target and dbt_target != self.target_name:
            raise dg.Failure(description=f"the dbt resource's target is '{dbt_target}' and the warehouse resource's "
                                         f"'{self.target_name}'; set CDP_TARGET (both follow it) or configure both "
                                         "the same")
        return self.target_name
