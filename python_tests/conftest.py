"""Shared fixtures: one small simulated warehouse per test session, loaded, incremented
and built with dbt once, which many tests then read."""

from __future__ import annotations

import os
from pathlib import Path

import duckdb
import pytest

from orchestration import settings

SEED = 7
PROFILES = 3_000
AS_OF = "2026-06-01"
INCREMENT_HOURS = 24 * 45

# `make test` runs the tests on two pytest-xdist workers (pyproject.toml). dbt writes its
# artifacts (manifest, run results, partial-parse state, compiled SQL) and its log in the
# project folder: each worker gets its own, so that two dbt runs never write one file. Child
# processes (cdp, dagster) inherit them; the code reads them through settings.dbt_target_path().
_WORKER = os.environ.get("PYTEST_XDIST_WORKER")
if _WORKER:
    os.environ["DBT_TARGET_PATH"] = str(settings.PROJECT_DIR / "target" / f"pytest_{_WORKER}")
    os.environ["DBT_LOG_PATH"] = str(settings.PROJECT_DIR / "logs" / f"pytest_{_WORKER}")

# The longest files first, so that neither worker starts one of them last (xdist hands out
# whole files, in this order).
SLOWEST_FIRST = ("test_dagster_webserver.py", "test_snowflake_build.py", "test_identity.py", "test_cli.py",
                 "test_privacy.py")


def pytest_collection_modifyitems(config, items):
    rank = {name: i for i, name in enumerate(SLOWEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))


@pytest.fixture(scope="session")
def session_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("cdp")


@pytest.fixture(scope="session")
def warehouse(session_dir) -> dict:
    """A warehouse with a historical sync and one 45-day increment. Returns the path and
    the two sync results."""
    from orchestration.loads.sync import advance, start_simulation

    path = session_dir / "warehouse.duckdb"
    initial = start_simulation(path, SEED, PROFILES, AS_OF, report=lambda m: None)
    increment = advance(path, INCREMENT_HOURS, report=lambda m: None)
    return {"path": path, "initial": initial, "increment": increment}


@pytest.fixture(scope="session")
def dbt_build_target(session_dir) -> Path:
    """The session build's own dbt target folder: its compiled SQL and manifest, which later
    dbt runs of the same worker (on other warehouses) do not overwrite."""
    return session_dir / "dbt_target"


@pytest.fixture(scope="session")
def dbt_build(warehouse, dbt_build_target) -> object:
    """`dbt build` of the whole project against the session warehouse."""
    from orchestration.dbt.runner import run_dbt

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CDP_DUCKDB_PATH", str(warehouse["path"]))
        patch.setenv("DBT_TARGET_PATH", str(dbt_build_target))
        return run_dbt(["build"], target="dev")


@pytest.fixture
def built_copy(dbt_build, warehouse, tmp_path) -> Path:
    """A private copy of the built session warehouse, for tests that change it (syncs, privacy,
    quality) or run a command in another process (this one's dbt keeps the session file open)."""
    import shutil

    assert dbt_build.success, dbt_build.failures
    target = tmp_path / "warehouse.duckdb"
    for suffix in ("", ".wal"):
        if Path(str(warehouse["path"]) + suffix).exists():
            shutil.copy(str(warehouse["path"]) + suffix, str(target) + suffix)
    return target


@pytest.fixture
def sql(warehouse):
    """Run a query against the session warehouse and return all rows. (Read-write like dbt's own
    connection: DuckDB refuses two configurations of one file in a process.)"""
    con = duckdb.connect(str(warehouse["path"]))

    def run(query: str, params=None):
        return con.execute(query, params or []).fetchall()

    yield run
    con.close()
