"""Benchmark: segments and audiences on a simulated warehouse.

    .venv/bin/python benchmarks/segments.py --warehouse PATH [--profiles N --seed S --as-of D]
                                            [--upstream-built] [--threads N] [--repeat 3]

If the warehouse holds no simulation yet, one is generated first; everything upstream of
the segments (identity, profile_events, the profile layer) is built first, untimed (skip
with --upstream-built). Then, timed:
- every segment and audience built from scratch: `dbt build` (models and their data tests)
  of models/intermediate/segments and models/marts/segments, as one invocation (wall time,
  dbt's start-up included) and per model;
- `cdp segment size` (the whole command, Python start-up included) for a draft with one
  event condition and for the three-step sequence, --repeat times each (min and median).
Prints Markdown for the README and writes the figures as JSON next to the warehouse.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb
from common import simulated_warehouse, threads_option, warehouse_arguments

from orchestration import settings

ROOT = Path(__file__).resolve().parents[1]
SEGMENT_LAYER = ["path:seeds/segments", "path:models/staging/predictions", "path:models/intermediate/segments", "path:models/marts/segments"]
DRAFTS = {
    "one event condition": """
version: 2
exposures:
  - name: draft_recent_cart
    type: application
    owner: {name: benchmark}
    config:
      meta:
        segment:
          rule: {event: Product Added, within_days: 7}
""",
    "three-step sequence": """
version: 2
exposures:
  - name: draft_journey
    type: application
    owner: {name: benchmark}
    config:
      meta:
        segment:
          rule:
            sequence: [{event: Product Viewed}, {event: Product Added}, {event: Newsletter Subscribed}]
            within_days: 7
""",
}


def cdp_build(path: Path, dbt_args: list[str]) -> tuple[float, dict]:
    """`cdp build ARGS` (dbt build: models and their data tests) in a child process; wall
    seconds and seconds per node from dbt's run_results.json."""
    cdp = str(Path(sys.executable).parent / "cdp")
    started = time.perf_counter()
    done = subprocess.run([cdp, "build", *dbt_args], capture_output=True, text=True,
                          env={**os.environ, "CDP_DUCKDB_PATH": str(path)})
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"cdp build {' '.join(dbt_args)} failed:\n{done.stdout[-3000:]}{done.stderr[-2000:]}")
    results = json.loads((settings.dbt_target_path() / "run_results.json").read_text())["results"]
    return seconds, {r["unique_id"].split(".")[-1]: r["execution_time"] for r in results
                     if r["unique_id"].startswith("model.")}


def time_segment_size(path: Path, text: str, repeat: int) -> dict:
    cdp = str(Path(sys.executable).parent / "cdp")
    env = {**os.environ, "CDP_DUCKDB_PATH": str(path)}
    with tempfile.TemporaryDirectory() as folder:
        draft = Path(folder) / "draft.yml"
        draft.write_text(text)
        walls, output = [], ""
        for _ in range(repeat):
            started = time.perf_counter()
            done = subprocess.run([cdp, "segment", "size", str(draft)], capture_output=True, text=True, env=env)
            walls.append(time.perf_counter() - started)
            if done.returncode != 0:
                raise SystemExit(f"cdp segment size failed: {done.stderr}")
            output = done.stdout.splitlines()[0]
    return {"min_seconds": round(min(walls), 2), "median_seconds": round(statistics.median(walls), 2),
            "runs": [round(w, 2) for w in walls], "output": output}


def main() -> None:
    parser = argparse.ArgumentParser()
    warehouse_arguments(parser)
    parser.add_argument("--upstream-built", action="store_true",
                        help="the profile layer is already built from this data: skip it")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each `cdp segment size`")
    args = parser.parse_args()
    path, simulation = simulated_warehouse(args)

    # dbt runs in a child process (`cdp build`): dbt-duckdb keeps the file open for the life of
    # the process that ran it, and `cdp segment size` must open it afterwards.
    if not args.upstream_built:
        cdp_build(path, ["--select", *[f"+{p}" for p in SEGMENT_LAYER], "--exclude", *SEGMENT_LAYER])
    seconds, per_model = cdp_build(path, ["--full-refresh", *threads_option(args), "--select", *SEGMENT_LAYER,
                                          "--exclude", "test_type:unit"])

    con = duckdb.connect(str(path), read_only=True)
    try:
        events, profiles = con.execute("select (select count(*) from marts.profile_events), "
                                       "(select count(*) from marts.profiles)").fetchone()
        sizes = dict(con.execute("select segment_name, member_count from marts.segment_sizes order by 1").fetchall())
        audiences = dict(con.execute("select audience_name, count(*) from marts.audience_members "
                                     "group by 1 order by 1").fetchall())
    finally:
        con.close()
    sizing = {label: time_segment_size(path, text, args.repeat) for label, text in DRAFTS.items()}

    figures = {
        "date": dt.date.today().isoformat(), "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "people": simulation.profiles, "seed": simulation.seed, "as_of": str(simulation.as_of.date()),
        "dbt_threads": args.threads or "profile default (2)", "events": events, "profiles": profiles,
        "segment_layer_seconds": round(seconds, 1),
        "model_seconds": {k: round(v, 2) for k, v in sorted(per_model.items(), key=lambda kv: -kv[1])},
        "segment_sizes": sizes, "audience_sizes": audiences, "segment_size_command": sizing,
    }
    Path(str(path) + ".segments.json").write_text(json.dumps(figures, indent=2))
    print(json.dumps(figures, indent=2))
    print()
    print("| people | events | all segments and audiences (wall, incl. dbt start-up) | slowest models "
          "| `cdp segment size`, one event condition | `cdp segment size`, three-step sequence |")
    print("|---:|---:|---:|---|---:|---:|")
    slowest = ", ".join(f"{k} {v:.1f} s" for k, v in list(figures["model_seconds"].items())[:2])
    one, seq = sizing["one event condition"], sizing["three-step sequence"]
    print(f"| {simulation.profiles:,} | {events:,} | {seconds:.1f} s | {slowest} "
          f"| {one['median_seconds']:.2f} s | {seq['median_seconds']:.2f} s |")


if __name__ == "__main__":
    main()
