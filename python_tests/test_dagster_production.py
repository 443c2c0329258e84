"""Dagster as it runs in production: the alert hook on a real failed run, the marts'
freshness checks, the Fivetran wiring (from a workspace snapshot, no network), and a
partition run of the event model that rebuilds its window and nothing else."""

import logging

import dagster as dg
import duckdb
import pytest

from orchestration import settings
from orchestration.lib.raw_tables import raw_tables
from python_tests.servers.alerts import AlertWebhook


@pytest.fixture
def webhook():
    server = AlertWebhook()
    yield server
    server.close()


def _failed_loads_run(tmp_path):
    """A real failed run of the project's `loads` job: a new simulation of zero people."""
    from orchestration.definitions import defs
    from orchestration.loads.resources import WarehouseResource

    instance = dg.DagsterInstance.ephemeral()
    result = defs.resolve_job_def("loads").execute_in_process(
        instance=instance, raise_on_error=False,
        run_config={"ops": {"simulation__clock": {"config": {"profiles": 0}}}},
        resources={"warehouse": WarehouseResource(duckdb_path=str(tmp_path / "w.duckdb"))})
    assert not result.success
    return instance, result


def _evaluate_alert_sensor(instance, result):
    from orchestration.alerts.sensors import alert_on_run_failure

    context = dg.build_run_status_sensor_context(
        sensor_name="alert_on_run_failure", dagster_instance=instance, dagster_run=result.dagster_run,
        dagster_event=result.get_run_failure_event()).for_run_failure()
    alert_on_run_failure(context)


def test_a_failed_run_is_posted_to_the_alert_webhook(tmp_path, webhook, monkeypatch):
    monkeypatch.setenv("CDP_ALERT_WEBHOOK_URL", webhook.url)
    monkeypatch.setenv("CDP_DAGSTER_UI_URL", "https://dagster.example.com/")
    instance, result = _failed_loads_run(tmp_path)
    _evaluate_alert_sensor(instance, result)

    assert len(webhook.bodies) == 1
    body = webhook.bodies[0]
    run_id = result.dagster_run.run_id
    assert body["event"] == "run_failure"
    assert body["job"] == "loads" and body["run_id"] == run_id
    assert body["step"] == "simulation__clock"  # the step that failed, not the ones skipped after it
    assert "profiles" in body["error"], body["error"]  # the error the step raised
    assert body["url"] == f"https://dagster.example.com/runs/{run_id}"
    assert run_id in body["text"] and "simulation__clock" in body["text"]


def test_the_alert_is_retried_while_the_webhook_is_down_for_a_moment(tmp_path, monkeypatch):
    from orchestration.alerts import hook

    server = AlertWebhook(fail_first=2)
    try:
        monkeypatch.setattr(hook, "BACKOFF_SECONDS", 0.01)
        alert = hook.RunFailureAlert(job="loads", run_id="r1", step="s", error="boom", url="http://x/runs/r1")
        assert hook.send(alert, logging.getLogger("test"), url=server.url)
        assert server.requests == 3 and [b["run_id"] for b in server.bodies] == ["r1"]
    finally:
        server.close()


def test_without_a_webhook_the_alert_is_only_logged(tmp_path, monkeypatch, caplog):
    from orchestration.alerts import hook

    monkeypatch.delenv("CDP_ALERT_WEBHOOK_URL", raising=False)
    alert = hook.RunFailureAlert(job="loads", run_id="r2", step=None, error="boom", url="http://x/runs/r2")
    with caplog.at_level(logging.ERROR):
        assert hook.send(alert, logging.getLogger("cdp.alerts")) is False
    assert "Dagster run of loads failed: boom" in caplog.text
    monkeypatch.setenv("CDP_ALERT_WEBHOOK_URL", "hooks.example.com/x")
    with pytest.raises(hook.AlertConfigError, match="CDP_ALERT_WEBHOOK_URL must be an http"):
        hook.webhook_url()


def test_mart_freshness_checks_fail_a_mart_not_rebuilt_in_time():
    from orchestration.quality.mart_freshness import mart_freshness_checks, mart_keys

    keys = mart_keys()
    assert dg.AssetKey(["marts", "profiles"]) in keys and dg.AssetKey(["profile_predictions"]) in keys
    assert not any(k.path[0] == "staging" for k in keys)
    fresh = dg.AssetKey(["marts", "profiles"])
    stale = dg.AssetKey(["marts", "audience_members"])
    instance = dg.DagsterInstance.ephemeral()
    instance.report_runless_asset_event(dg.AssetMaterialization(asset_key=fresh))  # just rebuilt
    job = dg.define_asset_job("freshness", selection=dg.AssetSelection.checks(*mart_freshness_checks))
    defs = dg.Definitions(assets=[dg.AssetSpec(k) for k in keys], asset_checks=mart_freshness_checks, jobs=[job])
    result = defs.resolve_job_def("freshness").execute_in_process(instance=instance)
    outcome = {e.asset_key: e for e in result.get_asset_check_evaluations()}
    assert outcome[fresh].passed
    assert not outcome[stale].passed and outcome[stale].severity == dg.AssetCheckSeverity.ERROR


# --- Fivetran -------------------------------------------------------------------------------

def _fivetran_snapshot(path, account_id: str, group_id: str):
    """A workspace snapshot as `dagster-fivetran snapshot` writes it: one connector per
    Fivetran source of the project (its raw tables, plus one table no dbt source reads) and a
    connector of another group that must be left out."""
    from dagster._core.definitions.repository_definition.repository_definition import (
        RepositoryLoadData,
    )
    from dagster_fivetran.constants import FIVETRAN_RECONSTRUCTION_METADATA_KEY_PREFIX
    from dagster_fivetran.translator import (
        FivetranConnector,
        FivetranDestination,
        FivetranSchema,
        FivetranSchemaConfig,
        FivetranTable,
        FivetranWorkspaceData,
    )
    from dagster_shared.serdes import serialize_value

    def connector(cid, schema, group, tables):
        c = FivetranConnector(id=cid, name=schema, service=schema, group_id=group, setup_state="connected",
                              sync_state="scheduled", paused=False, succeeded_at=None, failed_at=None)
        config = FivetranSchemaConfig(schemas={schema: FivetranSchema(
            enabled=True, name_in_destination=schema,
            tables={t: FivetranTable(enabled=True, name_in_destination=t, columns=None) for t in tables})})
        return c, config

    made = [connector(f"conn_{source}", tables_[next(iter(tables_))].schema, group_id,
                      list(tables_) + (["abandoned_checkout"] if source == "shopify" else []))
            for source, tables_ in raw_tables().items() if source != "segment"]
    made.append(connector("conn_hubspot", "hubspot", "another_group", ["contact"]))
    data = FivetranWorkspaceData(
        connectors_by_id={c.id: c for c, _ in made},
        destinations_by_id={g: FivetranDestination(id=g, database="CDP", service="snowflake")
                            for g in (group_id, "another_group")},
        schema_configs_by_connector_id={c.id: config for c, config in made})
    load = RepositoryLoadData(reconstruction_metadata={
        f"{FIVETRAN_RECONSTRUCTION_METADATA_KEY_PREFIX}/{account_id}": serialize_value(data)})
    path.write_text(serialize_value(load))
    return path


def test_with_fivetran_configured_the_raw_tables_come_from_fivetran(tmp_path, monkeypatch):
    from orchestration.definitions import build_definitions

    snapshot = _fivetran_snapshot(tmp_path / "fivetran.snapshot", "acct_1", "grp_1")
    for name, value in {"CDP_FIVETRAN_API_KEY": "key", "CDP_FIVETRAN_API_SECRET": "secret",
                        "CDP_FIVETRAN_ACCOUNT_ID": "acct_1", "CDP_FIVETRAN_GROUP_ID": "grp_1",
                        "CDP_FIVETRAN_SNAPSHOT_PATH": str(snapshot)}.items():
        monkeypatch.setenv(name, value)
    defs = build_definitions()
    graph = defs.resolve_asset_graph()
    keys = set(graph.get_all_asset_keys())
    assert dg.AssetKey(["simulation", "clock"]) not in keys
    loads = defs.resolve_job_def("loads")
    for source, tables in raw_tables().items():
        for table in tables:
            key = dg.AssetKey([source, table])
            node = graph.get(key)
            staging = [k for k in node.child_keys if k.path[-1].startswith(f"stg_{source}__")]
            assert len(staging) == 1, (key, node.child_keys)  # the dbt source it feeds
            if source == "segment":  # Segment's own loader, outside Dagster
                assert not node.is_materializable
                continue
            assert node.is_materializable
            assets_def = defs.resolve_assets_def(key)
            assert assets_def.node_def.name == f"fivetran_{source}"
            assert assets_def.node_def.retry_policy.backoff == dg.Backoff.EXPONENTIAL
            assert key in loads.asset_layer.executable_asset_keys
    # A table no dbt source reads keeps Fivetran's key; another group's connector is left out.
    assert dg.AssetKey(["shopify", "abandoned_checkout"]) in keys
    assert dg.AssetKey(["hubspot", "contact"]) not in keys
    assert "fivetran" in defs.resources


def test_fivetran_settings_name_what_is_missing(monkeypatch):
    from orchestration.loads.fivetran import FivetranConfigError, fivetran_settings

    for name in ("CDP_FIVETRAN_API_KEY", "CDP_FIVETRAN_API_SECRET", "CDP_FIVETRAN_ACCOUNT_ID",
                 "CDP_FIVETRAN_GROUP_ID", "CDP_FIVETRAN_CONNECTORS", "CDP_FIVETRAN_SNAPSHOT_PATH"):
        monkeypatch.delenv(name, raising=False)
    assert fivetran_settings() is None  # the simulator
    monkeypatch.setenv("CDP_FIVETRAN_API_KEY", "key")
    with pytest.raises(FivetranConfigError, match="CDP_FIVETRAN_API_SECRET, CDP_FIVETRAN_ACCOUNT_ID, "
                                                  "CDP_FIVETRAN_GROUP_ID or CDP_FIVETRAN_CONNECTORS"):
        fivetran_settings()
    monkeypatch.setenv("CDP_FIVETRAN_API_SECRET", "secret")
    monkeypatch.setenv("CDP_FIVETRAN_ACCOUNT_ID", "acct")
    monkeypatch.setenv("CDP_FIVETRAN_CONNECTORS", "shopify, conn_9")
    cfg = fivetran_settings()
    assert cfg.connectors == {"shopify", "conn_9"} and cfg.group_id is None


# --- Partitions -----------------------------------------------------------------------------

CALLS = "intermediate.int_segment_calls_deduplicated"


def test_a_partition_run_rebuilds_its_day_of_events_and_nothing_else(built_copy):
    """Every call's row is damaged and a few deleted, inside and outside one day; a Dagster
    run of that day's partition gives back exactly that day's rows."""
    from orchestration.dbt.assets import cdp_dbt_event_assets, dbt_resource
    from orchestration.loads.resources import WarehouseResource

    con = duckdb.connect(str(built_copy))
    day = con.execute(f"select cast(occurred_at as date) as d from {CALLS} group by 1 "
                      "order by count(*) desc, 1 limit 1").fetchone()[0]
    in_day = f"occurred_at >= cast('{day}' as timestamp) and occurred_at < cast('{day}' as timestamp) + interval 1 day"
    original = {r[0]: r for r in con.execute(f"select * from {CALLS} order by call_id").fetchall()}
    day_ids = {r[0] for r in con.execute(f"select call_id from {CALLS} where {in_day}").fetchall()}
    assert len(day_ids) > 20
    deleted_outside = {r[0] for r in con.execute(
        f"select call_id from {CALLS} where not ({in_day}) order by call_id limit 15").fetchall()}
    con.execute(f"update {CALLS} set event_name = 'damaged', page_path = null")
    con.execute(f"delete from {CALLS} where call_id in (select call_id from {CALLS} where {in_day} "
                "order by call_id limit 15) or call_id in ?", [list(deleted_outside)])
    con.close()

    result = dg.materialize([cdp_dbt_event_assets], partition_key=day.isoformat(),
                            instance=dg.DagsterInstance.ephemeral(),
                            resources={"dbt": dbt_resource, "warehouse": WarehouseResource(duckdb_path=str(built_copy))})
    assert result.success
    [event] = result.get_asset_materialization_events()
    assert event.partition == day.isoformat()
    # The run's parse is kept as the project's, for the next run to start from (keep_partial_parse).
    runs = sorted(settings.dbt_target_path().glob("cdp_dbt_event_assets-*/partial_parse.msgpack"),
                  key=lambda p: p.stat().st_mtime)
    assert runs and (settings.dbt_target_path() / "partial_parse.msgpack").read_bytes() == runs[-1].read_bytes()

    con = duckdb.connect(str(built_copy), read_only=True)
    after = {r[0]: r for r in con.execute(f"select * from {CALLS} order by call_id").fetchall()}
    con.close()
    assert {k: after[k] for k in day_ids} == {k: original[k] for k in day_ids}  # the day: as it was
    outside = set(original) - day_ids
    assert set(after) == day_ids | (outside - deleted_outside)  # no other row came back
    assert all(after[k][2] == "damaged" for k in outside - deleted_outside)  # nor was rebuilt


def test_the_current_day_is_the_ordinary_incremental_build():
    """Materializing today's partition passes no window: it is the incremental build, which
    takes every load since the last one, late events of earlier days included."""
    from orchestration.dbt.assets import event_partitions, partition_vars

    seen = {}

    @dg.asset(partitions_def=event_partitions)
    def probe(context: dg.AssetExecutionContext) -> None:
        seen[context.partition_key] = partition_vars(context)

    today = event_partitions.get_last_partition_key()
    yesterday = event_partitions.get_partition_keys()[-2]
    for key in (today, yesterday):
        assert dg.materialize([probe], partition_key=key, instance=dg.DagsterInstance.ephemeral()).success
    assert seen[today] is None
    assert seen[yesterday] == {"cdp_partition_start": f"{yesterday} 00:00:00",
                               "cdp_partition_end": f"{today} 00:00:00"}


def test_the_instance_settings_are_valid_and_keep_one_writer():
    from dagster._core.instance.config import dagster_instance_config

    from orchestration import settings

    config, _ = dagster_instance_config(str(settings.PROJECT_DIR / "orchestration" / "dagster_home"))
    assert config["concurrency"]["runs"]["max_concurrent_runs"] == 1
    assert config["concurrency"]["pools"]["default_limit"] == 1
