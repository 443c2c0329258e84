"""The Dagster code location: it only assembles what the concern folders define."""

from __future__ import annotations

import dagster as dg

from orchestration.alerts.sensors import alert_sensors
from orchestration.dbt.assets import cdp_dbt_assets, cdp_dbt_event_assets, dbt_resource
from orchestration.exports.assets import sync_assets, sync_jobs
from orchestration.loads.assets import load_assets
from orchestration.loads.resources import WarehouseResource
from orchestration.predictions.assets import profile_predictions
from orchestration.quality.checks import quality_checks
from orchestration.quality.mart_freshness import (
    mart_freshness_checks,
    mart_freshness_sensor,
)
from orchestration.schedules import build_automation


def build_definitions() -> dg.Definitions:
    """The definitions for the current environment: the loads are Fivetran's when
    CDP_FIVETRAN_API_KEY/SECRET are set, else the simulator's."""
    loads, load_resources = load_assets()
    automation = build_automation(loads)
    return dg.Definitions(
        assets=[*loads, cdp_dbt_assets, cdp_dbt_event_assets, profile_predictions, *sync_assets],
        asset_checks=[*quality_checks, *mart_freshness_checks],
        jobs=[*automation["jobs"], *sync_jobs],
        schedules=automation["schedules"],
        sensors=[*automation["sensors"], mart_freshness_sensor, *alert_sensors],
        resources={"warehouse": WarehouseResource(), "dbt": dbt_resource, **load_resources},
        # DuckDB has one writer: run the steps of a run one after another.
        executor=dg.in_process_executor,
    )


defs = build_definitions()
