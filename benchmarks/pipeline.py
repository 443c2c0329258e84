"""Wall time of the whole pipeline as Dagster runs it, and of the hourly run after it.

Runs the jobs in-process (the same assets, checks and order the schedules run): first
`hourly_pipeline` on an empty warehouse, which starts a simulation of --profiles people and
runs everything once (every connector's historical sync, the dbt build with its tests, the
quality checks, the predictions, every sync); then `hourly_run` with the clock one hour later
(`--hours`), which is what `hourly_run_schedule` does every hour (everything but the daily
models); then `daily_models`, what the daily models cost once a day. Prints the wall time of
each run and of its slowest steps, and the dbt models that took longest.

    python -m benchmarks.pipeline --warehouse /tmp/pipeline10k.duckdb --profiles 10000

With --hourly-only the warehouse must be one this benchmark (or the pipeline) already ran
on: only the hourly run is timed, once more (for a code change, after any --full-refresh
it needs).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path


def _run(job, path: Path, clock_config: dict | None) -> dict:
    import dagster as dg

    from orchestration.loads.resources import WarehouseResource

    started = time.perf_counter()
    result = job.execute_in_process(
        run_config={"ops": {"simulation__clock": {"config": clock_config}}} if clock_config is not None else None,
        resources={"warehouse": WarehouseResource(duckdb_path=str(path))},
        raise_on_error=False,
    )
    seconds = time.perf_counter() - started
    if not result.success:
        failures = [str(e.event_specific_data.error.message)[:500] for e in result.all_events
                    if e.event_type == dg.DagsterEventType.STEP_FAILURE]
        raise SystemExit(f"the run failed: {failures}")
    steps = {}
    for event in result.all_events:
        if event.event_type == dg.DagsterEventType.STEP_SUCCESS:
            steps[event.step_key] = round(event.event_specific_data.duration_ms / 1000, 1)
    models = {}
    for event in result.get_asset_materialization_events():
        materialization = event.event_specific_data.materialization
        duration = materialization.metadata.get("Execution Duration")
        if duration is not None:
            models["/".join(materialization.asset_key.path)] = round(float(duration.value), 2)
    checks = [e for e in result.all_events if e.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION]
    return {"seconds": round(seconds, 1), "steps": steps, "by_kind": by_kind(steps), "models": models,
            "checks": len(checks), "checks_failed": sum(1 for e in checks if not e.event_specific_data.passed)}


# Step keys by the kind of work they do (the README's "by kind of step" table).
STEP_KINDS = (("loads", ("simulation", "simulated_connectors", "fivetran")), ("dbt", ("cdp_dbt",)),
              ("quality checks", ("quality_", "source_freshness", "freshness_check")),
              ("predictions", ("profile_predictions",)), ("syncs", ("syncs__",)))


def by_kind(steps: dict[str, float]) -> dict[str, float]:
    """Seconds per kind of step; a step no kind claims is counted under "other"."""
    totals = {kind: 0.0 for kind, _ in STEP_KINDS} | {"other": 0.0}
    for step, seconds in steps.items():
        kind = next((k for k, prefixes in STEP_KINDS if step.startswith(prefixes)), "other")
        totals[kind] += seconds
    return {kind: round(total, 1) for kind, total in totals.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--warehouse", required=True, help="a DuckDB file that does not exist yet")
    parser.add_argument("--profiles", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--hours", type=float, default=1.0, help="how far the second (hourly) run moves the clock")
    parser.add_argument("--exports-dir", default=None, help="where file syncs write (default: beside the warehouse)")
    parser.add_argument("--hourly-only", action="store_true",
                        help="time one hourly run on an existing warehouse the pipeline already ran on")
    args = parser.parse_args()
    path = Path(args.warehouse)
    if args.hourly_only and not path.exists():
        raise SystemExit(f"{path} does not exist: --hourly-only times another hourly run on a warehouse the "
                         f"pipeline already ran on")
    if path.exists() and not args.hourly_only:
        raise SystemExit(f"{path} exists: the benchmark times a pipeline from an empty warehouse; pick a new file "
                         f"(or add --hourly-only to time one more hourly run on it)")
    os.environ["CDP_DUCKDB_PATH"] = str(path)
    os.environ["CDP_EXPORTS_DIR"] = args.exports_dir or str(path.with_suffix("")) + "_exports"

    from orchestration.definitions import defs

    job = defs.resolve_job_def("hourly_pipeline")
    hourly_job = defs.resolve_job_def("hourly_run")
    machine = f"{platform.machine()}, {os.cpu_count()} cores, {platform.python_version()}"
    if args.hourly_only:
        hourly = _run(hourly_job, path, {"hours": args.hours})
        print(json.dumps({"machine": machine, "hourly_run_hours": args.hours, "hourly_seconds": hourly["seconds"],
                          "hourly": hourly}, indent=2))
        runs = (("hourly run", hourly),)
    else:
        full = _run(job, path, {"profiles": args.profiles, "seed": args.seed, "hours": 0})
        hourly = _run(hourly_job, path, {"hours": args.hours})
        daily = _run(defs.resolve_job_def("daily_models"), path, None)
        report = {
            "machine": machine,
            "profiles": args.profiles, "seed": args.seed, "hourly_run_hours": args.hours,
            "full_seconds": full["seconds"], "hourly_seconds": hourly["seconds"],
            "hourly_share_of_full": round(hourly["seconds"] / full["seconds"], 3),
            "daily_models_seconds": daily["seconds"],
            "full": full, "hourly": hourly, "daily_models": daily,
        }
        print(json.dumps(report, indent=2))
        runs = (("full pipeline", full), ("hourly run", hourly), ("daily models", daily))
    for name, run in runs:
        print(f"\n{name}: {run['seconds']:.1f} s wall; {run['checks']} checks ({run['checks_failed']} failed)")
        print("  by kind: " + ", ".join(f"{kind} {seconds:.1f} s" for kind, seconds in run["by_kind"].items()))
        for step, seconds in sorted(run["steps"].items(), key=lambda kv: -kv[1])[:8]:
            print(f"  step {step}: {seconds:.1f} s")
        for model, seconds in sorted(run["models"].items(), key=lambda kv: -kv[1])[:10]:
            print(f"  model {model}: {seconds:.2f} s")


if __name__ == "__main__":
    main()
