"""Quality as Dagster asset checks.

- Each suite of quality/expectations.yml is one check step on its table with up to two
  checks: ``expectations_error`` (blocking: when it fails, nothing downstream of the table
  runs in that run; for a mart that means the syncs reading it) and ``expectations_warn``
  (reported, blocks nothing).
- Scope: a suite with ``new_rows_by`` validates the rows written since its last run, unless
  the run is tagged ``cdp/quality_scope: full`` (the daily_quality_checks job and the one-shot
  hourly_pipeline are): the hourly runs check what the hour brought, the daily checks
  everything. The row-count change is always on the whole table.
- ``freshness`` on every raw table with a dbt freshness threshold, against the warehouse
  clock (orchestration/quality/freshness.py), warn or error severity as dbt would say; it
  blocks nothing: stale data is still the newest there is.

(No `from __future__ import annotations`: Dagster reads the context annotation at definition.)"""

import dagster as dg

from orchestration.loads.resources import WarehouseResource

from .config import Suite, load_suites
from .expectations import SCOPE_TAG, run_suite
from .freshness import freshness_rules, measure, warehouse_clock

WAREHOUSE_POOL = "duckdb_warehouse"  # the check records row counts: one writer at a time
CHECK_NAMES = {"error": "expectations_error", "warn": "expectations_warn"}
SEVERITY = {"error": dg.AssetCheckSeverity.ERROR, "warn": dg.AssetCheckSeverity.WARN}


def _suite_check(suite: Suite) -> dg.AssetChecksDefinition:
    key = dg.AssetKey(list(suite.asset_key))
    severities = [s for s in ("error", "warn") if suite.by_severity(s)]
    specs = [dg.AssetCheckSpec(CHECK_NAMES[s], asset=key, blocking=s == "error",
                               description=f"Great Expectations suite {suite.name} ({s}): "
                                           + "; ".join(e.label for e in suite.by_severity(s)))
             for s in severities]

    @dg.multi_asset_check(specs=specs, name=f"quality_{suite.name}", pool=WAREHOUSE_POOL,
                          description=f"Great Expectations suite {suite.name} on {suite.relation} "
                                      "(quality/expectations.yml).")
    def _check(context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource):
        scope = context.run.tags.get(SCOPE_TAG, "new_rows")
        with warehouse.connect() as wh:
            result = run_suite(suite, wh, run_id=context.run.run_id, clock=warehouse_clock(wh), scope=scope)
        context.log.info(f"{suite.name}: {result.scope_text} in {result.seconds:.2f} s")
        for severity in severities:
            outcomes = result.of(severity)
            failed = [o for o in outcomes if not o.passed]
            yield dg.AssetCheckResult(
                asset_key=key, check_name=CHECK_NAMES[severity], passed=not failed, severity=SEVERITY[severity],
                description=("; ".join(o.describe() for o in failed) if failed
                             else f"{len(outcomes)} expectations passed"),
                metadata={"rows": result.row_count, "previous_rows": result.previous_count,
                          "scope": result.scope_text, "checked_rows": result.checked_rows,
                          "seconds": round(result.seconds, 3),
                          "failed": len(failed),
                          **{o.expectation.label: dg.MetadataValue.json(o.observed | {"passed": o.passed})
                             for o in outcomes}})
    return _check


def _freshness_check() -> dg.AssetChecksDefinition:
    rules = freshness_rules()
    specs = [dg.AssetCheckSpec("freshness", asset=dg.AssetKey([source, table]),
                               description=f"Latest {rule.loaded_at_field} against the warehouse clock: warn after "
                                           f"{rule.warn_after}, error after {rule.error_after} (dbt source freshness "
                                           "thresholds)")
             for (source, table), rule in rules.items()]

    @dg.multi_asset_check(specs=specs, name="source_freshness", pool=WAREHOUSE_POOL, can_subset=True,
                          description="Freshness of every raw table against the simulation clock (or now, on a "
                                      "real warehouse), with the thresholds in the dbt source YAML files.")
    def _check(context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource):
        selected = {k.asset_key for k in context.selected_asset_check_keys}
        wanted = {k: r for k, r in rules.items() if dg.AssetKey(list(k)) in selected}
        with warehouse.connect() as wh:
            measured = measure(wh, wanted)
        for f in measured:
            lag_hours = None if f.lag is None else round(max(f.lag.total_seconds(), 0) / 3600, 2)
            yield dg.AssetCheckResult(
                asset_key=dg.AssetKey([f.rule.source, f.rule.table]), check_name="freshness",
                passed=f.status == "pass",
                severity=dg.AssetCheckSeverity.ERROR if f.status == "error" else dg.AssetCheckSeverity.WARN,
                description=("never loaded" if f.lag is None else
                             f"{lag_hours} h behind the clock ({f.status})"),
                metadata={"last_loaded_at": str(f.last_loaded_at), "clock": str(f.clock), "lag_hours": lag_hours,
                          "warn_after_hours": _hours(f.rule.warn_after),
                          "error_after_hours": _hours(f.rule.error_after)})
    return _check


def _hours(delta) -> float | None:
    return None if delta is None else delta.total_seconds() / 3600


quality_checks = [_suite_check(s) for s in load_suites().values()] + [_freshness_check()]
