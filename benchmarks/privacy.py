"""Benchmark: from a forget request to the person's absence everywhere.

    .venv/bin/python benchmarks/privacy.py --warehouse PATH

On a built warehouse (it is changed: a person is forgotten): picks a profile with an email,
records `cdp privacy forget` for it, then times the one build that removes them
(`cdp build`), the syncs (`cdp sync`) and `cdp privacy complete` (which searches every table
for the person's hashes). Each step runs as the command a user runs. Prints Markdown.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import subprocess
import sys
import time
from pathlib import Path

import duckdb


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--warehouse", required=True)
    args = parser.parse_args()
    path = Path(args.warehouse)
    con = duckdb.connect(str(path), read_only=True)
    email, profiles = con.execute("select min(email), (select count(*) from marts.profiles) from marts.profiles "
                                  "where email is not null").fetchone()
    con.close()
    cdp = str(Path(sys.executable).parent / "cdp")
    env = {**os.environ, "CDP_DUCKDB_PATH": str(path), "CDP_ACTOR": "benchmark"}
    times = {}
    for name, command in (("forget", [cdp, "privacy", "forget", email]), ("build", [cdp, "build"]),
                          ("sync", [cdp, "sync"]), ("complete", [cdp, "privacy", "complete"])):
        started = time.perf_counter()
        done = subprocess.run(command, env=env, capture_output=True, text=True)
        times[name] = time.perf_counter() - started
        if done.returncode != 0:
            raise SystemExit(f"{' '.join(command[1:])} failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
        print(f"{name}: {times[name]:.1f} s; {done.stdout.strip().splitlines()[-1][:200]}")
    total = sum(times.values())
    print(f"\n{dt.date.today()}, {profiles:,} profiles: forget {times['forget']:.1f} s, build {times['build']:.1f} s, "
          f"syncs {times['sync']:.1f} s, complete (search of every table) {times['complete']:.1f} s: "
          f"{total:.0f} s from request to absence")


if __name__ == "__main__":
    main()
