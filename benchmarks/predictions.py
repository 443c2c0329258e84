"""Benchmark: predictive scores on a built warehouse (the profile layer must exist).

    .venv/bin/python benchmarks/predictions.py --warehouse PATH

Fits BG/NBD + Gamma-Gamma on every order up to the simulation clock and writes
marts.profile_predictions (timed), and evaluates on a time split: fitted on the orders up
to a year before the clock, churn (no order in the next 90 days) by AUC and 12-month value
by mean absolute error, each next to a naive baseline. Prints Markdown; writes JSON next to
the warehouse.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import time
from pathlib import Path

import duckdb

from orchestration.dbt.project import simulation_clock
from orchestration.predictions.clv import score


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--warehouse", required=True)
    path = Path(parser.parse_args().warehouse)
    clock = simulation_clock(path)
    if clock is None:
        raise SystemExit(f"{path} holds no simulation: the evaluation needs the simulator's clock")
    con = duckdb.connect(str(path))
    try:
        people = con.execute("select profiles from _cdp_meta.simulation").fetchone()[0]
        started = time.perf_counter()
        figures = score(con, clock)
        seconds = time.perf_counter() - started
    finally:
        con.close()
    figures.update({"date": dt.date.today().isoformat(), "machine": f"{platform.machine()}, {os.cpu_count()} cores",
                    "people": people, "seconds_fit_score_evaluate": round(seconds, 1)})
    Path(str(path) + ".predictions.json").write_text(json.dumps(figures, indent=2))
    print(json.dumps(figures, indent=2))
    e = figures["evaluation"]
    print()
    print("| people | customers at the split | churn AUC (baseline: days since last order) "
          "| 12-month value MAE (baseline: last year's spend; zero) | RMSE (last year's) "
          "| Spearman (last year's) | total predicted / actual / baseline | orders predicted / actual "
          "| mean dropout | time |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    print(f"| {people:,} | {e['customers']:,} | {e['churn_auc']:.3f} ({e['churn_auc_baseline_recency']:.3f}) "
          f"| {e['value_mae']:,.0f} ({e['value_mae_baseline_last_year']:,.0f}; {e['value_mae_baseline_zero']:,.0f}) "
          f"| {e['value_rmse']:,.0f} ({e['value_rmse_baseline_last_year']:,.0f}) "
          f"| {e['value_spearman']:.3f} ({e['value_spearman_baseline_last_year']:.3f}) "
          f"| {e['value_total_predicted']:,.0f} / {e['value_total_actual']:,.0f} / {e['value_total_baseline_last_year']:,.0f} "
          f"| {e['orders_predicted']:,.0f} / {e['orders_actual']:,} | {e['mean_dropout']:.3g} | {seconds:.1f} s |")

if __name__ == "__main__":
    main()
