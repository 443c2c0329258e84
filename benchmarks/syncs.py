"""Benchmark: syncs on a built warehouse.

    .venv/bin/python benchmarks/syncs.py --warehouse PATH [--webhook-rows 100000]

On a copy-free, already built warehouse (run benchmarks/profiles.py or `cdp build` first):
1. a mirror sync of every profile (profile_id, email, names, city, country) to one Parquet
   file: the first run (diff against an empty state and write), then a re-run with nothing
   changed (goal: seconds, zero rows sent);
2. an upsert sync of the first --webhook-rows profiles to a webhook receiver on loopback
   (python_tests/webhook_server.py: signature checked, idempotency keys deduplicated), in
   batches of 500: rows per second, end to end (plan, log, sign, send, record).
Each sync's state is reset first (its rows in cdp_sync), so the runs start from nothing.
Prints Markdown for the README and writes JSON next to the warehouse.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from orchestration.dbt.project import ensure_manifest  # noqa: E402
from orchestration.exports import engine  # noqa: E402
from orchestration.exports.config import parse_sync  # noqa: E402
from python_tests.webhook_server import SECRET, Receiver  # noqa: E402

FIELDS = {"email": "email", "first_name": "first_name", "last_name": "last_name", "city": "city",
          "country_code": "country_code"}


def reset(path: Path, name: str) -> None:
    con = duckdb.connect(str(path))
    try:
        for table in ("delivered_state", "sync_plans", "delivery_log", "sync_runs", "pending_publishes"):
            exists = con.execute("select count(*) from information_schema.tables where table_schema = 'cdp_sync' "
                                 "and table_name = ?", [table]).fetchone()[0]
            if exists:
                con.execute(f"delete from cdp_sync.{table} where sync_name = ?", [name])
    finally:
        con.close()


def timed(spec, path, manifest):
    started = time.perf_counter()
    result = engine.run_sync(spec, path, manifest)
    return time.perf_counter() - started, result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--warehouse", required=True)
    parser.add_argument("--webhook-rows", type=int, default=100_000)
    args = parser.parse_args()
    path = Path(args.warehouse)
    manifest = json.loads(ensure_manifest().read_text())
    figures = {"date": dt.date.today().isoformat(), "machine": f"{platform.machine()}, {os.cpu_count()} cores"}

    with tempfile.TemporaryDirectory() as folder:
        target = Path(folder) / "profiles.parquet"
        spec = parse_sync({"name": "bench_profiles_parquet", "source": {"model": "profiles"}, "purpose": "analytics",
                           "destination": {"type": "file", "format": "parquet", "path": str(target)},
                           "mode": "mirror", "fields": FIELDS}, "benchmark")
        reset(path, spec.name)
        first_seconds, first = timed(spec, path, manifest)
        again_seconds, again = timed(spec, path, manifest)
        figures["parquet"] = {"rows": first.plan.source_rows, "first_run_seconds": round(first_seconds, 1),
                              "first_run_sent": first.sent, "file_mb": round(target.stat().st_size / 1e6, 1),
                              "rerun_seconds": round(again_seconds, 1), "rerun_status": again.status,
                              "rerun_sent": again.sent}

    receiver = Receiver()
    try:
        con = duckdb.connect(str(path))
        con.execute("create schema if not exists bench")
        con.execute(f"create or replace table bench.webhook_profiles as select * from marts.profiles "
                    f"order by profile_id limit {args.webhook_rows}")
        con.close()
        manifest_copy = json.loads(json.dumps(manifest))
        manifest_copy["nodes"]["model.cdp.bench_webhook_profiles"] = {
            "resource_type": "model", "name": "bench_webhook_profiles", "package_name": "cdp", "schema": "bench",
            "alias": "webhook_profiles"}
        spec = parse_sync({"name": "bench_profiles_webhook", "source": {"model": "bench_webhook_profiles"},
                           "purpose": "analytics", "destination": {"type": "webhook", "url": receiver.url,
                                                                   "secret": SECRET, "batch_size": 500},
                           "mode": "upsert", "fields": FIELDS}, "benchmark")
        reset(path, spec.name)
        seconds, result = timed(spec, path, manifest_copy)
        assert len(receiver.state) == result.sent == result.plan.source_rows, (len(receiver.state), result)
        figures["webhook"] = {"rows": result.sent, "seconds": round(seconds, 1),
                              "rows_per_second": round(result.sent / seconds), "requests": receiver.requests}
    finally:
        receiver.close()
        con = duckdb.connect(str(path))
        con.execute("drop table if exists bench.webhook_profiles")
        con.close()

    Path(str(path) + ".syncs.json").write_text(json.dumps(figures, indent=2))
    print(json.dumps(figures, indent=2))
    p, w = figures["parquet"], figures["webhook"]
    print()
    print("| profiles | Parquet mirror, first run | re-run, nothing changed | webhook upsert |")
    print("|---:|---:|---:|---:|")
    print(f"| {p['rows']:,} | {p['first_run_seconds']} s ({p['first_run_sent']:,} rows, {p['file_mb']} MB) "
          f"| {p['rerun_seconds']} s, {p['rerun_sent']} rows sent | {w['rows']:,} rows in {w['seconds']} s: "
          f"{w['rows_per_second']:,} rows/s |")


if __name__ == "__main__":
    main()
