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
    assert defs.resolve_schedule_def("hourly_run_schedule").cron_schedule == "0 * * * *"
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
    assert schedules["hourly_run_schedule"].job.name == "hourly_run"
    assert (schedules["daily_models_schedule"].job.name, schedules["daily_models_schedule"].cron_schedule) == (
        "daily_models", "0 5 * * *")
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


def test_daily_models_are_left_out_of_the_hourly_run_and_nothing_hourly_reads_them(defs):
    """dbt models tagged daily (BI analytics, data quality) build once a day: on a cron in
    the automation, in the daily_models job, not in hourly_run. Nothing built hourly may read
    one (it would read a day-old table), which the dbt manifest shows."""
    import json

    from orchestration import settings

    manifest = json.loads((settings.dbt_target_path() / "manifest.json").read_text())
    nodes = {uid: n for uid, n in manifest["nodes"].items() if n["resource_type"] in ("model", "snapshot", "seed")}
    daily = {uid for uid, n in nodes.items() if "daily" in n["tags"]}
    names = {nodes[uid]["name"] for uid in daily}
    assert {"order_attribution", "funnel_steps_daily", "int_raw_tables_profiled", "cohort_retention"} <= names
    assert not names & {"profile_events", "profiles", "profile_traits", "audience_members", "sessions"}
    hourly_children = sorted((nodes[uid]["name"], nodes[c]["name"]) for uid in daily
                             for c in manifest["child_map"][uid] if c in nodes and c not in daily)
    assert hourly_children == []

    graph = defs.resolve_asset_graph()
    daily_keys = {k for k in graph.materializable_asset_keys if k.path[-1] in names}
    assert len(daily_keys) == len(names)
    hourly = defs.resolve_job_def("hourly_run").asset_layer.executable_asset_keys
    assert not hourly & daily_keys
    assert {dg.AssetKey(["marts", "profile_events"]), dg.AssetKey(["syncs", "vip_winback_to_parquet"]),
            dg.AssetKey(["shopify", "order"]), dg.AssetKey(["profile_predictions"])} <= hourly
    # ... and neither are their tests (asset checks).
    hourly_checks = defs.resolve_job_def("hourly_run").asset_layer.asset_graph.asset_check_keys
    assert not {c for c in hourly_checks if c.asset_key in daily_keys}
    assert defs.resolve_job_def("daily_models").asset_layer.executable_asset_keys == daily_keys
    assert defs.resolve_job_def("hourly_pipeline").asset_layer.executable_asset_keys >= daily_keys
    condition = graph.get(dg.AssetKey(["marts", "order_attribution"])).automation_condition
    assert "0 5 * * *" in str(condition)


def test_hourly_dbt_steps_test_new_rows_and_daily_checks_every_row(defs):
    """The dbt steps of a run test the big tables' new rows (CDP_DBT_TEST_SCOPE=new,
    macros/quality/new_rows.sql) unless the run is tagged for full checks: the hourly run and
    the automation's runs test new rows, the daily checks and the one-shot pipeline every row."""
    from orchestration.dbt.assets import dbt_test_scope

    scopes = {name: dbt_test_scope(defs.resolve_job_def(name).tags)
              for name in ("hourly_run", "loads", "daily_models", "daily_quality_checks", "hourly_pipeline")}
    assert scopes == {"hourly_run": "new", "loads": "new", "daily_models": "new",
                      "daily_quality_checks": "all", "hourly_pipeline": "all"}
    assert dbt_test_scope({}) == "new"  # a run the automation sensor launches


def test_dbt_steps_start_dbt_without_an_in_process_adapter(defs, monkeypatch):
    """The resource the dbt assets run with hands dbt its arguments and no adapter: dagster-dbt's
    in-process adapter (every macro parsed in Dagster's process, seconds per dbt step) serves
    only column metadata and row counts, which this project does not fetch. Were dagster-dbt to
    set the adapter up under another name, the adapter here would be a real one. The dbt
    version it knows without running `dbt --version` is the one that command prints."""
    from dagster_dbt import DbtCliResource
    from dagster_dbt.core.dbt_cli_invocation import DbtCliInvocation

    from orchestration.dbt.assets import dbt_resource

    plain = DbtCliResource(project_dir=dbt_resource.project_dir, dbt_executable=dbt_resource.dbt_executable)
    assert dbt_resource._cli_version == plain._cli_version  # plain runs `dbt --version`

    assert defs.resources["dbt"] is dbt_resource
    seen = {}

    def run(cls, **kwargs):
        seen.update(kwargs)
        return "started"

    monkeypatch.setattr(DbtCliInvocation, "run", classmethod(run))
    assert dbt_resource.cli(["build", "--select", "stg_shopify__customers"]) == "started"
    assert seen["args"][0].endswith("dbt") and "build" in seen["args"]
    assert seen["adapter"] is None
