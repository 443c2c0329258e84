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
