"""Each sync in syncs/*.yml as a Dagster asset after the dbt model it reads, with a job of its
own, retries with exponential backoff and jitter, and a pool per destination type, so that
the instance can cap concurrent calls to each destination
(orchestration/dagster_home/dagster.yaml).

When a sync runs is declared on its asset: a sync with a ``schedule`` runs once per tick of
that cron, as soon as the model it reads has been rebuilt since the tick
(``AutomationCondition.on_cron``); one without runs whenever that model changes (``eager``).

(No `from __future__ import annotations`: Dagster reads the context annotation at definition.)"""

import json

import dagster as dg
from dagster_dbt import get_asset_key_for_model

from orchestration.dbt.assets import cdp_dbt_assets
from orchestration.dbt.project import ensure_manifest
from orchestration.exports.config import SyncSpec, load_syncs
from orchestration.exports.engine import describe, run_sync
from orchestration.loads.resources import WarehouseResource


def automation_condition(spec: SyncSpec) -> dg.AutomationCondition:
    """A sync's cadence: its cron, waiting for the mart after each tick; else every change."""
    if spec.schedule:
        return dg.AutomationCondition.on_cron(spec.schedule, cron_timezone="UTC")
    return dg.AutomationCondition.eager()


def _sync_asset(spec: SyncSpec) -> dg.AssetsDefinition:
    @dg.asset(
        # The dbt asset's own key (dagster-dbt puts the schema first: marts/audience_members), so the
        # sync runs after the model and waits for its blocking checks.
        name=spec.name, key_prefix=["syncs"], group_name="syncs",
        deps=[get_asset_key_for_model([cdp_dbt_assets], spec.source_model)],
        pool=f"sync_{spec.destination_type}", kinds={"python", spec.destination_type},
        automation_condition=automation_condition(spec),
        retry_policy=dg.RetryPolicy(max_retries=3, delay=30, backoff=dg.Backoff.EXPONENTIAL,
                                    jitter=dg.Jitter.PLUS_MINUS),
        description=f"Sync {spec.name} ({spec.file}): {spec.audience or spec.source_model} -> "
                    f"{spec.destination_type}, mode {spec.mode}.",
    )
    def sync_asset(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
        manifest = json.loads(ensure_manifest().read_text())
        with warehouse.connect() as wh:  # the state lives in the dbt target's warehouse
            result = run_sync(spec, wh, manifest, log=context.log.info)
        context.log.info(describe(result))
        if result.status in ("refused", "failed"):
            # Nothing (or nothing more) was sent; the run says why. Failed rows are retried next run.
            raise dg.Failure(description=f"sync {spec.name} {result.status}: {result.message}",
                             allow_retries=result.status == "failed")
        plan = result.plan
        return dg.MaterializeResult(metadata={
            "status": result.status, "run_id": result.run_id, "source_rows": plan.source_rows if plan else 0,
            "adds": plan.adds if plan else 0, "changes": plan.changes if plan else 0,
            "removes": plan.removes if plan else 0, "sent": result.sent, "failed": result.failed,
            "message": result.message or ""})
    return sync_asset


syncs = load_syncs()
sync_assets = [_sync_asset(spec) for spec in syncs.values()]
sync_jobs = [dg.define_asset_job(name=f"sync_{spec.name}", selection=dg.AssetSelection.assets(["syncs", spec.name]),
                                 description=f"Run sync {spec.name} alone.") for spec in syncs.values()]
