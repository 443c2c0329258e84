"""What the benchmark scripts share: the command-line arguments of a simulated warehouse,
opening (or generating) it, and timing a dbt invocation."""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

from orchestration.dbt.runner import run_dbt
from orchestration.loads.sync import start_simulation
from orchestration.loads.warehouse import open_warehouse


def warehouse_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--warehouse", required=True)
    parser.add_argument("--profiles", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--as-of", default="2026-11-01")
    parser.add_argument("--threads", type=int, default=None,
                        help="dbt threads for the timed builds (default: the profile's, 2); DuckDB parallelises "
                             "each query itself, so 1 can be faster on a small machine")


def simulated_warehouse(args: argparse.Namespace):
    """Point dbt at --warehouse and return its simulation, generating one first if it holds none
    (untimed; benchmarks/generate.py times generation)."""
    path = Path(args.warehouse)
    os.environ["CDP_DUCKDB_PATH"] = str(path)
    with open_warehouse(path) as wh:
        simulation = wh.simulation()
    if simulation is None:
        print(f"generating {args.profiles:,} people into {path} ...")
        start_simulation(path, args.seed, args.profiles, args.as_of, report=print)
        with open_warehouse(path) as wh:
            simulation = wh.simulation()
    return path, simulation


def threads_option(args: argparse.Namespace) -> list[str]:
    return ["--threads", str(args.threads)] if args.threads else []


def timed_dbt(args: list[str]) -> tuple[float, dict]:
    """Run dbt on the dev target; wall seconds (dbt's start-up included) and seconds per node."""
    started = time.perf_counter()
    outcome = run_dbt(args, target="dev")
    seconds = time.perf_counter() - started
    if not outcome.success:
        raise SystemExit(f"dbt {' '.join(args)} failed: {outcome.failures}")
    return seconds, outcome.seconds
