"""Benchmark: the report's marts (customer health, the semantic layer's tables) and `cdp
report` on a simulated warehouse.

    .venv/bin/python benchmarks/report.py --warehouse PATH [--profiles N --seed S --as-of D]
                                          [--upstream-built] [--threads N] [--repeat 3]

If the warehouse holds no simulation yet, one is generated first; everything upstream of
these marts is built first, untimed (skip with --upstream-built). Then, timed:
- `dbt build` (models and their data tests, --full-refresh) of models/marts/health and
  models/marts/semantic, as one invocation (wall time, dbt's start-up included) and per model;
- `cdp report` as a user runs it (the whole command, Python start-up included), --repeat
  times (min and median).
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

from common import simulated_warehouse, threads_option, warehouse_arguments

from orchestration import settings

ROOT = Path(__file__).resolve().parents[1]
LAYER = ["path:models/marts/health", "path:models/marts/semantic"]


def cdp(args: list[str], path: Path) -> tuple[float, subprocess.CompletedProcess]:
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "orchestration.cli", *args], check=False, capture_output=True, text=True,
                          env={**os.environ, "CDP_DUCKDB_PATH": str(path)}, cwd=ROOT)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"cdp {' '.join(args)} failed:\n{done.stdout[-3000:]}{done.stderr[-2000:]}")
    return seconds, done


def main() -> None:
    parser = argparse.ArgumentParser()
    warehouse_arguments(parser)
    parser.add_argument("--upstream-built", action="store_true", help="everything upstream is built: skip it")
    parser.add_argument("--repeat", type=int, default=3, help="runs of `cdp report`")
    args = parser.parse_args()
    path, simulation = simulated_warehouse(args)

    if not args.upstream_built:
        cdp(["build", "--select", *[f"+{p}" for p in LAYER], "--exclude", *LAYER], path)
    seconds, _ = cdp(["build", "--full-refresh", *threads_option(args), "--select", *LAYER,
                      "--exclude", "test_type:unit"], path)
    target = settings.dbt_target_path()
    results = json.loads((target / "run_results.json").read_text())["results"]
    per_model = {r["unique_id"].split(".")[-1]: r["execution_time"] for r in results
                 if r["unique_id"].startswith("model.")}

    walls, output, size = [], "", 0
    with tempfile.TemporaryDirectory() as folder:
        page = Path(folder) / "report.html"
        for _ in range(args.repeat):
            wall, done = cdp(["report", "--output", str(page)], path)
            walls.append(wall)
            output, size = done.stdout, page.stat().st_size

    figures = {
        "date": dt.date.today().isoformat(), "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "people": simulation.profiles, "seed": simulation.seed, "as_of": str(simulation.as_of.date()),
        "dbt_threads": args.threads or "profile default (2)",
        "layer_seconds": round(seconds, 1),
        "model_seconds": {k: round(v, 2) for k, v in sorted(per_model.items(), key=lambda kv: -kv[1])},
        "report_seconds": {"min": round(min(walls), 2), "median": round(statistics.median(walls), 2),
                           "runs": [round(w, 2) for w in walls]},
        "report_bytes": size, "report_output": output,
    }
    Path(str(path) + ".report.json").write_text(json.dumps(figures, indent=2))
    print(json.dumps(figures, indent=2))
    print()
    print("| people | health and semantic marts (wall, incl. dbt start-up) | slowest models | `cdp report` (median) "
          "| report size |")
    print("|---:|---:|---|---:|---:|")
    slowest = ", ".join(f"{k} {v:.1f} s" for k, v in list(figures["model_seconds"].items())[:3])
    print(f"| {simulation.profiles:,} | {seconds:.1f} s | {slowest} | {figures['report_seconds']['median']:.2f} s "
          f"| {size / 1e3:,.0f} kB |")


if __name__ == "__main__":
    main()
