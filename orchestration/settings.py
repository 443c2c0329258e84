"""Where things live: the dbt project, the DuckDB warehouse file and the profiles.

Every path can be overridden by an environment variable so that tests, the demo and
Dagster can point the same code at different warehouses.
"""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_DIR = Path(os.environ.get("CDP_PROJECT_DIR", Path(__file__).resolve().parents[1]))
DEFAULT_DUCKDB_PATH = PROJECT_DIR / "data" / "cdp.duckdb"


def duckdb_path() -> Path:
    """The warehouse file: ``CDP_DUCKDB_PATH`` or ``data/cdp.duckdb`` under the project."""
    raw = os.environ.get("CDP_DUCKDB_PATH")
    path = Path(raw).expanduser() if raw else DEFAULT_DUCKDB_PATH
    if not path.is_absolute():
        path = (Path.cwd() / path).resolve()
    return path


def profiles_dir() -> Path:
    return Path(os.environ.get("DBT_PROFILES_DIR", PROJECT_DIR))


def dbt_target_path() -> Path:
    """Where dbt writes its artifacts (manifest, run results, compiled SQL): ``DBT_TARGET_PATH``
    as dbt reads it (relative to the project folder), else ``target/``. Parallel test workers
    each set their own, so that two dbt runs never write one manifest."""
    raw = os.environ.get("DBT_TARGET_PATH")
    path = Path(raw).expanduser() if raw else Path("target")
    return path if path.is_absolute() else PROJECT_DIR / path


def dbt_target() -> str:
    """The dbt target, and so the warehouse, everything runs on: CDP_TARGET, else dev. The one
    place it is chosen: the CLI, the dbt resource and WarehouseResource (orchestration/lib/
    warehouse.py opens it) all start from here."""
    return os.environ.get("CDP_TARGET", "dev")


def exports_dir() -> Path:
    """Where file syncs with a relative path write: CDP_EXPORTS_DIR, else the project folder."""
    return Path(os.environ.get("CDP_EXPORTS_DIR", PROJECT_DIR))
