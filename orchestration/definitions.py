"""The Dagster code location: it only assembles what the concern folders define."""

from __future__ import annotations

import dagster as dg

from orchestration.dbt.assets import cdp_dbt_assets, dbt_resource
from orchestration.exports.assets import sync_assets, sync_jobs, sync_schedules
from orchestration.loads.assets import connector_assets, simulation_clock
from orchestration.loads.resources import WarehouseResource
from orchestration.predictions.assets import profile_predictions
from orchestration.quality.checks import quality_checks
from orchestration.schedules import hourly_pipeline, hourly_pipeline_schedule

defs = dg.Definitions(
    assets=[simulation_clock, *connector_assets, cdp_dbt_assets, profile_predictions, *sync_assets],
    asset_checks=quality_checks,
    jobs=[hourly_pipeline, *sync_jobs],
    schedules=[hourly_pipeline_schedule, *sync_schedules],
    resources={"warehouse": WarehouseResource(), "dbt": dbt_resource},
    # DuckDB has one writer: run the steps of a run one after another.
    executor=dg.in_process_executor,
)
