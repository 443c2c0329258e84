"""The Dagster UI's server: `dagster-webserver` on loopback serves the asset graph over GraphQL
(loads -> dbt -> predictions -> syncs), and a run of `hourly_pipeline` launched through it on a
small simulation runs in a run-worker process (the instance's run launcher, as in production,
not execute_in_process) until SUCCESS and leaves the marts in the warehouse."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from pathlib import Path

import duckdb
import pytest

from orchestration import settings
from orchestration.lib.raw_tables import raw_tables

from .dagster_webserver import DagsterWebserver

PROFILES = 300
RUN_TIMEOUT = 900  # seconds; the run takes a few minutes on a loaded 2-core machine

ASSET_GRAPH_QUERY = """
query {
  assetNodes {
    assetKey { path }
    dependencyKeys { path }
    groupName
    jobNames
    isMaterializable
  }
}
"""

LAUNCH_MUTATION = """
mutation Launch($params: ExecutionParams!) {
  launchRun(executionParams: $params) {
    __typename
    ... on LaunchRunSuccess { run { runId status } }
    ... on PythonError { message stack }
    ... on RunConfigValidationInvalid { errors { message } }
    ... on InvalidSubsetError { message }
    ... on PipelineNotFoundError { message }
    ... on RunConflict { message }
    ... on UnauthorizedError { message }
    ... on PresetNotFoundError { message }
    ... on ConflictingExecutionParamsError { message }
    ... on NoModeProvidedError { message }
    ... on InvalidStepError { invalidStepKey }
    ... on InvalidOutputError { invalidOutputName }
  }
}
"""

RUN_QUERY = """
query Run($runId: ID!) {
  runOrError(runId: $runId) {
    __typename
    ... on Run {
      status
      assetMaterializations {
        assetKey { path }
        metadataEntries {
          label
          ... on TextMetadataEntry { text }
          ... on IntMetadataEntry { intValue }
        }
      }
      stepStats { stepKey status }
    }
    ... on PythonError { message }
    ... on RunNotFoundError { message }
  }
}
"""

RUN_ERRORS_QUERY = """
query RunErrors($runId: ID!) {
  logsForRun(runId: $runId, limit: 5000) {
    __typename
    ... on EventConnection {
      events {
        __typename
        ... on MessageEvent { message level stepKey }
        ... on ExecutionStepFailureEvent { error { message cause { message } } }
      }
    }
    ... on PythonError { message }
  }
}
"""

FINISHED = {"SUCCESS", "FAILURE", "CANCELED"}


@pytest.fixture(scope="module")
def webserver():
    """The webserver with a fresh instance, pointed at an empty warehouse file and exports folder.

    All of it in memory (/dev/shm) where there is one: the instance's SQLite storage commits
    every event, about 700 when the run is created and thousands while it runs, and on this
    machine's disk a commit costs ~25 ms (0.3 ms on tmpfs), which made launchRun alone take
    80 s."""
    shm = Path("/dev/shm")
    root = Path(tempfile.mkdtemp(prefix="cdp-dagster-", dir=shm if shm.is_dir() and os.access(shm, os.W_OK) else None))
    env = {"CDP_DUCKDB_PATH": str(root / "warehouse.duckdb"), "CDP_EXPORTS_DIR": str(root / "exports")}
    try:
        with DagsterWebserver(root / "dagster_home", env=env) as server:
            server.root = root
            yield server
    finally:
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def asset_nodes(webserver) -> dict[tuple[str, ...], dict]:
    nodes = webserver.graphql(ASSET_GRAPH_QUERY)["assetNodes"]
    return {tuple(n["assetKey"]["path"]): {**n, "deps": {tuple(d["path"]) for d in n["dependencyKeys"]}}
            for n in nodes}


def _key_ending(nodes, name: str) -> tuple[str, ...]:
    found = [k for k in nodes if k[-1] == name]
    assert len(found) == 1, f"one asset named {name} expected, found {found}"
    return found[0]


def test_the_asset_graph_runs_from_the_loads_through_dbt_to_the_syncs(asset_nodes):
    nodes = asset_nodes
    clock = ("simulation", "clock")
    assert nodes[clock]["deps"] == set()
    # Each raw table is a load asset after the clock, and its staging model reads it.
    for source, tables in raw_tables().items():
        for table in tables:
            raw = nodes[(source, table)]
            assert raw["isMaterializable"] and clock in raw["deps"], (source, table)
            assert any((source, table) in n["deps"] and k[-1].startswith(f"stg_{source}__")
                       for k, n in nodes.items()), f"no staging model reads {source}.{table}"
    orders = _key_ending(nodes, "stg_shopify__orders")
    assert ("shopify", "order") in nodes[orders]["deps"]
    # Predictions after the traits mart, read back by dbt through a staging model.
    assert _key_ending(nodes, "profile_traits") in nodes[("profile_predictions",)]["deps"]
    assert ("profile_predictions",) in nodes[_key_ending(nodes, "stg_predictions__profile_scores")]["deps"]
    # A sync after the mart it reads, and that mart built from upstream dbt models.
    sync = nodes[("syncs", "vip_winback_to_parquet")]
    assert ("marts", "audience_members") in sync["deps"]
    assert nodes[("marts", "audience_members")]["deps"]
    assert nodes[_key_ending(nodes, "profiles")]["groupName"] == "marts"
    # Every asset the pipeline can build is in the whole-pipeline job (the rest are dbt sources
    # other processes write: privacy requests, the sync run log).
    outside = sorted(k for k, n in nodes.items() if n["isMaterializable"] and "hourly_pipeline" not in n["jobNames"])
    assert not outside, outside


def _run_errors(server, run_id: str) -> str:
    """The failed steps' errors (with their cause: the exception the asset raised), else the
    run's error-level messages."""
    data = server.graphql(RUN_ERRORS_QUERY, {"runId": run_id})["logsForRun"]
    if data["__typename"] != "EventConnection":
        return f"(event log unavailable: {data.get('message')})"
    failures, errors = [], []
    for event in data["events"]:
        if event["__typename"] == "ExecutionStepFailureEvent":
            error = event["error"] or {}
            cause = (error.get("cause") or {}).get("message", "")
            failures.append(f"[{event['stepKey']}] {error.get('message', '').strip()}\n{cause.strip()}".strip())
        elif event.get("level") in ("ERROR", "CRITICAL"):
            errors.append(f"[{event.get('stepKey') or 'run'}] {event.get('message', '')}")
    return "\n".join(failures[:5] or errors[-10:]) or "(no error events)"


def test_a_run_launched_over_graphql_materializes_the_whole_pipeline(webserver):
    params = {
        "selector": {"repositoryLocationName": webserver.location, "repositoryName": webserver.repository,
                     "jobName": "hourly_pipeline"},
        "runConfigData": {"ops": {"simulation__clock": {"config": {"profiles": PROFILES, "seed": 3, "hours": 0}}}},
    }
    # Creating the run writes a planned event per asset and per check: allow for a slow disk.
    launched = webserver.graphql(LAUNCH_MUTATION, {"params": params}, timeout=300)["launchRun"]
    assert launched["__typename"] == "LaunchRunSuccess", launched
    run_id = launched["run"]["runId"]

    deadline = time.monotonic() + RUN_TIMEOUT
    while True:
        run = webserver.graphql(RUN_QUERY, {"runId": run_id})["runOrError"]
        assert run["__typename"] == "Run", run
        if run["status"] in FINISHED or time.monotonic() > deadline:
            break
        time.sleep(2)
    assert run["status"] == "SUCCESS", (
        f"run {run_id} ended {run['status']}:\n{_run_errors(webserver, run_id)}\n"
        f"webserver log:\n{webserver.log_tail()}")

    materialized = {tuple(m["assetKey"]["path"]): {e["label"]: e.get("text", e.get("intValue"))
                                                    for e in m["metadataEntries"]}
                    for m in run["assetMaterializations"]}
    assert ("simulation", "clock") in materialized
    assert materialized[("shopify", "order")]["rows_landed"] > 0
    assert _key_ending(materialized, "stg_shopify__orders")
    assert ("profile_predictions",) in materialized  # after the traits
    assert _key_ending(materialized, "stg_predictions__profile_scores")  # read back after the scoring
    # Its dbt steps built models and ran data tests, not unit tests (CI's; orchestration/dbt/assets.py),
    # as dbt's own log in each step's folder says; and they wrote no JSON artifacts (--no-write-json).
    steps = list(settings.dbt_target_path().glob(f"cdp_dbt_*-{run_id[:7]}-*"))
    assert steps
    kinds = {json.loads(line)["data"]["node_info"]["unique_id"].split(".")[0]
             for step in steps for log in step.glob("dbt.log*") for line in log.read_text().splitlines()
             if '"node_info"' in line}
    assert {"model", "test"} <= kinds and "unit_test" not in kinds, kinds
    assert not [p for step in steps for p in step.glob("*.json") if p.name != "graph_summary.json"]
    # The file sync ran after its audience and wrote what it planned.
    sync = materialized[("syncs", "vip_winback_to_parquet")]
    assert sync["status"] == "succeeded" and sync["source_rows"] > 0, sync
    exported = webserver.root / "exports" / "exports" / "email_vip_winback.parquet"
    # The run worker wrote the warehouse the webserver was pointed at.
    con = duckdb.connect(str(webserver.root / "warehouse.duckdb"), read_only=True)
    try:
        assert con.execute(f"select count(*) from read_parquet('{exported}')").fetchone()[0] == sync["source_rows"]
        marts = {r[0] for r in con.execute(
            "select table_name from information_schema.tables where table_schema = 'marts'").fetchall()}
        assert {"profiles", "profile_traits", "audience_members"} <= marts, marts
        profiles = con.execute("select count(*) from marts.profiles").fetchone()[0]
        assert 0 < profiles <= PROFILES * 2, profiles
        assert con.execute("select count(*) from staging.stg_shopify__orders").fetchone()[0] > 0
        assert con.execute("select count(*) from staging.stg_predictions__profile_scores").fetchone()[0] == profiles
        assert con.execute("select count(distinct connector) from _cdp_meta.connector_syncs").fetchone()[0] == 6
    finally:
        con.close()
