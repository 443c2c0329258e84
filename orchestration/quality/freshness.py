"""Source freshness as dbt declares it (``loaded_at_field`` and ``freshness`` in each
``_<source>__sources.yml``), measured against the warehouse's clock: the simulation clock on
a simulated warehouse, the current UTC time on a real one.

dbt's own ``dbt source freshness`` compares with the warehouse's ``current_timestamp``; on
simulated data, whose clock is wherever the simulation stopped, every source would be stale
(or fresh from the future). Reading the same thresholds here keeps one place to set them and
gives the same verdict as dbt on a real warehouse (docs/decisions.md).
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass
from pathlib import Path

import yaml

from orchestration.lib import warehouse as warehouses
from orchestration.lib.raw_tables import raw_tables
from orchestration.settings import PROJECT_DIR

PERIODS = {"minute": "minutes", "hour": "hours", "day": "days"}


@dataclass(frozen=True)
class FreshnessRule:
    source: str
    table: str
    relation: str
    loaded_at_field: str
    warn_after: dt.timedelta | None
    error_after: dt.timedelta | None
    schema: str = ""  # where the loader writes the table (relation is its name quoted for DuckDB)


@dataclass(frozen=True)
class Freshness:
    rule: FreshnessRule
    last_loaded_at: dt.datetime | None
    clock: dt.datetime

    @property
    def lag(self) -> dt.timedelta | None:
        return None if self.last_loaded_at is None else self.clock - self.last_loaded_at

    @property
    def status(self) -> str:
        """pass, warn or error; a table with no rows is an error (nothing has ever landed)."""
        if self.lag is None:
            return "error"
        if self.rule.error_after is not None and self.lag > self.rule.error_after:
            return "error"
        if self.rule.warn_after is not None and self.lag > self.rule.warn_after:
            return "warn"
        return "pass"


def _period(spec: dict | None) -> dt.timedelta | None:
    if not spec or spec.get("count") is None:
        return None
    return dt.timedelta(**{PERIODS[spec["period"]]: int(spec["count"])})


def _merged(outer: dict, inner: dict) -> dict:
    """Table-level config over source-level, as dbt merges it; ``freshness: null`` turns it off."""
    config = dict(outer)
    for key in ("loaded_at_field", "freshness"):
        if key in inner:
            config[key] = inner[key]
    return config


@functools.lru_cache(maxsize=4)
def freshness_rules(project_dir: Path = PROJECT_DIR) -> dict[tuple[str, str], FreshnessRule]:
    """``{(source, table): rule}`` for every raw table with a freshness threshold."""
    tables = raw_tables(project_dir)
    rules = {}
    for path in sorted((project_dir / "models" / "staging").glob("*/_*__sources.yml")):
        for source in (yaml.safe_load(path.read_text()) or {}).get("sources", []):
            if source["name"] not in tables:
                continue
            source_config = {**source, **(source.get("config") or {})}
            for table in source["tables"]:
                config = _merged(source_config, {**table, **(table.get("config") or {})})
                freshness = config.get("freshness")
                if not freshness or not config.get("loaded_at_field"):
                    continue
                raw = tables[source["name"]][table["name"]]
                rules[(source["name"], table["name"])] = FreshnessRule(
                    source["name"], table["name"], raw.qualified, config["loaded_at_field"],
                    _period(freshness.get("warn_after")), _period(freshness.get("error_after")), raw.schema)
    return rules


def warehouse_clock(con) -> dt.datetime:
    """The simulation clock of a simulated warehouse, else the current UTC time. ``con``: an
    open Warehouse, or a DuckDB or Snowflake connection."""
    wh = warehouses.wrap(con)
    row = wh.one("select clock from _cdp_meta.simulation") if wh.has_table("_cdp_meta", "simulation") else None
    return row[0] if row else dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


def measure(con, rules: dict[tuple[str, str], FreshnessRule] | None = None,
            clock: dt.datetime | None = None) -> list[Freshness]:
    """The freshness of each table with a rule, in one query."""
    wh = warehouses.wrap(con)
    rules = freshness_rules() if rules is None else rules
    clock = clock or warehouse_clock(wh)
    if not rules:
        return []
    parts = [f"select {i} as i, max(cast({wh.quote(r.loaded_at_field)} as {wh.timestamp})) as last_loaded_at "
             f"from {wh.relation(r.schema, r.table) if r.schema else wh.relation_text(r.relation)}"
             for i, r in enumerate(rules.values())]
    found = dict(wh.rows(" union all ".join(parts)))
    return [Freshness(r, found.get(i), clock) for i, r in enumerate(rules.values())]
