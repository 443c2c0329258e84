"""Load assets: the simulated sources' clock, and one asset per connector whose keys are
the raw tables it lands (``shopify/customer`` ...), the same keys dagster-dbt gives the
dbt sources, so each staging model hangs off the load that feeds it. With a Fivetran
account configured, the connectors are Fivetran's instead (fivetran.py; ``load_assets``)."""


import datetime as dt

import dagster as dg
from pydantic import Field

from orchestration.lib.raw_tables import raw_tables
from orchestration.loads import sync as syncs
from orchestration.simulator.generate import CONNECTORS

from .resources import WarehouseResource

CLOCK_KEY = dg.AssetKey(["simulation", "clock"])
# One writer at a time on the DuckDB file.
WAREHOUSE_POOL = "duckdb_warehouse"
LOAD_RETRY = dg.RetryPolicy(max_retries=2, delay=30, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS)
KINDS = {"segment": {"segment", "duckdb"}}


class ClockConfig(dg.Config):
    """How far the simulated sources move forward in one run."""

    hours: float = Field(default=0.0, description="Advance by this many hours; 0 means up to the current UTC time.")
    profiles: int = Field(default=10_000, description="People in a new simulation (used only when starting one).")
    seed: int = Field(default=42, description="Seed of a new simulation (used only when starting one).")


@dg.asset(key=CLOCK_KEY, group_name="sources", pool=WAREHOUSE_POOL, kinds={"python"},
          description="Clock of the simulated source systems (Shopify, Stripe, Klaviyo, Zendesk, Salesforce, "
                      "Segment). Starts a simulation if the warehouse has none; otherwise moves the clock forward "
                      "by `hours`, or up to the current UTC time when `hours` is 0.")
def simulation_clock(context: dg.AssetExecutionContext, config: ClockConfig,
                     warehouse: WarehouseResource) -> dg.MaterializeResult:
    from orchestration.loads.warehouse import open_warehouse

    with open_warehouse(warehouse.path) as wh:
        sim = wh.simulation()
    if sim is None:
        syncs.start_simulation(warehouse.path, config.seed, config.profiles, None, report=context.log.info,
                               run_syncs=False)
        with open_warehouse(warehouse.path) as wh:
            sim = wh.simulation()
        return dg.MaterializeResult(metadata={"clock": sim.clock.isoformat(), "started": True})
    if config.hours > 0:
        clock = syncs.advance_clock(warehouse.path, config.hours)
    else:
        now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
        clock = syncs.advance_clock(warehouse.path, (now - sim.clock).total_seconds() / 3600) if now > sim.clock else sim.clock
    return dg.MaterializeResult(metadata={"clock": clock.isoformat(), "started": False})


def _simulated_connectors_asset() -> dg.AssetsDefinition:
    """One step for every simulated connector: a sync walks the simulated people chunk by
    chunk and builds each chunk's history once for all the connectors it syncs (sync.py),
    where six steps would build it six times. The assets are still one per raw table, in a
    group per connector; selecting some of them syncs only their connectors (a connector
    always lands all its tables)."""
    specs = [
        dg.AssetSpec(
            key=dg.AssetKey([connector, name]), group_name=f"raw_{connector}", deps=[CLOCK_KEY],
            description=f"Raw `{spec.schema}.{name}` as the {connector} connector lands it "
                        f"({spec.load_mode}, key {', '.join(spec.primary_key)}).",
            kinds=KINDS.get(connector, {"fivetran", "duckdb"}),
            metadata={"load_mode": spec.load_mode, "primary_key": list(spec.primary_key)},
        )
        for connector in CONNECTORS
        for name, spec in raw_tables()[connector].items()
    ]

    @dg.multi_asset(name="simulated_connectors_sync", specs=specs, pool=WAREHOUSE_POOL, retry_policy=LOAD_RETRY,
                    can_subset=True,
                    description="Sync the simulated connectors (Shopify, Klaviyo, Stripe, Zendesk, Salesforce, "
                                "Segment) up to the simulation clock, in one pass over the simulated people.")
    def _sync(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
        selected = context.selected_asset_keys
        connectors = [c for c in CONNECTORS if any(k.path[0] == c for k in selected)]
        result = syncs.sync(warehouse.path, connectors, report=context.log.info)
        for connector in connectors:
            window = result.windows.get(connector)
            for name in raw_tables()[connector]:
                key = dg.AssetKey([connector, name])
                if key in selected:
                    yield dg.MaterializeResult(
                        asset_key=key,
                        metadata={"rows_landed": result.rows.get((connector, name), 0),
                                  "window_end": window[2].isoformat() if window else "up to date"},
                    )

    return _sync


connector_assets = [_simulated_connectors_asset()]


def load_assets() -> tuple[list, dict]:
    """The load assets and the resources they need: a real Fivetran account's connectors when
    CDP_FIVETRAN_API_KEY/SECRET are set (fivetran.py), else the simulator's."""
    from .fivetran import fivetran_load_assets, fivetran_settings

    cfg = fivetran_settings()
    if cfg is None:
        return [simulation_clock, *connector_assets], {}
    assets, workspace = fivetran_load_assets(cfg, LOAD_RETRY)
    return assets, {"fivetran": workspace}
