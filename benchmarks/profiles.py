"""Benchmark: the profile layer (golden records, traits, RFM) on a simulated warehouse.

    .venv/bin/python benchmarks/profiles.py --warehouse PATH [--profiles N --seed S --as-of D]

If the warehouse holds no simulation yet, one is generated first; everything upstream of
the profile layer (staging, identity, profile_events) is built first, untimed (skip that
with --upstream-built when benchmarks/identity.py has just built it). Then, timed:
the profile layer's models built from scratch (models/intermediate/profiles, consent,
sessions, subscriptions and models/marts/profiles), as one dbt invocation (wall time,
including dbt's start-up) and per model. Then the golden record's accuracy against the
simulator's truth (orchestration/profiles/evaluation.py). Prints Markdown for the README
and writes the figures as JSON next to the warehouse.
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

from orchestration.profiles.evaluation import golden_record_accuracy

PROFILE_LAYER = ["path:models/intermediate/profiles", "path:models/intermediate/consent",
                 "path:models/marts/sessions", "path:models/intermediate/subscriptions",
                 "path:models/marts/profiles"]


def main() -> None:
    parser = argparse.ArgumentParser()
    warehouse_arguments(parser)
    parser.add_argument("--upstream-built", action="store_true",
                        help="the identity layer and profile_events are already built from this data: skip them")
    args = parser.parse_args()
    path, simulation = simulated_warehouse(args)

    timed_dbt(["seed"])
    if not args.upstream_built:
        upstream = [f"+{p}" for p in PROFILE_LAYER]
        timed_dbt(["run", "-s", *upstream, "--exclude", *PROFILE_LAYER])
    threads = threads_option(args)
    seconds, per_model = timed_dbt(["run", "--full-refresh", *threads, "-s", *PROFILE_LAYER])

    con = duckdb.connect(str(path))
    try:
        accuracy = golden_record_accuracy(con)
        counts = con.execute("""select (select count(*) from marts.profiles),
                                       (select count(*) from marts.profile_rfm),
                                       (select count(*) from marts.sessions),
                                       (select count(*) from marts.profile_events)""").fetchone()
    finally:
        con.close()

    figures = {
        "date": dt.date.today().isoformat(), "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "people": simulation.profiles, "seed": simulation.seed, "as_of": str(simulation.as_of.date()),
        "clock": str(simulation.clock), "dbt_threads": args.threads or "profile default (2)",
        "profile_layer_seconds": round(seconds, 1),
        "model_seconds": {k: round(v, 2) for k, v in sorted(per_model.items(), key=lambda kv: -kv[1])},
        "profiles": counts[0], "customers_scored": counts[1], "sessions": counts[2], "events": counts[3],
        "golden_record_accuracy": accuracy,
    }
    Path(str(path) + ".profiles.json").write_text(json.dumps(figures, indent=2))
    print(json.dumps(figures, indent=2))
    print()
    print("| people | events | profiles | profile layer (wall, incl. dbt start-up) | slowest models "
          "| golden first name / last name / email / city |")
    print("|---:|---:|---:|---:|---|---|")
    slowest = ", ".join(f"{k} {v:.1f} s" for k, v in list(figures["model_seconds"].items())[:3])
    acc = " / ".join(f"{accuracy[f]['accuracy']:.3f}" for f in ("first_name", "last_name", "email", "city"))
    print(f"| {simulation.profiles:,} | {counts[3]:,} | {counts[0]:,} | {seconds:.1f} s | {slowest} | {acc} |")


if __name__ == "__main__":
    main()
