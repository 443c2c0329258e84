"""Where the predictions read orders and write scores: the DuckDB file (target ``dev``) or
Snowflake (target ``snowflake``). The SQL is the same on both (clv.py); what differs is
how rows travel: Arrow registered as a view in DuckDB, ``write_pandas`` into a scratch
table on Snowflake. Every statement goes through ``execute``/``fetch``, and is recorded in
``sent``, so that tests can check each one against Snowflake's grammar."""

from __future__ import annotations

from contextlib import contextmanager

import numpy as np
import pyarrow as pa

# The timestamp type each engine's dbt models use (dbt.type_timestamp()): on Snowflake
# TIMESTAMP follows the account's TIMESTAMP_TYPE_MAPPING, so name the variant.
TIMESTAMP = {"duckdb": "timestamp", "snowflake": "timestamp_ntz"}
# Replacing a Snowflake table drops the grants on it unless told to copy them.
COPY_GRANTS = {"duckdb": "", "snowflake": " copy grants"}

# The scores' columns and their SQL types while staged (before rounding and casting).
SCORE_COLUMNS = {"profile_id": "varchar", "p_alive": "double", "churn_risk": "integer",
                 "expected_orders_12m": "double", "expected_order_value": "double", "predicted_value_12m": "double"}


class DuckDBWarehouse:
    engine = "duckdb"

    def __init__(self, con):
        self.con = con
        self.sent: list[str] = []

    def execute(self, sql: str, params=()) -> None:
        self.sent.append(sql)
        self.con.execute(sql, list(params))

    def fetch(self, sql: str, params=()) -> dict[str, np.ndarray]:
        self.sent.append(sql)
        rows = self.con.execute(sql, list(params)).fetchnumpy()
        return {name.lower(): np.asarray(values) for name, values in rows.items()}

    @contextmanager
    def staged(self, scores: pa.Table):
        """The scores as a relation SQL can join (a view over the Arrow table)."""
        self.con.register("scored", scores)
        try:
            yield "scored"
        finally:
            self.con.unregister("scored")


class SnowflakeWarehouse:
    engine = "snowflake"
    STAGED = "marts.profile_predictions__scored"

    def __init__(self, con):
        self.con = con
        self.sent: list[str] = []

    def execute(self, sql: str, params=()) -> None:
        self.sent.append(sql)
        with self.con.cursor() as cur:
            cur.execute(sql, list(params))

    def fetch(self, sql: str, params=()) -> dict[str, np.ndarray]:
        self.sent.append(sql)
        with self.con.cursor() as cur:
            cur.execute(sql, list(params))
            names = [d[0].lower() for d in cur.description]
            frame = cur.fetch_pandas_all()
        frame.columns = [str(c).lower() for c in frame.columns]
        # With no rows the connector may return a frame without columns.
        return {name: (frame[name].to_numpy() if name in frame.columns else np.array([], dtype=object))
                for name in names}

    @contextmanager
    def staged(self, scores: pa.Table):
        """The scores in a scratch table next to the published one, dropped afterwards:
        created with explicit types, then filled by write_pandas (Parquet through a stage;
        an empty batch skips it). Unquoted upper-case names, as Snowflake folds unquoted
        SQL names. Transient (no Fail-safe copy to pay for); not temporary because the
        fakesnow emulator cannot put a temporary table in a named schema. One fixed name:
        runs are one at a time (the asset's pool), and a crashed run's table is replaced
        by the next."""
        from snowflake.connector import pandas_tools  # via the module: emulators patch it there

        columns = ", ".join(f"{name} {kind}" for name, kind in SCORE_COLUMNS.items())
        self.execute(f"create or replace transient table {self.STAGED} ({columns})")
        try:
            if scores.num_rows:
                frame = scores.select(list(SCORE_COLUMNS)).to_pandas()
                frame.columns = [c.upper() for c in frame.columns]
                schema, table = self.STAGED.upper().split(".")
                ok, _, rows, _ = pandas_tools.write_pandas(self.con, frame, table, schema=schema,
                                                           quote_identifiers=False, auto_create_table=False)
                if not ok or rows != scores.num_rows:
                    raise RuntimeError(f"write_pandas loaded {rows} of {scores.num_rows} score rows into {self.STAGED}")
            yield self.STAGED
        finally:
            self.execute(f"drop table if exists {self.STAGED}")


def for_connection(con):
    """Wrap a connection: a DuckDB connection, or an already wrapped warehouse, or a
    Snowflake connection (anything else with a ``cursor``)."""
    if isinstance(con, (DuckDBWarehouse, SnowflakeWarehouse)):
        return con
    import duckdb

    if isinstance(con, duckdb.DuckDBPyConnection):
        return DuckDBWarehouse(con)
    return SnowflakeWarehouse(con)
