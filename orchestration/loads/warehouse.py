"""Land connector syncs in the DuckDB warehouse the way Fivetran and Segment do.

A sync's rows are first written to staging tables (``_cdp_stage__<table>``, beside each
target), then moved into the raw tables in one transaction together with the sync's entry
in the ledger (``_cdp_meta.connector_syncs``): a sync lands completely or not at all, and
landing the same sync again changes nothing (upserts replace rows by primary key unless a
later sync wrote them, appends skip ids already present). Raw tables are created from the source YAML and gain new columns the
same way Fivetran adds them.
"""

from __future__ import annotations

import datetime as dt
import os
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa

from orchestration.exports.state import SCHEMA as SYNC_SCHEMA
from orchestration.lib.raw_tables import RawTable, raw_tables
from orchestration.privacy.requests import SCHEMA as PRIVACY_SCHEMA
from orchestration.quality.expectations import ROW_COUNTS_SCHEMA
from orchestration.simulator.generate import TRUTH_KEYS, TRUTH_SCHEMA, TRUTH_TABLES

META = "_cdp_meta"
# What is computed from a simulated world and goes when the world is replaced: the schemas
# dbt builds (dbt_project.yml's +schema settings, the snapshots' schema and the audit schema
# of data tests that store failures) and the quality checks' previous row counts. Incremental
# models left from another world would keep its rows (events of people who no longer exist).
# Seeds are configuration, the privacy schema an audit trail, main the dbt target's default
# schema: they stay. python_tests/test_loads.py checks that every schema a build leaves is
# the simulator's or in one of these two lists.
DERIVED_SCHEMAS = ("staging", "intermediate", "marts", "snapshots", "dbt_test__audit", ROW_COUNTS_SCHEMA)
KEPT_SCHEMAS = ("seeds", PRIVACY_SCHEMA, "main")
STAGE_PREFIX = "_cdp_stage__"  # staging copies sit next to their target table
DUCK_TYPES = {"varchar": "VARCHAR", "bigint": "BIGINT", "integer": "INTEGER", "double": "DOUBLE",
              "boolean": "BOOLEAN", "timestamp": "TIMESTAMP", "date": "DATE"}
ARROW_TO_DUCK = {pa.string(): "VARCHAR", pa.int64(): "BIGINT", pa.int32(): "INTEGER",
                 pa.float64(): "DOUBLE", pa.bool_(): "BOOLEAN", pa.timestamp("us"): "TIMESTAMP",
                 pa.date32(): "DATE"}


class WarehouseError(RuntimeError):
    """A problem with the warehouse file that the user must fix; the message says how."""


def q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


@dataclass(frozen=True)
class Simulation:
    seed: int
    profiles: int
    as_of: dt.datetime
    clock: dt.datetime
    created_by: str


def connect(path: Path, read_only: bool = False, must_exist: bool = False) -> duckdb.DuckDBPyConnection:
    """Open the warehouse file with errors a user can act on."""
    path = Path(path)
    if must_exist and not path.exists():
        raise WarehouseError(f"warehouse {path} does not exist; run `cdp generate` first or set CDP_DUCKDB_PATH")
    if path.exists() and path.is_dir():
        raise WarehouseError(f"warehouse path {path} is a directory; set CDP_DUCKDB_PATH to a file such as {path / 'cdp.duckdb'}")
    parent = path.parent
    if not read_only:
        try:
            parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise WarehouseError(f"cannot create the folder {parent} for the warehouse ({exc.strerror}); "
                                 f"set CDP_DUCKDB_PATH to a writable location") from exc
        if not os.access(parent, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
            raise WarehouseError(f"warehouse {path} is not writable; fix its permissions or set CDP_DUCKDB_PATH "
                                 f"to a writable location")
    elif not path.exists():
        raise WarehouseError(f"warehouse {path} does not exist; run `cdp generate` first or set CDP_DUCKDB_PATH")
    try:
        con = duckdb.connect(str(path), read_only=read_only)
    except duckdb.IOException as exc:
        text = str(exc)
        if "lock" in text.lower():
            raise WarehouseError(f"warehouse {path} is in use by another process (a Dagster run or another cdp "
                                 f"command); wait for it to finish or stop it") from exc
        raise WarehouseError(f"cannot open warehouse {path}: {text.splitlines()[0]}; if the file is not a DuckDB "
                             f"database, move it away or set CDP_DUCKDB_PATH to another file") from exc
    except duckdb.Error as exc:
        raise WarehouseError(f"cannot open warehouse {path}: {str(exc).splitlines()[0]}; if the file is not a "
                             f"DuckDB database, move it away or set CDP_DUCKDB_PATH to another file") from exc
    con.execute("SET preserve_insertion_order = false")
    return con


class Warehouse:
    def __init__(self, con: duckdb.DuckDBPyConnection):
        self.con = con
        self.specs = raw_tables()
        self._staged: set[tuple[str, str]] = set()
        self._pending: list[tuple[str, str, pa.Table]] = []

    # -- metadata --------------------------------------------------------------------------------
    def ensure_meta(self) -> None:
        self.con.execute(f"CREATE SCHEMA IF NOT EXISTS {META}")
        self.con.execute(f"""
            CREATE TABLE IF NOT EXISTS {META}.simulation (
                seed BIGINT NOT NULL, profiles BIGINT NOT NULL, as_of TIMESTAMP NOT NULL,
                clock TIMESTAMP NOT NULL, created_by VARCHAR NOT NULL,
                created_at TIMESTAMP NOT NULL, updated_at TIMESTAMP NOT NULL)""")
        self.con.execute(f"""
            CREATE TABLE IF NOT EXISTS {META}.connector_syncs (
                connector VARCHAR NOT NULL, sync_no INTEGER NOT NULL,
                window_start TIMESTAMP, window_end TIMESTAMP NOT NULL, rows_written BIGINT NOT NULL,
                started_at TIMESTAMP NOT NULL, finished_at TIMESTAMP NOT NULL,
                PRIMARY KEY (connector, sync_no))""")

    def simulation(self) -> Simulation | None:
        if not self._exists(META, "simulation"):
            return None
        row = self.con.execute(f"SELECT seed, profiles, as_of, clock, created_by FROM {META}.simulation").fetchone()
        return Simulation(*row) if row else None

    def set_simulation(self, seed: int, profiles: int, as_of: dt.datetime, clock: dt.datetime,
                       created_by: str) -> None:
        now = _utcnow()
        self.con.execute(f"DELETE FROM {META}.simulation")
        self.con.execute(f"INSERT INTO {META}.simulation VALUES (?, ?, ?, ?, ?, ?, ?)",
                         [seed, profiles, as_of, clock, created_by, now, now])

    def advance_clock(self, clock: dt.datetime) -> None:
        self.con.execute(f"UPDATE {META}.simulation SET clock = ?, updated_at = ?", [clock, _utcnow()])

    def last_sync(self, connector: str) -> tuple[int, dt.datetime | None]:
        if not self._exists(META, "connector_syncs"):
            return 0, None
        row = self.con.execute(
            f"SELECT sync_no, window_end FROM {META}.connector_syncs WHERE connector = ? ORDER BY sync_no DESC LIMIT 1",
            [connector]).fetchone()
        return (row[0], row[1]) if row else (0, None)

    def sync_window(self, connector: str, sync_no: int) -> tuple[dt.datetime | None, dt.datetime]:
        row = self.con.execute(
            f"SELECT window_start, window_end FROM {META}.connector_syncs WHERE connector = ? AND sync_no = ?",
            [connector, sync_no]).fetchone()
        if row is None:
            raise WarehouseError(f"connector {connector} has no sync number {sync_no}")
        return row

    def _exists(self, schema: str, table: str) -> bool:
        return bool(self.con.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = ? AND table_name = ?",
            [schema, table]).fetchone()[0])

    def existing_schemas(self) -> set[str]:
        return {r[0] for r in self.con.execute("SELECT schema_name FROM information_schema.schemata").fetchall()}

    # -- raw tables ------------------------------------------------------------------------------
    def ensure_raw_tables(self, sources) -> None:
        for source in sources:
            for spec in self.specs[source].values():
                self._ensure_table(spec.schema, spec.name, [(c, DUCK_TYPES[t]) for c, t in spec.columns])
        self._ensure_truth()

    def _ensure_truth(self) -> None:
        for table, schema in TRUTH_TABLES.items():
            self._ensure_table(TRUTH_SCHEMA, table, [(f.name, ARROW_TO_DUCK[f.type]) for f in schema])

    def _ensure_table(self, schema: str, table: str, columns: list[tuple[str, str]]) -> None:
        self.con.execute(f"CREATE SCHEMA IF NOT EXISTS {q(schema)}")
        if not self._exists(schema, table):
            cols = ", ".join(f"{q(c)} {t}" for c, t in columns)
            self.con.execute(f"CREATE TABLE {q(schema)}.{q(table)} ({cols})")
            return
        have = {r[0] for r in self.con.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = ? AND table_name = ?",
            [schema, table]).fetchall()}
        for c, t in columns:
            if c not in have:  # a column the YAML gained since the table was created
                self.con.execute(f"ALTER TABLE {q(schema)}.{q(table)} ADD COLUMN {q(c)} {t}")

    # -- staging and merging --------------------------------------------------------------------
    def _target(self, source: str, table: str) -> tuple[str, list[str], list[tuple[str, str]]]:
        if source == TRUTH_SCHEMA:
            cols = [(f.name, ARROW_TO_DUCK[f.type]) for f in TRUTH_TABLES[table]]
            return TRUTH_SCHEMA, [c for c, _ in cols], cols
        spec = self.specs[source][table]
        return spec.schema, spec.column_names, [(c, DUCK_TYPES[t]) for c, t in spec.columns]

    def drop_stage(self) -> None:
        """Remove staging tables a sync left behind (after a failure)."""
        self._pending.clear()
        rows = self.con.execute("SELECT table_schema, table_name FROM information_schema.tables").fetchall()
        for schema, name in rows:
            if name.startswith(STAGE_PREFIX):
                self.con.execute(f"DROP TABLE IF EXISTS {q(schema)}.{q(name)}")
        self._staged.clear()

    def stage(self, source: str, table: str, data: pa.Table) -> None:
        """Buffer generated rows for the staging copy of ``source.table``;
        :meth:`flush_stage` writes the buffer. Nothing is visible in the raw table until
        :meth:`merge_staged`."""
        self._pending.append((source, table, data))

    def take_pending(self) -> list[tuple[str, str, pa.Table]]:
        pending, self._pending = self._pending, []
        return pending

    def flush_stage(self, batch: list[tuple[str, str, pa.Table]] | None = None) -> None:
        """Write buffered rows (or ``batch``) to the staging tables in one transaction: one
        commit per chunk of people, so memory stays flat however large the sync and
        commits stay few."""
        batch = self.take_pending() if batch is None else batch
        if not batch:
            return
        self.con.execute("BEGIN TRANSACTION")
        try:
            for source, table, data in batch:
                self._stage_now(source, table, data)
            self.con.execute("COMMIT")
        except BaseException:
            self.con.execute("ROLLBACK")
            raise

    def _stage_now(self, source: str, table: str, data: pa.Table) -> None:
        schema, columns, ddl = self._target(source, table)
        stage = f"{q(schema)}.{q(STAGE_PREFIX + table)}"
        if (source, table) not in self._staged:
            self.con.execute(f"DROP TABLE IF EXISTS {stage}")
            self.con.execute(f"CREATE TABLE {stage} ({', '.join(f'{q(c)} {t}' for c, t in ddl)})")
            self._staged.add((source, table))
        cols = ", ".join(q(c) for c in columns)
        self.con.register("_cdp_incoming", data)
        try:
            self.con.execute(f"INSERT INTO {stage} ({cols}) SELECT {cols} FROM _cdp_incoming")
        finally:
            self.con.unregister("_cdp_incoming")

    def merge_staged(self, syncs: dict[str, tuple[int, dt.datetime | None, dt.datetime]],
                     started_at: dt.datetime, clock: dt.datetime | None = None) -> dict[tuple[str, str], int]:
        """Move everything staged into the raw (and truth) tables, record the syncs and (if
        given) the new simulation clock, in one transaction. An empty target simply takes
        the staging table's place (a historical sync costs no second copy); otherwise rows
        are merged by load mode. Returns the rows inserted or replaced per table."""
        self.flush_stage()
        self._check_staged_keys()
        merged: dict[tuple[str, str], int] = {}
        self.con.execute("BEGIN TRANSACTION")
        try:
            if clock is not None:
                self.advance_clock(clock)
            for source, table in sorted(self._staged):
                schema, columns, _ = self._target(source, table)
                if source == TRUTH_SCHEMA:
                    key, mode = TRUTH_KEYS[table], "upsert"
                    order_col = "valid_to" if table == "devices" else None
                else:
                    spec: RawTable = self.specs[source][table]
                    key, mode = spec.primary_key, spec.load_mode
                    order_col = "_fivetran_synced" if "_fivetran_synced" in columns else "uuid_ts"
                stage = f"{q(schema)}.{q(STAGE_PREFIX + table)}"
                target = f"{q(schema)}.{q(table)}"
                if self._is_empty(target) and self._same_columns(schema, table, STAGE_PREFIX + table):
                    merged[(source, table)] = self.con.execute(f"SELECT count(*) FROM {stage}").fetchone()[0]
                    self.con.execute(f"DROP TABLE {target}")
                    self.con.execute(f"ALTER TABLE {stage} RENAME TO {q(table)}")
                else:
                    merged[(source, table)] = self._merge(schema, table, stage, columns, key, mode, order_col)
                    self.con.execute(f"DROP TABLE {stage}")
            for connector, (sync_no, lo, hi) in syncs.items():
                rows = sum(n for (s_, _), n in merged.items() if s_ == connector)
                self.con.execute(
                    f"INSERT INTO {META}.connector_syncs VALUES (?, ?, ?, ?, ?, ?, ?)",
                    [connector, sync_no, lo, hi, rows, started_at, _utcnow()])
            self.con.execute("COMMIT")
        except BaseException:
            self.con.execute("ROLLBACK")
            raise
        self._staged.clear()
        self.con.execute("CHECKPOINT")
        return merged

    def _key(self, source: str, table: str) -> tuple[str, ...]:
        return TRUTH_KEYS[table] if source == TRUTH_SCHEMA else self.specs[source][table].primary_key

    def _check_staged_keys(self) -> None:
        """A sync must not carry two rows for one key: that would be a generator bug, and
        the two load paths (swap, merge) would keep different rows. Fail loudly instead."""
        for source, table in sorted(self._staged):
            schema, _, _ = self._target(source, table)
            keys = ", ".join(q(k) for k in self._key(source, table))
            dupes = self.con.execute(
                f"SELECT count(*) FROM (SELECT 1 FROM {q(schema)}.{q(STAGE_PREFIX + table)} "
                f"GROUP BY {keys} HAVING count(*) > 1)").fetchone()[0]
            if dupes:
                raise WarehouseError(f"a sync produced {dupes} duplicated keys ({keys}) for {source}.{table}; "
                                     f"nothing was landed")

    def _is_empty(self, target: str) -> bool:
        return not self.con.execute(f"SELECT count(*) FROM (SELECT 1 FROM {target} LIMIT 1)").fetchone()[0]

    def _same_columns(self, schema: str, a: str, b: str) -> bool:
        def cols(name):
            return self.con.execute(
                "SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = ? "
                "AND table_name = ? ORDER BY ordinal_position", [schema, name]).fetchall()
        return cols(a) == cols(b)

    def _merge(self, schema, table, stage, columns, key, mode, order_col) -> int:
        """Merge a staged table into its target; returns the rows inserted or replaced.

        upsert and history: a staged row replaces the target row with the same key unless
        the target's row was written by a later sync (``order_col``), so landing an older
        sync again never rolls data back. append: ids already present are skipped.
        """
        target = f"{q(schema)}.{q(table)}"
        cols = ", ".join(q(c) for c in columns)
        match = " AND ".join(f"t.{q(k)} = s.{q(k)}" for k in key)
        if mode != "append":
            newer = f" AND s.{q(order_col)} >= t.{q(order_col)}" if order_col else ""
            self.con.execute(f"DELETE FROM {target} t USING {stage} s WHERE {match}{newer}")
        # Insert what the target does not hold (new keys, and the rows just replaced).
        inserted = self.con.execute(f"""
            INSERT INTO {target} ({cols})
            SELECT {cols} FROM {stage} s
            WHERE NOT EXISTS (SELECT 1 FROM {target} t WHERE {match})""").fetchone()[0]
        return inserted

    # -- reset ------------------------------------------------------------------------------------
    def drop_simulated(self) -> list[str]:
        """Remove everything the simulator wrote (raw schemas, truth, ledger), the syncs' state,
        and what was computed from that world (DERIVED_SCHEMAS); returns the derived schemas
        that were there."""
        for tables in self.specs.values():
            schema = next(iter(tables.values())).schema
            self.con.execute(f"DROP SCHEMA IF EXISTS {q(schema)} CASCADE")
        # cdp_sync: what the syncs delivered from the replaced world; a new world starts its
        # syncs afresh rather than diffing against people who no longer exist.
        for schema in (TRUTH_SCHEMA, META, SYNC_SCHEMA):
            self.con.execute(f"DROP SCHEMA IF EXISTS {q(schema)} CASCADE")
        derived = [schema for schema in DERIVED_SCHEMAS if schema in self.existing_schemas()]
        for schema in derived:
            self.con.execute(f"DROP SCHEMA {q(schema)} CASCADE")
        self._staged.clear()
        return derived

    def raw_schemas_present(self) -> list[str]:
        have = self.existing_schemas()
        return sorted({next(iter(t.values())).schema for t in self.specs.values()} & have)

    def table_counts(self, sources) -> dict[tuple[str, str], int]:
        out = {}
        for source in sources:
            for spec in self.specs[source].values():
                if self._exists(spec.schema, spec.name):
                    out[(source, spec.name)] = self.con.execute(f"SELECT count(*) FROM {spec.qualified}").fetchone()[0]
        return out


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


@contextmanager
def open_warehouse(path: Path, read_only: bool = False, must_exist: bool = False):
    con = connect(path, read_only=read_only, must_exist=must_exist)
    try:
        yield Warehouse(con)
    finally:
        con.close()
