"""Benchmark: generate and load N simulated people into a fresh DuckDB file.

    .venv/bin/python benchmarks/generate.py --profiles 1000000 [--out PATH]

Prints wall time, peak memory, rows per source and the warehouse file size, as a
Markdown table for the README, and writes the same figures as JSON next to the file.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import resource
import time
from pathlib import Path

import duckdb

from orchestration.loads.sync import start_simulation


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--profiles", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--as-of", default="2026-11-01")
    parser.add_argument("--out", default="/tmp/cdp_benchmark.duckdb")
    args = parser.parse_args()
    out = Path(args.out)
    for suffix in ("", ".wal"):
        Path(str(out) + suffix).unlink(missing_ok=True)

    started = time.perf_counter()
    result = start_simulation(out, args.seed, args.profiles, args.as_of, report=print)
    seconds = time.perf_counter() - started
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    con = duckdb.connect(str(out), read_only=True)
    truth_people = con.execute("select count(*) from _truth.persons").fetchone()[0]
    con.close()
    per_source = {source: n for source, (_, n) in result.per_source(include_internal=True).items()}
    figures = {
        "date": dt.date.today().isoformat(), "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "profiles": args.profiles, "seed": args.seed, "as_of": args.as_of, "seconds": round(seconds, 1),
        "peak_rss_mib": round(peak_mib), "file_bytes": out.stat().st_size, "rows_per_source": per_source,
        "raw_rows": sum(n for s, n in per_source.items() if not s.startswith("_")), "truth_people": truth_people,
    }
    Path(str(out) + ".json").write_text(json.dumps(figures, indent=2))
    print()
    print("| people | wall time | peak memory | raw rows | DuckDB file |")
    print("|---:|---:|---:|---:|---:|")
    print(f"| {args.profiles:,} | {seconds / 60:.1f} min | {peak_mib / 1024:.1f} GiB | {figures['raw_rows']:,} | "
          f"{figures['file_bytes'] / 1e9:.2f} GB |")
    print()
    print("| source | rows |")
    print("|---|---:|")
    for source, n in sorted(per_source.items()):
        print(f"| {source} | {n:,} |")


if __name__ == "__main__":
    main()
