"""One handle on the dbt project for the CLI, Dagster and the tests.

The manifest is regenerated (``dbt parse``) whenever a file that dbt reads is newer
than it, so that a fresh clone, an edited model or a new source YAML never runs
against a stale asset graph.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path

import yaml

from orchestration import settings

WATCHED = ("models", "macros", "seeds", "snapshots", "tests", "analyses", "segments", "dbt_project.yml", "profiles.yml")


class DbtConfigError(RuntimeError):
    """The dbt target or its settings cannot work; the message says how to fix it."""


def manifest_path() -> Path:
    return settings.dbt_target_path() / "manifest.json"


def _newest_source_mtime() -> float:
    newest = 0.0
    for name in WATCHED:
        path = settings.PROJECT_DIR / name
        if path.is_file():
            newest = max(newest, path.stat().st_mtime)
        elif path.is_dir():
            for root, _, files in os.walk(path):
                for f in files:
                    newest = max(newest, os.stat(os.path.join(root, f)).st_mtime)
    return newest


def manifest_is_stale() -> bool:
    path = manifest_path()
    return not path.exists() or path.stat().st_mtime < _newest_source_mtime()


def targets() -> list[str]:
    doc = yaml.safe_load((settings.profiles_dir() / "profiles.yml").read_text())
    return list(doc["cdp"]["outputs"])


SNOWFLAKE_REQUIRED = ("SNOWFLAKE_ACCOUNT", "SNOWFLAKE_USER")


def check_target(target: str) -> None:
    """Fail early, in one line, on a target dbt would reject with a long traceback."""
    available = targets()
    if target not in available:
        raise DbtConfigError(f"dbt target '{target}' is not in {settings.profiles_dir() / 'profiles.yml'} "
                             f"(targets: {', '.join(available)}); pass --target {available[0]} or add it there")
    if target == "snowflake":
        missing = [v for v in SNOWFLAKE_REQUIRED if not os.environ.get(v)]
        if not (os.environ.get("SNOWFLAKE_PASSWORD") or os.environ.get("SNOWFLAKE_PRIVATE_KEY_PATH")):
            missing.append("SNOWFLAKE_PASSWORD or SNOWFLAKE_PRIVATE_KEY_PATH")
        if missing:
            raise DbtConfigError(f"dbt target 'snowflake' needs environment variable(s) {', '.join(missing)}; "
                                 f"see README 'Running on Snowflake'")


def dbt_env(target: str, duckdb_path: Path | None = None, as_of: bool = True) -> dict[str, str]:
    """Environment for a dbt invocation: the warehouse path made absolute, so that dbt finds
    the same file whatever directory it runs in, and (``as_of``) the clock of that same
    warehouse when it is simulated. Parsing needs no clock: it leaves the file unopened."""
    env = {"CDP_TARGET": target, "DBT_PROFILES_DIR": str(settings.profiles_dir())}
    if target == "dev":
        path = duckdb_path or settings.duckdb_path()
        env["CDP_DUCKDB_PATH"] = str(path)
        clock = simulation_clock(path) if as_of else None
        if clock is not None:
            env["CDP_AS_OF"] = clock.isoformat(sep=" ")
    return env


def simulation_clock(path: Path):
    """The clock of a simulated warehouse (None for a real one): traits and "days since"
    figures are computed as of it (macro cdp.as_of), so that they mean the same as the data."""
    if not path.exists():
        return None
    import duckdb

    con = duckdb.connect(str(path))
    try:
        found = con.execute("select count(*) from information_schema.tables "
                            "where table_schema = '_cdp_meta' and table_name = 'simulation'").fetchone()[0]
        row = con.execute("select clock from _cdp_meta.simulation").fetchone() if found else None
    finally:
        con.close()
    return row[0] if row else None


@contextmanager
def environment(values: dict[str, str]):
    """Set environment variables for the duration of a block (dbt reads its settings there)."""
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def ensure_manifest() -> Path:
    """Parse the project when the manifest is missing or older than its sources."""
    if manifest_is_stale():
        from dbt.cli.main import dbtRunner

        # The same --target as every run passes (the CLI, dagster-dbt): dbt keeps the parse for
        # partial parsing only when the target argument, the vars and the connection are the
        # same, and dagster-dbt starts each of its runs from this parse.
        target = settings.dbt_target()
        with environment(dbt_env(target, as_of=False)):
            result = dbtRunner().invoke(["parse", "--quiet", "--project-dir", str(settings.PROJECT_DIR),
                                         "--profiles-dir", str(settings.profiles_dir()), "--target", target])
        if not result.success:
            raise DbtConfigError(f"dbt parse failed: {result.exception}")
    return manifest_path()
