"""Benchmark: the attribution and journey marts on a simulated warehouse.

    .venv/bin/python benchmarks/attribution.py --warehouse PATH [--profiles N --seed S --as-of D]
                                               [--upstream-built] [--threads N]

If the warehouse holds no simulation yet, one is generated first; everything upstream of
the layer (identity, profile_events, sessions) is built first, untimed (skip with
--upstream-built). Then, timed: the layer built from scratch, `dbt build` (models and their
data tests, no unit tests) of models/intermediate/attribution, models/marts/attribution and
models/marts/journeys as one invocation (wall time, dbt's start-up included) and per model.
Prints Markdown for the README and writes the figures as JSON next to the warehouse.
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

LAYER = ["path:models/intermediate/attribution", "path:models/marts/attribution", "path:models/marts/journeys"]


def main() -> None:
    parser = argparse.ArgumentParser()
    warehouse_arguments(parser)
    parser.add_argument("--upstream-built", action="store_true",
                        help="profile_events and sessions are already built from this data: skip them")
    args = parser.parse_args()
    path, simulation = simulated_warehouse(args)

    if not args.upstream_built:
        timed_dbt(["build", "--select", *[f"+{p}" for p in LAYER], "--exclude", *LAYER])
    seconds, per_model = timed_dbt(["build", *threads_option(args), "--select", *LAYER,
                                    "--exclude", "test_type:unit"])

    # (Read-write like dbt's own connection, still open in this process: DuckDB refuses a second configuration.)
    con = duckdb.connect(str(path))
    try:
        sessions, orders, touches, journeys, channels = con.execute(
            "select (select count(*) from marts.sessions), "
            "(select count(*) from intermediate.int_attribution_orders), "
            "(select count(*) from intermediate.int_attribution_touches), "
            "(select count(*) from marts.journey_paths), "
            "(select count(*) from marts.markov_removal_effects)").fetchone()
    finally:
        con.close()
    models = {k: round(v, 2) for k, v in sorted(per_model.items(), key=lambda kv: -kv[1])
              if not k.startswith(("unique_", "not_null_", "accepted_", "assert_", "relationships_"))}
    figures = {
        "date": dt.date.today().isoformat(), "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "people": simulation.profiles, "seed": simulation.seed, "as_of": str(simulation.as_of.date()),
        "dbt_threads": args.threads or "profile default (2)", "sessions": sessions, "orders": orders,
        "touches": touches, "journey_paths": journeys, "channels": channels,
        "attribution_layer_seconds": round(seconds, 1), "node_seconds": models,
    }
    Path(str(path) + ".attribution.json").write_text(json.dumps(figures, indent=2))
    print(json.dumps(figures, indent=2))
    print()
    print("| people | sessions | orders | touches | attribution + journeys (wall, incl. dbt start-up, with data tests) "
          "| slowest models |")
    print("|---:|---:|---:|---:|---:|---|")
    slowest = ", ".join(f"{k} {v:.1f} s" for k, v in list(models.items())[:3])
    print(f"| {simulation.profiles:,} | {sessions:,} | {orders:,} | {touches:,} | {seconds:.1f} s | {slowest} |")


if __name__ == "__main__":
    main()
