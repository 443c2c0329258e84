"""The Dagster code location: it loads, its asset graph runs from each connector's sync
through the staging model each raw table feeds, and a whole run materializes."""

from __future__ import annotations

import dagster as dg
import duckdb
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
    assert defs.resolve_schedule_def("sync_vip_winback_to_parquet_schedule").cron_schedule == "15 * * * *"
    # dbt tests become asset checks.
    assert len(list(graph.asset_check_keys)) >= 2 * sum(len(t) for t in raw_tables().values())


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


def test_a_whole_run_materializes(tmp_path, monkeypatch):
    """Clock, every connector's historical sync, and dbt build, in one in-process run."""
    from orchestration.definitions import defs as definitions
    from orchestration.loads.resources import WarehouseResource

    path = tmp_path / "dagster.duckdb"
    monkeypatch.setenv("CDP_DUCKDB_PATH", str(path))
    monkeypatch.setenv("CDP_EXPORTS_DIR", str(tmp_path / "exports"))
    job = definitions.resolve_job_def("hourly_pipeline")
    result = job.execute_in_process(
        run_config={"ops": {"simulation__clock": {"config": {"profiles": 300, "seed": 3, "hours": 0}}}},
        resources={"warehouse": WarehouseResource(duckdb_path=str(path))},
    )
    assert result.success
    materialized = {e.asset_key for e in result.get_asset_materialization_events()}
    assert dg.AssetKey(["shopify", "order"]) in materialized
    assert any(k.path[-1] == "stg_shopify__orders" for k in materialized)
    assert dg.AssetKey(["profile_predictions"]) in materialized  # after the traits
    # Each sync after the mart it reads; the file sync wrote its file.
    assert dg.AssetKey(["syncs", "vip_winback_to_parquet"]) in materialized
    assert (tmp_path / "exports" / "exports" / "email_vip_winback.parquet").exists()
    con = duckdb.connect(str(path), read_only=True)
    assert con.execute("select count(*) from staging.stg_shopify__orders").fetchone()[0] > 0
    assert con.execute("select count(distinct connector) from _cdp_meta.connector_syncs").fetchone()[0] == 6
    # The scores' staging view is built after the asset wrote them, in the same run.
    assert any(k.path[-1] == "stg_predictions__profile_scores" for k in materialized)
    assert (con.execute("select count(*) from staging.stg_predictions__profile_scores").fetchone()[0]
            == con.execute("select count(*) from marts.profiles").fetchone()[0] > 0)
    con.close()
