"""Run a suite of quality/expectations.yml with Great Expectations 1.x on the warehouse of the
active dbt target (the DuckDB file or Snowflake; orchestration/lib/warehouse.py).

One ephemeral (file-less) GX context per process holds a pandas datasource; a suite fetches
only the columns its expectations name (and its filter's rows) with one query and validates
that frame, whichever engine it came from. The row count of each run is kept in the same
warehouse (``_cdp_quality.row_counts``) so that the next run can compare with it.

Scope: a suite with ``new_rows_by`` (a load or build time column) can be run on the rows
written since its last run (``scope="new_rows"``, what the hourly runs do) instead of the
whole table (``scope="full"``, the daily checks): the row-count change is still measured on
the whole table (one ``count(*)``), every other expectation on the new rows. The first run,
and any run after a full one, picks up from the newest value of that column the last run saw.

Great Expectations is imported on first use: it takes about four seconds to import, which
loading the Dagster code location should not pay.
"""

from __future__ import annotations

import datetime as dt
import os
import time
from dataclasses import dataclass, field

from orchestration.lib import warehouse as warehouses

from .config import Expectation, Suite

ROW_COUNTS_SCHEMA = "_cdp_quality"
ROW_COUNTS_TABLE = "row_counts"
ROW_COUNTS = f"{ROW_COUNTS_SCHEMA}.{ROW_COUNTS_TABLE}"
_CONTEXT: dict = {}


@dataclass
class Outcome:
    expectation: Expectation
    passed: bool
    observed: dict

    def describe(self) -> str:
        facts = ", ".join(f"{k} {v}" for k, v in self.observed.items())
        return f"{self.expectation.label} {'passed' if self.passed else 'FAILED'} ({facts})"


SCOPES = ("full", "new_rows")
# The Dagster run tag that picks the scope (orchestration/quality/checks.py): "full" in the
# daily checks and the one-shot pipeline (orchestration/schedules.py), else new_rows.
SCOPE_TAG = "cdp/quality_scope"


@dataclass
class SuiteResult:
    suite: Suite
    row_count: int               # rows of the table (after the suite's filter)
    previous_count: int | None
    seconds: float
    outcomes: list[Outcome] = field(default_factory=list)
    scope: str = "full"
    checked_rows: int = 0        # rows the expectations validated (all, or the new ones)
    new_since: dt.datetime | None = None  # new_rows: rows written after this

    @property
    def scope_text(self) -> str:
        if self.scope == "full":
            return f"all {self.row_count:,} rows"
        return f"{self.checked_rows:,} rows written after {self.new_since} (of {self.row_count:,})"

    def of(self, severity: str) -> list[Outcome]:
        return [o for o in self.outcomes if o.expectation.severity == severity]

    def failed(self, severity: str | None = None) -> list[Outcome]:
        return [o for o in self.outcomes if not o.passed and (severity is None or o.expectation.severity == severity)]


def _context():
    """The process's ephemeral GX context, datasource and batch definition (built once)."""
    if not _CONTEXT:
        os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
        import great_expectations as gx
        from great_expectations.data_context.types.base import ProgressBarsConfig
        from great_expectations.execution_engine import pandas_execution_engine

        # GX fingerprints every frame under 1 GB (an md5 of pandas' hash of each row: a batch
        # marker, which this ephemeral context keeps nowhere), twice per validation. On
        # profile_identifiers at 1,000,000 people (2.9 million rows of Arrow strings) that was
        # 7.4 s of the suite's 9.2 s; at threshold 0 it fingerprints nothing. A test
        # (test_quality.py) fails if a batch still carries the marker.
        pandas_execution_engine.HASH_THRESHOLD = 0

        context = gx.get_context(mode="ephemeral")
        context.variables.progress_bars = ProgressBarsConfig(globally=False)
        frame = context.data_sources.add_pandas("warehouse").add_dataframe_asset("frame")
        _CONTEXT.update(context=context, batch=frame.add_batch_definition_whole_dataframe("whole"))
    return _CONTEXT["context"], _CONTEXT["batch"]


def ensure_row_counts(con) -> None:
    """Create the row-count table, or add the columns a table from an older version lacks.
    It runs before every suite: once the table is current it costs two catalog reads."""
    wh = warehouses.wrap(con)
    columns = {"suite": "varchar", "relation": "varchar", "run_id": "varchar", "counted_at": wh.timestamp,
               "clock": wh.timestamp, "row_count": "bigint",
               # added later: the scope of the run and the newest new_rows_by value it saw
               "scope": "varchar", "checked_through": wh.timestamp}
    if not wh.has_table(ROW_COUNTS_SCHEMA, ROW_COUNTS_TABLE):
        wh.create_schema(ROW_COUNTS_SCHEMA)
        wh.execute(f"create table if not exists {ROW_COUNTS} "
                   f"({', '.join(f'{name} {kind}' for name, kind in columns.items())})")
        return
    present = {c.lower() for c in wh.columns(f"select * from {ROW_COUNTS} limit 0")}
    for name, kind in columns.items():
        if name not in present:  # a warehouse from before keeps its rows
            wh.execute(f"alter table {ROW_COUNTS} add column if not exists {name} {kind}")


def previous_run(con, suite: str) -> tuple[int, dt.datetime | None] | None:
    """(row count, checked_through) of the suite's last run, or None before the first."""
    wh = warehouses.wrap(con)
    ensure_row_counts(wh)
    row = wh.one(f"select row_count, checked_through from {ROW_COUNTS} where suite = ? "
                 "order by counted_at desc limit 1", [suite])
    return (int(row[0]), row[1]) if row else None


def row_count_bounds(e: Expectation, previous: int) -> tuple[int, int]:
    """The row counts a row_count_change expectation accepts after ``previous``."""
    a = e.args
    return int(previous * (1 - float(a["max_drop"]))), int(previous * (1 + float(a["max_growth"]))) + 1


def _gx_expectation(e: Expectation, suite: Suite, previous: int | None, index: int):
    import great_expectations.expectations as gxe

    a, meta = e.args, {"index": index}
    if e.check == "unique":
        if len(e.columns) > 1:
            return gxe.ExpectCompoundColumnsToBeUnique(column_list=e.columns, meta=meta)
        return gxe.ExpectColumnValuesToBeUnique(column=e.columns[0], meta=meta)
    if e.check == "not_null":
        return gxe.ExpectColumnValuesToNotBeNull(column=a["column"], meta=meta)
    if e.check == "null_rate":
        return gxe.ExpectColumnValuesToNotBeNull(column=a["column"], mostly=1 - float(a["max"]), meta=meta)
    if e.check == "valid":
        return gxe.ExpectColumnValuesToMatchRegex(column=a["column"], regex=suite.patterns[a["pattern"]],
                                                  mostly=float(a["min_rate"]), meta=meta)
    if e.check == "between":
        return gxe.ExpectColumnValuesToBeBetween(column=a["column"], min_value=a["min"], max_value=a["max"],
                                                 mostly=float(a.get("min_rate", 1.0)), meta=meta)
    if e.check == "accepted_values":
        return gxe.ExpectColumnValuesToBeInSet(column=a["column"], value_set=list(a["values"]),
                                               mostly=float(a.get("min_rate", 1.0)), meta=meta)
    if e.check == "row_count_change" and previous is not None:
        low, high = row_count_bounds(e, previous)
        return gxe.ExpectTableRowCountToBeBetween(min_value=low, max_value=high, meta=meta)
    return None


def _observed(e: Expectation, result: dict) -> dict:
    if e.check == "row_count_change":
        return {"row_count": result.get("observed_value")}
    facts = {"rows": result.get("element_count")}
    unexpected = result.get("unexpected_count")
    if e.check == "null_rate" or e.check == "not_null":
        facts["null_share"] = round(unexpected / facts["rows"], 4) if facts["rows"] else 0.0
    elif e.check in ("valid", "between", "accepted_values"):
        present = (facts["rows"] or 0) - (result.get("missing_count") or 0)
        facts["share_ok"] = round(1 - (unexpected or 0) / present, 4) if present else 1.0
        facts["unexpected"] = unexpected
        if result.get("partial_unexpected_list"):
            facts["examples"] = [str(v) for v in result["partial_unexpected_list"][:3]]
    else:
        facts["unexpected"] = unexpected
    return facts


def run_suite(suite: Suite, con, run_id: str = "", clock: dt.datetime | None = None,
              record: bool = True, scope: str = "full") -> SuiteResult:
    """Validate ``suite`` on ``con`` (an open Warehouse, or a DuckDB or Snowflake connection);
    record this run's row count there. ``scope="new_rows"`` validates only the rows written
    since the last run, for a suite with ``new_rows_by`` (others are always run whole)."""
    import great_expectations as gx

    if scope not in SCOPES:
        raise ValueError(f"quality scope must be one of {', '.join(SCOPES)}, got {scope!r}")
    wh = warehouses.wrap(con)
    started = time.perf_counter()
    relation = wh.relation_text(suite.relation)
    conditions = [f"({suite.where})"] if suite.where else []
    last = previous_run(wh, suite.name)
    previous = last[0] if last else None
    total, through, since = None, None, None
    if suite.new_rows_by:
        column = wh.quote(suite.new_rows_by)
        where = f" where {' and '.join(conditions)}" if conditions else ""
        total, through = wh.one(f"select count(*), max({column}) from {relation}{where}")
        total = int(total)
        if scope == "new_rows" and last is not None and last[1] is not None:
            since = last[1]
            conditions.append(f"{column} > ?")
    new_rows = since is not None
    where = f" where {' and '.join(conditions)}" if conditions else ""
    frame = wh.frame(f"select {', '.join(wh.quote(c) for c in suite.columns)} from {relation}{where}",
                     [since] if new_rows else [])
    row_count = total if total is not None else len(frame)
    _, batch_definition = _context()
    gx_suite = gx.ExpectationSuite(name=f"{suite.name}")
    built = {}
    for i, e in enumerate(suite.expectations):
        # On new rows, the row-count change is measured on the whole table's count, not by GX.
        gx_e = None if new_rows and e.check == "row_count_change" else _gx_expectation(e, suite, previous, i)
        if gx_e is not None:
            gx_suite.add_expectation(gx_e)
            built[i] = e
    results = batch_definition.get_batch(batch_parameters={"dataframe": frame}).validate(gx_suite)
    result = SuiteResult(suite, row_count, previous, 0.0, scope="new_rows" if new_rows else "full",
                         checked_rows=len(frame), new_since=since)
    for r in results.results:
        i = r.expectation_config.meta["index"]
        if r.exception_info and r.exception_info.get("raised_exception"):
            result.outcomes.append(Outcome(built[i], False, {"error": r.exception_info.get("exception_message")}))
        else:
            result.outcomes.append(Outcome(built[i], bool(r.success), _observed(built[i], r.result)))
    for i, e in enumerate(suite.expectations):
        if i in built:
            if e.check == "row_count_change":
                next(o for o in result.outcomes if o.expectation is e).observed["previous"] = previous
        elif e.check == "row_count_change" and previous is not None:  # new rows: the table's count
            low, high = row_count_bounds(e, previous)
            result.outcomes.append(Outcome(e, low <= row_count <= high, {"row_count": row_count, "previous": previous}))
        else:  # a row-count change with nothing to compare with yet
            result.outcomes.append(Outcome(e, True, {"row_count": row_count, "previous": "none (first run)"}))
    result.outcomes.sort(key=lambda o: suite.expectations.index(o.expectation))
    if record:
        wh.execute(f"insert into {ROW_COUNTS} (suite, relation, run_id, counted_at, clock, row_count, scope, "
                   "checked_through) values (?, ?, ?, ?, ?, ?, ?, ?)",
                   [suite.name, suite.relation, run_id, dt.datetime.now(dt.timezone.utc).replace(tzinfo=None),
                    clock, row_count, result.scope, through])
    result.seconds = time.perf_counter() - started
    return result
