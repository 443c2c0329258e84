"""When things run.

In production (docs/dagster.md):
- ``loads_schedule``: every hour the loads run (the simulator's connectors, or Fivetran's).
- ``cdp_automation``: declarative automation for everything after the loads. The dbt models
  and the scores are eager (built as soon as what they read has changed, so the dbt build
  follows each load run); each sync runs on its own cron once the mart it reads has been
  rebuilt since the tick (exports/assets.py).
- ``daily_quality_checks_schedule``: every check once a day (dbt tests, the Great
  Expectations suites on every row, source and mart freshness), whatever ran or did not.
  In other runs the suites of event tables (``new_rows_by`` in quality/expectations.yml)
  check the rows written since their last run.
- The daily models (dbt tag ``daily``: BI analytics and data-quality marts, which nothing
  hourly reads) build once a day: by automation after 05:00 UTC, or with the
  ``daily_models`` job.
- ``hourly_pipeline``: the whole pipeline as one run (daily models included), for a first
  load or a demo. ``hourly_run``: what an hour needs, the same without the daily models;
  for a deployment that wants schedules and no automation, ``hourly_run_schedule`` with
  ``daily_models_schedule`` (and the daily checks). Switch on either those or the loads
  schedule and the automation sensor, not both.

Schedules and the automation sensor are off until switched on, so that a fresh
``make dagster`` writes nothing by itself.
"""

from __future__ import annotations

import dagster as dg

from orchestration.quality.expectations import SCOPE_TAG

HOURLY = "0 * * * *"
DAILY_MODELS = "0 5 * * *"
DAILY_QUALITY = "0 6 * * *"
# The Great Expectations suites with new_rows_by check only the rows written since their last
# run, except in runs with this tag (orchestration/quality/checks.py).
FULL_QUALITY = {SCOPE_TAG: "full"}
DAILY_TAG = "daily"  # dbt models tagged daily (dbt_project.yml); dagster-dbt makes each dbt tag an asset tag


def build_automation(load_assets: list) -> dict:
    """Jobs, schedules and the automation sensor for these load assets."""
    loads = [a for a in load_assets if isinstance(a, dg.AssetsDefinition)]
    loads_job = dg.define_asset_job(
        name="loads", selection=dg.AssetSelection.assets(*loads),
        description="Sync every connector (the simulator's clock first, when simulating). What follows runs by "
                    "declarative automation (sensor cdp_automation).")
    hourly_pipeline = dg.define_asset_job(
        name="hourly_pipeline", selection=dg.AssetSelection.all(), tags=FULL_QUALITY,
        description="The whole pipeline in one run: loads, dbt build, scores, syncs, their checks. For a first "
                    "load or a demo; hourly_run is what each hour needs.")
    daily_models = dg.AssetSelection.tag(DAILY_TAG, "")
    hourly_run = dg.define_asset_job(
        name="hourly_run", selection=dg.AssetSelection.all() - daily_models,
        description="One hour's run: loads, the dbt build without the daily models, scores, syncs, their checks.")
    daily_models_job = dg.define_asset_job(
        name="daily_models", selection=daily_models,
        description="The daily dbt models (tag daily: BI analytics and data-quality marts) with their tests.")
    daily_quality = dg.define_asset_job(
        name="daily_quality_checks", selection=dg.AssetSelection.all_asset_checks(), tags=FULL_QUALITY,
        description="Every asset check, without materializing anything: dbt tests, Great Expectations suites, "
                    "source freshness, mart freshness.")
    schedules = [
        dg.ScheduleDefinition(name="loads_schedule", job=loads_job, cron_schedule=HOURLY, execution_timezone="UTC",
                              default_status=dg.DefaultScheduleStatus.STOPPED),
        dg.ScheduleDefinition(name="hourly_run_schedule", job=hourly_run, cron_schedule=HOURLY,
                              execution_timezone="UTC", default_status=dg.DefaultScheduleStatus.STOPPED),
        dg.ScheduleDefinition(name="daily_models_schedule", job=daily_models_job, cron_schedule=DAILY_MODELS,
                              execution_timezone="UTC", default_status=dg.DefaultScheduleStatus.STOPPED),
        dg.ScheduleDefinition(name="daily_quality_checks_schedule", job=daily_quality, cron_schedule=DAILY_QUALITY,
                              execution_timezone="UTC", default_status=dg.DefaultScheduleStatus.STOPPED),
    ]
    automation = dg.AutomationConditionSensorDefinition(
        "cdp_automation", target=dg.AssetSelection.all(), default_status=dg.DefaultSensorStatus.STOPPED,
        minimum_interval_seconds=60,
        description="Evaluates the automation conditions: dbt models and scores after what they read, syncs on "
                    "their cron after their mart.")
    return {"jobs": [loads_job, hourly_pipeline, hourly_run, daily_models_job, daily_quality], "schedules": schedules,
            "sensors": [automation]}
