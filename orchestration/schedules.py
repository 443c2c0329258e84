"""Schedules: every hour the simulated sources move on, every connector syncs, and the dbt
project builds on what landed."""

from __future__ import annotations

import dagster as dg

hourly_pipeline = dg.define_asset_job(
    name="hourly_pipeline",
    selection=dg.AssetSelection.all(),
    description="Advance the source clock, sync every connector, dbt build, then score predictions.",
)

hourly_pipeline_schedule = dg.ScheduleDefinition(
    name="hourly_pipeline_schedule",
    job=hourly_pipeline,
    cron_schedule="0 * * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.STOPPED,
)
