"""Load assets from a real Fivetran account (dagster-fivetran), when one is configured.

With ``CDP_FIVETRAN_API_KEY`` and ``CDP_FIVETRAN_API_SECRET`` set (and the account and the
group or connectors to take, below), the raw tables come from Fivetran's connectors instead
of the simulator: one asset per connector that triggers its sync and waits for it
(``FivetranWorkspace.sync_and_poll``), whose assets are the tables it lands, keyed as the
dbt sources that read them (``shopify/customer``, ...), so each staging model hangs off the
connector that feeds it, as with the simulator. Tables no connector lands (Segment's, which
Segment's own warehouse loader writes) stay in the graph as external assets.

Settings (environment):
- ``CDP_FIVETRAN_API_KEY``, ``CDP_FIVETRAN_API_SECRET``: an API key of the account.
- ``CDP_FIVETRAN_ACCOUNT_ID``: the account (names the cached workspace data).
- ``CDP_FIVETRAN_GROUP_ID`` and/or ``CDP_FIVETRAN_CONNECTORS``: which connectors (the
  destination group; connector ids or schema names, comma-separated). At least one.
- ``CDP_FIVETRAN_SNAPSHOT_PATH`` (optional): load the workspace from a snapshot file
  (``dagster-fivetran snapshot``) instead of asking the API each time the code loads.

(No `from __future__ import annotations`: Dagster reads the context annotation at definition.)
"""

import json
import os
import re
from collections import defaultdict
from dataclasses import dataclass

import dagster as dg
from dagster_fivetran import (
    DagsterFivetranTranslator,
    FivetranConnectorTableProps,
    FivetranMetadataSet,
    FivetranWorkspace,
)

from orchestration.dbt.project import ensure_manifest
from orchestration.lib.raw_tables import raw_tables

ENV = {
    "api_key": "CDP_FIVETRAN_API_KEY",
    "api_secret": "CDP_FIVETRAN_API_SECRET",
    "account_id": "CDP_FIVETRAN_ACCOUNT_ID",
    "group_id": "CDP_FIVETRAN_GROUP_ID",
    "connectors": "CDP_FIVETRAN_CONNECTORS",
    "snapshot_path": "CDP_FIVETRAN_SNAPSHOT_PATH",
}
# A Fivetran sync only waits on Fivetran: its own pool, so that it never holds the warehouse's.
FIVETRAN_POOL = "fivetran_api"


class FivetranConfigError(ValueError):
    """The Fivetran settings are incomplete; the message names the variable to set."""


@dataclass(frozen=True)
class FivetranSettings:
    account_id: str
    group_id: str | None
    connectors: frozenset[str]
    snapshot_path: str | None

    def selects(self, connector) -> bool:
        if self.group_id and connector.group_id != self.group_id:
            return False
        return not self.connectors or connector.id in self.connectors or connector.name in self.connectors


def fivetran_settings() -> FivetranSettings | None:
    """The Fivetran settings, or None when no API key is set (the simulator loads)."""
    env = {k: os.environ.get(v, "").strip() for k, v in ENV.items()}
    if not (env["api_key"] or env["api_secret"]):
        return None
    missing = [ENV[k] for k in ("api_key", "api_secret", "account_id") if not env[k]]
    if not (env["group_id"] or env["connectors"]):
        missing.append(f"{ENV['group_id']} or {ENV['connectors']}")
    if missing:
        raise FivetranConfigError(f"Fivetran loads need {', '.join(missing)} set (or unset {ENV['api_key']} and "
                                  f"{ENV['api_secret']} to load from the simulator); see docs/dagster.md 'Fivetran'")
    if env["snapshot_path"] and not os.path.isfile(env["snapshot_path"]):
        raise FivetranConfigError(f"{ENV['snapshot_path']} names {env['snapshot_path']!r}, which is not a file; "
                                  f"write one with `dagster-fivetran snapshot` or unset it to ask the API")
    return FivetranSettings(
        account_id=env["account_id"], group_id=env["group_id"] or None,
        connectors=frozenset(c.strip() for c in env["connectors"].split(",") if c.strip()),
        snapshot_path=env["snapshot_path"] or None)


def _unquote(name: str) -> str:
    return name.strip().strip('"').strip("`").lower()


def dbt_source_keys() -> dict[tuple[str, str], dg.AssetKey]:
    """``(schema, table)`` as the warehouse names them -> the asset key dagster-dbt gives that
    dbt source table (``source/table``), for the raw tables (the project's own write-backs
    excluded). Schemas and identifiers are read from the parsed project, so a deployment
    that moves a source with ``--vars``/dbt_project.yml (``shopify_schema: fivetran_shopify``)
    is matched where its tables really are."""
    manifest = json.loads(ensure_manifest().read_text())
    wanted = {(source, table) for source, tables in raw_tables().items() for table in tables}
    return {(_unquote(node["schema"]), _unquote(node["identifier"])): dg.AssetKey([node["source_name"], node["name"]])
            for node in manifest["sources"].values() if (node["source_name"], node["name"]) in wanted}


class CdpFivetranTranslator(DagsterFivetranTranslator):
    """A table Fivetran lands is keyed as the dbt source that reads it, grouped like the
    simulator's loads (``raw_<source>``); a table no source reads keeps Fivetran's key."""

    def __init__(self, source_keys: dict[tuple[str, str], dg.AssetKey]):
        self.source_keys = source_keys

    def get_asset_spec(self, props: FivetranConnectorTableProps) -> dg.AssetSpec:
        spec = super().get_asset_spec(props)
        schema, table = props.table.split(".", 1)
        key = self.source_keys.get((_unquote(schema), _unquote(table)))
        if key is None:
            return spec
        return spec.replace_attributes(key=key, group_name=f"raw_{key.path[0]}")


def fivetran_workspace(cfg: FivetranSettings) -> FivetranWorkspace:
    return FivetranWorkspace(account_id=cfg.account_id, api_key=dg.EnvVar(ENV["api_key"]),
                             api_secret=dg.EnvVar(ENV["api_secret"]), snapshot_path=cfg.snapshot_path)


def fivetran_load_assets(cfg: FivetranSettings, retry_policy: dg.RetryPolicy) -> tuple[list, FivetranWorkspace]:
    """One multi-asset per selected connector (what ``build_fivetran_assets_definitions``
    makes, plus the loads' retry policy and pool), and the external raw tables no connector
    lands. Returns them with the workspace resource they need (key ``fivetran``)."""
    workspace = fivetran_workspace(cfg)
    translator = CdpFivetranTranslator(dbt_source_keys())
    specs = workspace.load_asset_specs(dagster_fivetran_translator=translator, connector_selector_fn=cfg.selects)
    if not specs:
        raise FivetranConfigError(f"no Fivetran connector matches {ENV['group_id']}={cfg.group_id!r} "
                                  f"{ENV['connectors']}={','.join(sorted(cfg.connectors))!r}, or none has synced yet")
    by_connector: dict[tuple[str, str], list[dg.AssetSpec]] = defaultdict(list)
    for spec in specs:
        meta = FivetranMetadataSet.extract(spec.metadata)
        by_connector[(meta.connector_id, meta.connector_name)].append(spec)

    assets: list = [_connector_asset(cid, name, connector_specs, retry_policy)
                    for (cid, name), connector_specs in sorted(by_connector.items(), key=lambda item: item[0][1])]
    landed = {spec.key for spec in specs}
    for source, tables in raw_tables().items():
        for table in tables:
            key = dg.AssetKey([source, table])
            if key not in landed:
                assets.append(dg.AssetSpec(
                    key=key, group_name=f"raw_{source}", kinds={source if source == "segment" else "fivetran"},
                    description=f"Raw `{source}.{table}`, landed outside Dagster (no selected Fivetran connector "
                                f"lands it: Segment's warehouse loader, or a connector in another group)."))
    return assets, workspace


def _connector_asset(connector_id: str, connector_name: str, specs: list[dg.AssetSpec],
                     retry_policy: dg.RetryPolicy) -> dg.AssetsDefinition:
    @dg.multi_asset(name="fivetran_" + re.sub(r"\W", "_", connector_name), specs=specs, can_subset=True, pool=FIVETRAN_POOL,
                    retry_policy=retry_policy,
                    description=f"Sync the Fivetran connector {connector_name} ({connector_id}) and wait for it.")
    def _sync(context: dg.AssetExecutionContext, fivetran: FivetranWorkspace):
        yield from fivetran.sync_and_poll(context=context)

    return _sync
