"""dbt models as Dagster assets (dagster-dbt), dbt tests as their asset checks.

dagster-dbt keys a dbt source table ``shopify.customer`` as ``shopify/customer``: the key
of the load asset that lands it, so the graph runs from each connector's sync through
the staging models it feeds.
"""


import sys
from pathlib import Path
from collections.abc import Mapping
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings, DbtCliResource, DbtProject, dbt_assets

from orchestration import settings
from orchestration.loads.resources import WarehouseResource

from .project import dbt_env, ensure_manifest, environment


class CdpTranslator(DagsterDbtTranslator):
    """Groups follow the dbt layers (``staging``, ``intermediate``, ``marts``)."""

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        fqn = dbt_resource_props.get("fqn", [])
        if dbt_resource_props.get("resource_type") == "model" and len(fqn) > 2:
            return fqn[1]
        return super().get_group_name(dbt_resource_props)


dbt_project = DbtProject(project_dir=settings.PROJECT_DIR, profiles_dir=settings.profiles_dir(),
                         target=settings.dbt_target())
ensure_manifest()


@dbt_assets(manifest=dbt_project.manifest_path, project=dbt_project,
            dagster_dbt_translator=CdpTranslator(settings=DagsterDbtTranslatorSettings(enable_asset_checks=True)),
            pool="duckdb_warehouse")
def cdp_dbt_assets(context: dg.AssetExecutionContext, dbt: DbtCliResource, warehouse: WarehouseResource):
    target = warehouse.target_with(dbt.target)
    env = dbt_env(target, warehouse.path)  # dbt builds on (and takes the clock of) the file the loads wrote
    # A run builds dbt in steps around Python assets (profile_predictions), so a step selects
    # part of the graph. dbt's default (eager) would also run a relationships test whose other
    # model is in a later step and not built yet; buildable runs a test once all it reads is
    # selected or upstream of the selection.
    env.setdefault("DBT_INDIRECT_SELECTION", "buildable")
    # dagster-dbt copies the environment when it starts dbt, inside cli(); nothing leaks out.
    with environment(env):
        invocation = dbt.cli(["build"], context=context)
    yield from invocation.stream()


# The dbt next to this interpreter: works whether or not the virtual environment is activated.
dbt_resource = DbtCliResource(project_dir=dbt_project, profiles_dir=str(settings.profiles_dir()),
                              target=settings.dbt_target(), dbt_executable=str(Path(sys.executable).parent / "dbt"))
