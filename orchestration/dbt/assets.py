"""dbt models as Dagster assets (dagster-dbt), dbt tests as their asset checks.

dagster-dbt keys a dbt source table ``shopify.customer`` as ``shopify/customer``: the key
of the load asset that lands it, so the graph runs from each connector's sync through
the staging models it feeds.

Two asset definitions share the project: the event model (``EVENT_MODELS``) is
partitioned by day, so that a day or a range of days of events can be backfilled; every
other node is one unpartitioned definition. Both materialize eagerly: as soon as what they
read has changed (declarative automation; docs/dagster.md).
"""


import datetime as dt
import importlib.metadata
import json
import os
import shutil
import sys
from collections.abc import Mapping
from functools import cached_property
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_dbt import (
    DagsterDbtTranslator,
    DagsterDbtTranslatorSettings,
    DbtCliResource,
    DbtProject,
    dbt_assets,
)
from packaging import version

from orchestration import settings
from orchestration.loads.resources import WarehouseResource
from orchestration.quality.expectations import SCOPE_TAG
from orchestration.schedules import DAILY_MODELS, DAILY_TAG

from .project import dbt_env, ensure_manifest, environment


class CdpTranslator(DagsterDbtTranslator):
    """Groups follow the dbt layers (``staging``, ``intermediate``, ``marts``); seeds and
    snapshots have a group each."""

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        fqn = dbt_resource_props.get("fqn", [])
        resource_type = dbt_resource_props.get("resource_type")
        if resource_type == "model" and len(fqn) > 2:
            return fqn[1]
        if resource_type in ("seed", "snapshot"):
            return f"{resource_type}s"
        return super().get_group_name(dbt_resource_props)

    def get_automation_condition(self, dbt_resource_props: Mapping[str, Any]) -> dg.AutomationCondition | None:
        # Daily models (dbt tag "daily": BI analytics, data quality) build once a day, after
        # DAILY_MODELS (cron), once what they read has been updated since. Every other model
        # builds as soon as anything it reads has changed (the loads, an upstream model, the
        # scores); a time-partitioned model builds its latest day.
        if DAILY_TAG in dbt_resource_props.get("tags", []):
            return dg.AutomationCondition.on_cron(DAILY_MODELS, "UTC")
        return dg.AutomationCondition.eager()


dbt_project = DbtProject(project_dir=settings.PROJECT_DIR, profiles_dir=settings.profiles_dir(),
                         target=settings.dbt_target(), target_path=settings.dbt_target_path())
ensure_manifest()


# The incremental event model that honours a partition window (vars cdp_partition_start and
# cdp_partition_end; macro cdp.partition_window). A model joins this list only once its SQL
# honours the window: the vars change nothing in a model that ignores them.
EVENT_MODELS = ("int_segment_calls_deduplicated",)
PARTITION_START_ENV = "CDP_EVENTS_PARTITION_START"
TRANSLATOR = CdpTranslator(settings=DagsterDbtTranslatorSettings(enable_asset_checks=True))


def _partition_start() -> str:
    value = os.environ.get(PARTITION_START_ENV, "2024-01-01").strip()
    try:
        dt.date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{PARTITION_START_ENV} must be a date like 2024-01-01 (the first day of events to "
                         f"partition), got {value!r}") from None
    return value


# By event day (UTC); the current day is a partition while it runs (end_offset=1).
event_partitions = dg.DailyPartitionsDefinition(start_date=_partition_start(), end_offset=1, timezone="UTC")


def partition_vars(context: dg.AssetExecutionContext) -> dict[str, str] | None:
    """The dbt vars of a partition run: the window of the day, or the days of a backfill run as
    one (single-run backfill policy). None for a run without partitions (the one-shot job) and
    for the current day alone: that is the ordinary incremental build, which takes every load
    since the last one, late events of earlier days included."""
    if not (context.has_partition_key or context.has_partition_key_range):
        return None
    keys = context.partition_key_range
    if keys.start == keys.end == event_partitions.get_last_partition_key():
        return None
    window = context.partition_time_window
    fmt = "%Y-%m-%d %H:%M:%S"
    return {"cdp_partition_start": window.start.strftime(fmt), "cdp_partition_end": window.end.strftime(fmt)}


# Scheduled runs build models and run their data tests, not the unit tests: a unit test checks
# SQL against fixed rows, so its result changes only with the code, which CI (make test) and
# `cdp build` check. dbt's own advice ("Unit tests", docs.getdbt.com): run them in development
# and CI, not in production. 15 of them ran in every hourly run before.
#
# Nor do they write dbt's JSON artifacts (manifest.json, run_results.json, graph.gpickle) into
# their step folders: about 2 s of every dbt step (measured on a one-model build here: 7.0 s
# with them, 5.0 s without), five steps an hour. What they would hold, Dagster's event log
# has (each model's materialization, each test's check result and message), and the step
# folder keeps dbt.log; dbt still writes partial_parse.msgpack, which keep_partial_parse reads.
RUN_ARGS = ("--exclude-resource-type", "unit_test", "--no-write-json")
TEST_SCOPE_ENV = "CDP_DBT_TEST_SCOPE"


def dbt_test_scope(run_tags: Mapping[str, str]) -> str:
    """CDP_DBT_TEST_SCOPE of a run's dbt steps: data tests on the big tables check their new
    rows (macros/quality/new_rows.sql), except in runs tagged for full checks (the daily
    quality checks, the one-shot pipeline)."""
    return "all" if run_tags.get(SCOPE_TAG) == "full" else "new"


def _build(context: dg.AssetExecutionContext, dbt: DbtCliResource, warehouse: WarehouseResource,
           dbt_vars: dict[str, str] | None = None):
    target = warehouse.target_with(dbt.target)
    env = dbt_env(target, warehouse.path)  # dbt builds on (and takes the clock of) the file the loads wrote
    # A run builds dbt in steps around Python assets (profile_predictions), so a step selects
    # part of the graph. dbt's default (eager) would also run a relationships test whose other
    # model is in a later step and not built yet; buildable runs a test once all it reads is
    # selected or upstream of the selection.
    env.setdefault("DBT_INDIRECT_SELECTION", "buildable")
    env[TEST_SCOPE_ENV] = dbt_test_scope(context.run.tags)
    args = ["build", *RUN_ARGS] + (["--vars", json.dumps(dbt_vars)] if dbt_vars else [])
    if dbt_vars:
        context.log.info(f"partition run: dbt vars {dbt_vars}")
    # dagster-dbt copies the environment when it starts dbt, inside cli(); nothing leaks out.
    with environment(env):
        invocation = dbt.cli(args, context=context)
    yield from invocation.stream()
    keep_partial_parse(Path(invocation.target_path))


def keep_partial_parse(run_target: Path) -> None:
    """dagster-dbt starts each dbt run in a target folder of its own, from a copy of the project's
    `partial_parse.msgpack`. Copy the run's parse back, so that the next run starts from the
    environment of the last (warehouse path, clock, target) and dbt re-parses only what changed,
    not the whole project whenever the file that made the manifest differs (another warehouse)."""
    if not run_target.is_absolute():
        run_target = settings.PROJECT_DIR / run_target
    parsed = run_target / "partial_parse.msgpack"
    if not parsed.exists():
        return
    kept = settings.dbt_target_path() / "partial_parse.msgpack"
    scratch = kept.with_name(f".partial_parse.{os.getpid()}.tmp")
    shutil.copyfile(parsed, scratch)
    os.replace(scratch, kept)  # atomic: a run starting now copies the old or the new parse whole


@dbt_assets(manifest=dbt_project.manifest_path, project=dbt_project, exclude=" ".join(EVENT_MODELS),
            dagster_dbt_translator=TRANSLATOR, pool="duckdb_warehouse")
def cdp_dbt_assets(context: dg.AssetExecutionContext, dbt: DbtCliResource, warehouse: WarehouseResource):
    yield from _build(context, dbt, warehouse)


@dbt_assets(manifest=dbt_project.manifest_path, project=dbt_project, select=" ".join(EVENT_MODELS),
            name="cdp_dbt_event_assets", partitions_def=event_partitions,
            # A backfill of many days is one dbt run over their whole window, not one per day.
            backfill_policy=dg.BackfillPolicy.single_run(),
            dagster_dbt_translator=TRANSLATOR, pool="duckdb_warehouse")
def cdp_dbt_event_assets(context: dg.AssetExecutionContext, dbt: DbtCliResource, warehouse: WarehouseResource):
    yield from _build(context, dbt, warehouse, partition_vars(context))


class CdpDbtCliResource(DbtCliResource):
    """dagster-dbt's resource, without two costs it pays before dbt starts.

    - DbtCliResource.cli() loads the profile and project and parses every macro of the project
      in Dagster's own process (`_initialize_dbt_core_adapter`), only so that an invocation can
      later `.fetch_column_metadata()` or `.fetch_row_counts()` through it. This project asks
      for neither; the set-up cost about 1.7 s per dbt step (an hourly run has five). Without
      it dagster-dbt runs dbt and streams its events as before (it passes adapter=None on, as
      it does when the set-up fails).
    - It learns dbt's version by running `dbt --version` (about 3.4 s), once per process: with
      the webserver's executor that is once per dbt step. The dbt it runs is the one installed
      beside this interpreter, so the dbt-core package's version is the same answer.

    test_definitions.py checks both: the adapter handed on is None (were dagster-dbt to set it
    up under another name, it would be a real one), and the version is what `dbt --version`
    says."""

    def _initialize_dbt_core_adapter(self, args):  # noqa: ARG002 (dagster-dbt's signature)
        return None

    @cached_property
    def _cli_version(self) -> version.Version:
        if Path(self.dbt_executable).parent == Path(sys.executable).parent:
            try:
                return version.parse(importlib.metadata.version("dbt-core"))
            except importlib.metadata.PackageNotFoundError:  # dbt Fusion: no dbt-core package
                pass
        return DbtCliResource._cli_version.func(self)


# The dbt next to this interpreter: works whether or not the virtual environment is activated.
dbt_resource = CdpDbtCliResource(project_dir=dbt_project, profiles_dir=str(settings.profiles_dir()),
                                 target=settings.dbt_target(),
                                 dbt_executable=str(Path(sys.executable).parent / "dbt"))
