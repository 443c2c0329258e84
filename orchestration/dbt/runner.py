"""Run dbt in-process (``dbtRunner``) for the CLI and tests: no second interpreter start."""

from __future__ import annotations

from dataclasses import dataclass, field

from orchestration import settings

from .project import check_target, dbt_env, environment


@dataclass
class DbtOutcome:
    success: bool
    counts: dict = field(default_factory=dict)   # (resource_type, status) -> n
    failures: list = field(default_factory=list)  # "name: message"
    seconds: dict = field(default_factory=dict)  # node name -> execution time

    def count(self, resource_type: str, *statuses: str) -> int:
        return sum(n for (rt, st), n in self.counts.items() if rt == resource_type and (not statuses or st in statuses))


def run_dbt(args: list[str], target: str | None = None) -> DbtOutcome:
    from dbt.cli.main import dbtRunner

    target = target or settings.dbt_target()
    check_target(target)
    full = [*args, "--project-dir", str(settings.PROJECT_DIR), "--profiles-dir", str(settings.profiles_dir()),
            "--target", target]
    with environment(dbt_env(target)):
        try:
            result = dbtRunner().invoke(full)
        finally:
            release_duckdb()
    outcome = DbtOutcome(success=bool(result.success))
    for r in getattr(result.result, "results", None) or []:
        node = r.node
        key = (str(node.resource_type), str(r.status))
        outcome.counts[key] = outcome.counts.get(key, 0) + 1
        outcome.seconds[node.name] = float(getattr(r, "execution_time", 0.0) or 0.0)
        if str(r.status) in ("error", "fail"):
            # The whole message on one line: dbt puts the reason after a "Compilation Error in ..." line.
            message = " ".join((r.message or str(r.status)).split())
            outcome.failures.append(f"{node.name}: {message[:500]}")
    if result.exception is not None and not outcome.failures:
        # The whole message on one line: its first line is only "Runtime Error".
        outcome.failures.append(" ".join(str(result.exception).split())[:1000])
    return outcome


def release_duckdb() -> None:
    """Close the DuckDB database dbt-duckdb keeps open in this process after an in-process run.

    dbt-duckdb holds one database instance per process (a class attribute of its connection
    manager) until a run with other credentials replaces it; meanwhile the file stays locked,
    with the last build possibly still in its write-ahead log, and DuckDB refuses to open it a
    second time in the process (as an attached database, say). Closing it checkpoints the file;
    the next run opens it again (milliseconds)."""
    try:
        from dbt.adapters.duckdb.connections import DuckDBConnectionManager
    except ImportError:  # a Snowflake-only installation
        return
    with DuckDBConnectionManager._LOCK:
        env, DuckDBConnectionManager._ENV = DuckDBConnectionManager._ENV, None
        if env is not None:
            env.close()
