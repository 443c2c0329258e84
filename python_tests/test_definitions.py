"""The Dagster code location: it loads, and its asset graph runs from each connector's sync
through the staging model each raw table feeds. A whole run of hourly_pipeline is launched
through the webserver in test_dagster_webserver.py (one whole run per test session is enough)."""

from __future__ import annotations

import dagster as dg
import pytest

from orchestration.lib.raw_tables import raw_tables


@pytest.fixture(scope="module")
def defs():
    from orchestration.definitions import defs as definitions

    return definitions


def test_definitions_load_with_jobs_schedules_and_checks(defs):
    graph = defs.resolve_asset_graph()
    assert defs.resolve_job_def("hourly_pipeline") is not None
    assert defs.resolve_schedule_def("hourly_pipeline_schedule").cron_schedule == "0 * * * *"
    # Syncs: an asset after the model it reads, a job and a schedule each.
    node = graph.get(dg.AssetKey(["syncs", "vip_winback_to_parquet"]))
    assert dg.AssetKey(["marts", "audience_members"]) in node.parent_keys
    assert graph.get(dg.AssetKey(["marts", "audience_members"])).is_materializable
    assert defs.resolve_job_def("sync_vip_winback_to_parquet") is not None
    # dbt tests become asset checks.
    assert len(list(graph.asset_check_keys)) >= 2 * sum(len(t) for t in raw_tables().values())
    # Every materializable asset sits in a named group of the UI, none in "default".
    ungrouped = [k.to_user_string() for k in graph.materializable_asset_keys
                 if graph.get(k).group_name in (None, "default")]
    assert not ungrouped, ungrouped
    assert graph.get(dg.AssetKey(["seeds", "identity_rules"])).group_name == "seeds"


def test_every_staging_model_hangs_off_the_load_of_its_raw_table(defs):
    graph = defs.resolve_asset_graph()
    keys = set(graph.get_all_asset_keys())
    for source, tables in raw_tables().items():
        for table in tables:
            raw_key = dg.AssetKey([source, table])
            assert raw_key in keys
            node = graph.get(raw_key)
            assert node.is_materializable, f"{raw_key} is produced by the {source} sync asset"
            assert dg.AssetKey(["simulation", "clock"]) in node.parent_keys
            children = [k for k in node.child_keys if k.path[-1].startswith(f"stg_{source}__")]
            assert len(children) == 1, (raw_key, node.child_keys)


def test_production_scheduling_automation_alerts_and_freshness(defs):
    """Loads on a schedule, everything after them by declarative automation (dbt and the
    scores eagerly, each sync on its cron once its mart is rebuilt), a daily job of every
    check, the one-shot job, the failure alert and the marts' freshness checks."""
    graph = defs.resolve_asset_graph()
    schedules = {s.name: s for s in defs.schedules}
    assert schedules["loads_schedule"].cron_schedule == "0 * * * *"
    assert schedules["loads_schedule"].job.name == "loads"
    assert schedules["hourly_pipeline_schedule"].job.name == "hourly_pipeline"
    assert schedules["daily_quality_checks_schedule"].cron_schedule == "0 6 * * *"
    assert all(s.default_status == dg.DefaultScheduleStatus.STOPPED for s in schedules.values())
    sensors = {s.name: s for s in defs.sensors}
    assert {"cdp_automation", "alert_on_run_failure", "mart_freshness_sensor"} <= set(sensors)
    assert sensors["alert_on_run_failure"].default_status == dg.DefaultSensorStatus.RUNNING

    # The loads job is the loads and nothing after them.
    loads = defs.resolve_job_def("loads").asset_layer.executable_asset_keys
    assert dg.AssetKey(["simulation", "clock"]) in loads and dg.AssetKey(["shopify", "order"]) in loads
    assert not any(k.path[0] in ("staging", "marts", "syncs") for k in loads)
    # After the loads: dbt models and the scores eager, syncs on their cron; loads have none.
    eager = dg.AutomationCondition.eager().get_label()
    assert graph.get(dg.AssetKey(["staging", "stg_shopify__orders"])).automation_condition.get_label() == eager
    assert graph.get(dg.AssetKey(["profile_predictions"])).automation_condition.get_label() == eager
    sync_condition = graph.get(dg.AssetKey(["syncs", "vip_winback_to_parquet"])).automation_condition
    assert "15 * * * *" in str(sync_condition)
    assert graph.get(dg.AssetKey(["shopify", "order"])).automation_condition is None
    # Loads retry with exponential backoff.
    policy = defs.resolve_assets_def(dg.AssetKey(["shopify", "order"])).node_def.retry_policy
    assert policy.max_retries >= 2 and policy.backoff == dg.Backoff.EXPONENTIAL

    # The daily job runs every check and materializes nothing.
    daily = defs.resolve_job_def("daily_quality_checks").asset_layer
    assert not daily.executable_asset_keys
    checks = set(daily.asset_graph.asset_check_keys) & set(graph.asset_check_keys)
    names = {k.name for k in checks}
    assert {"freshness", "freshness_check", "expectations_error"} <= names
    assert dg.AssetCheckKey(dg.AssetKey(["marts", "profiles"]), "freshness_check") in graph.asset_check_keys


def test_the_event_model_is_partitioned_by_day_and_built_apart(defs):
    graph = defs.resolve_asset_graph()
    key = dg.AssetKey(["intermediate", "int_segment_calls_deduplicated"])
    node = graph.get(key)
    assert isinstance(node.partitions_def, dg.DailyPartitionsDefinition)
    assert defs.resolve_assets_def(key).backfill_policy == dg.BackfillPolicy.single_run()
    # Only that model: the rest of the project stays one unpartitioned definition.
    others = defs.resolve_assets_def(dg.AssetKey(["marts", "profiles"]))
    assert key not in others.keys and others.partitions_def is None
    assert dg.AssetKey(["segment", "tracks"]) in node.parent_keys


def test_automation_builds_the_models_of_a_load_after_it_and_nothing_else(defs):
    """The automation sensor's conditions, evaluated for real: nothing downstream of a raw
    table is requested before it loads; once it has, its staging model is, and a sync is
    not (it waits for its cron tick)."""
    instance = dg.DagsterInstance.ephemeral()
    orders = dg.AssetKey(["staging", "stg_shopify__orders"])
    first = dg.evaluate_automation_conditions(defs=defs, instance=instance)
    assert first.get_num_requested(orders) == 0
    instance.report_runless_asset_event(dg.AssetMaterialization(asset_key=dg.AssetKey(["shopify", "order"])))
    second = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=first.cursor)
    assert second.get_num_requested(orders) == 1
    assert second.get_num_requested(dg.AssetKey(["staging", "stg_stripe__charges"])) == 0  # its table did not load
    assert second.get_num_requested(dg.AssetKey(["syncs", "vip_winback_to_parquet"])) == 0
