"""Benchmark: the analytics marts (sessions, funnel_steps_daily, cohort_retention).

    .venv/bin/python benchmarks/analytics.py --warehouse PATH [--upstream-built] [--hours 24]

On a simulated warehouse (generated first if empty), everything upstream of the marts is
built first, untimed (skip with --upstream-built when the warehouse is built). Timed: the
three marts built from scratch in one dbt invocation (wall, dbt's start-up included, and per
model). Then the simulation moves on --hours, the upstream models are rebuilt (untimed), and
the sessions mart is built incrementally and, for comparison, from scratch; the script
reports how many devices the incremental build re-sessionized and checks that both builds
give the same rows. Prints JSON and a Markdown row, and writes the JSON next to the warehouse.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
from pathlib import Path

import duckdb
from common import simulated_warehouse, threads_option, timed_dbt, warehouse_arguments

from orchestration import settings
from orchestration.loads.sync import advance

MARTS = ["sessions", "funnel_steps_daily", "cohort_retention"]


def _changed_devices(path: Path) -> tuple[int, int]:
    """(devices the next incremental run of sessions redoes, devices stored), from the
    compiled incremental SQL."""
    compiled = settings.PROJECT_DIR / "target/compiled/cdp/models/marts/sessions/sessions.sql"
    con = duckdb.connect(str(path))
    try:
        redo = con.execute(f"select count(distinct anonymous_id) from ({compiled.read_text()}) as s").fetchone()[0]
        stored = con.execute("select count(distinct anonymous_id) from marts.sessions").fetchone()[0]
    finally:
        con.close()
    return redo, stored


def main() -> None:
    parser = argparse.ArgumentParser()
    warehouse_arguments(parser)
    parser.add_argument("--upstream-built", action="store_true",
                        help="everything upstream of the marts is built from this data: skip it")
    parser.add_argument("--hours", type=float, default=24, help="simulated hours before the incremental build")
    args = parser.parse_args()
    path, simulation = simulated_warehouse(args)
    threads = threads_option(args)

    if not args.upstream_built:
        timed_dbt(["seed"])
        timed_dbt(["run", "-s", *[f"+{m}" for m in MARTS], "--exclude", *MARTS])
    seconds, per_model = timed_dbt(["run", "--full-refresh", *threads, "-s", *MARTS])

    advance(path, args.hours, report=lambda m: None)
    timed_dbt(["run", "-s", "+sessions", "--exclude", "sessions"])
    timed_dbt(["compile", "-s", "sessions"])
    redo, stored = _changed_devices(path)
    incremental_seconds, incremental_models = timed_dbt(["run", *threads, "-s", "sessions"])
    con = duckdb.connect(str(path))
    try:
        con.execute("create or replace table main.bench_sessions_incremental as select * from marts.sessions")
    finally:
        con.close()
    full_seconds, full_models = timed_dbt(["run", "--full-refresh", *threads, "-s", "sessions"])
    con = duckdb.connect(str(path))
    try:
        differ = con.execute("""select count(*) from (
            (select * from main.bench_sessions_incremental except all select * from marts.sessions)
            union all
            (select * from marts.sessions except all select * from main.bench_sessions_incremental))""").fetchone()[0]
        con.execute("drop table main.bench_sessions_incremental")
        counts = con.execute("""select (select count(*) from marts.profile_events),
                                       (select count(*) from marts.sessions),
                                       (select count(*) from marts.funnel_steps_daily),
                                       (select count(*) from marts.cohort_retention)""").fetchone()
    finally:
        con.close()

    figures = {
        "date": dt.date.today().isoformat(), "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "people": simulation.profiles, "seed": simulation.seed, "dbt_threads": args.threads or "profile default (2)",
        "marts_from_scratch_seconds": round(seconds, 1),
        "model_seconds": {k: round(v, 2) for k, v in per_model.items()},
        "increment_hours": args.hours, "devices_redone": redo, "devices_stored": stored,
        "sessions_incremental_seconds": round(incremental_seconds, 1),
        "sessions_incremental_model_seconds": round(incremental_models.get("sessions", 0.0), 2),
        "sessions_full_refresh_seconds": round(full_seconds, 1),
        "sessions_full_refresh_model_seconds": round(full_models.get("sessions", 0.0), 2),
        "incremental_rows_differing_from_full_refresh": differ,
        "events": counts[0], "sessions": counts[1], "funnel_rows": counts[2], "cohort_rows": counts[3],
    }
    Path(str(path) + ".analytics.json").write_text(json.dumps(figures, indent=2))
    print(json.dumps(figures, indent=2))
    print()
    print("| people | events | sessions | 3 marts from scratch (wall; sessions / funnel / cohorts) "
          "| sessions after +N h: devices redone | incremental (model) | full refresh (model) | rows differing |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    m = figures["model_seconds"]
    print(f"| {simulation.profiles:,} | {counts[0]:,} | {counts[1]:,} | {seconds:.1f} s "
          f"({m.get('sessions', 0):.1f} / {m.get('funnel_steps_daily', 0):.1f} / {m.get('cohort_retention', 0):.1f} s) "
          f"| +{args.hours:g} h: {redo:,} of {stored:,} | {figures['sessions_incremental_model_seconds']:.2f} s "
          f"| {figures['sessions_full_refresh_model_seconds']:.2f} s | {differ} |")


if __name__ == "__main__":
    main()
