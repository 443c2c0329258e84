"""One way into the warehouse dbt builds on, for the Python steps that read and write it
(the syncs' state, privacy requests, quality checks, predictions).

The dbt target decides which warehouse that is (settings.dbt_target(): CDP_TARGET, else
dev): the DuckDB file dbt uses (CDP_DUCKDB_PATH) on a duckdb target, Snowflake with
profiles.yml's settings on a snowflake target (lib/snowflake.py). A ``Warehouse`` is an open
connection to one of them with the few operations those steps need, and the SQL fragments
that differ between the two engines; the rest of their SQL is written once, in the part of
SQL both engines accept.

Every statement goes through ``execute``/``rows``/``frame``/``fetch`` and is recorded in
``sent``, so that tests can check each one against Snowflake's grammar (an emulator runs
on DuckDB and accepts DuckDB's own functions; the grammar check does not).

Parameters are bound positionally (``?``, which DuckDB and the Snowflake connector's qmark
style both take). A dict of parameters is also accepted: each ``$name`` in the SQL becomes a
``?`` and its value is repeated as often as the name is.
"""

from __future__ import annotations

import re
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pyarrow as pa
import yaml

from orchestration import settings

_NAMED = re.compile(r"\$([a-z_][a-z0-9_]*)\b")


class WarehouseError(RuntimeError):
    """The warehouse cannot be reached as configured; the message says how to fix it."""


def _positional(sql: str, params) -> tuple[str, list]:
    if not isinstance(params, dict):
        return sql, list(params or ())
    values = []

    def take(match):
        if match.group(1) not in params:
            raise KeyError(f"no value for ${match.group(1)} in {sorted(params)}")
        values.append(params[match.group(1)])
        return "?"

    return _NAMED.sub(take, sql), values


class Warehouse:
    """An open connection and the engine's SQL dialect. Subclasses move the rows."""

    engine = ""
    timestamp = "timestamp"   # the type dbt.type_timestamp() gives on the engine
    copy_grants = ""          # what keeps a replaced table's grants, where the engine has grants

    def __init__(self, con, owned: bool = True):
        self.con = con
        self.owned = owned    # closed by close(); a connection handed in by the caller is theirs
        self.sent: list[str] = []

    # --- SQL fragments ---------------------------------------------------------------------
    def now_utc(self) -> str:
        """The current time in UTC, as a timestamp without time zone."""
        raise NotImplementedError

    def sha256(self, expression: str) -> str:
        """Lower-case hex SHA-256 of a text expression (the dbt macro cdp.sha256_hex)."""
        raise NotImplementedError

    def json_object(self, pairs: dict[str, str]) -> str:
        """A JSON object as text: key -> SQL expression; null values kept as null."""
        raise NotImplementedError

    def quote(self, name: str) -> str:
        """An identifier the project (or Fivetran) created without quotes, quoted: DuckDB keeps
        its case, Snowflake folded it to upper case."""
        return '"' + self._folded(name).replace('"', '""') + '"'

    def quote_exact(self, name: str) -> str:
        """An identifier as the catalog spells it (from information_schema)."""
        return '"' + name.replace('"', '""') + '"'

    def relation(self, schema: str, table: str) -> str:
        return f"{self.quote(schema)}.{self.quote(table)}"

    def relation_text(self, text: str) -> str:
        """A relation as written in the project's YAML for DuckDB (``shopify."order"``: the quotes
        only escape a reserved word) as this engine names it."""
        return text

    def _folded(self, name: str) -> str:
        return name

    def column_name(self, name: str) -> str:
        """A result column's name as the project spells it (undoing Snowflake's upper-casing of
        unquoted names; a name created quoted keeps its case)."""
        return name

    # --- statements ------------------------------------------------------------------------
    def execute(self, sql: str, params=()) -> None:
        self._run(sql, params)

    def rows(self, sql: str, params=()) -> list[tuple]:
        return [tuple(r) for r in self._run(sql, params, fetch="all")]

    def one(self, sql: str, params=()) -> tuple | None:
        found = self.rows(sql, params)
        return found[0] if found else None

    def count(self, sql: str, params=()) -> int:
        """Run an insert, update or delete; the number of rows it changed (both engines return
        it as the statement's one result row)."""
        row = self.one(sql, params)
        return int(row[0]) if row else 0

    def dicts(self, sql: str, params=()) -> list[dict]:
        names, rows = self._run(sql, params, fetch="named")
        return [dict(zip(names, row)) for row in rows]

    def columns(self, sql: str, params=()) -> list[str]:
        """The column names of a query's result (run with ``limit 0`` by the caller)."""
        names, _ = self._run(sql, params, fetch="named")
        return names

    def has_table(self, schema: str, table: str) -> bool:
        raise NotImplementedError

    def create_schema(self, schema: str) -> None:
        self.execute(f"create schema if not exists {schema}")

    @contextmanager
    def transaction(self):
        """One transaction. On Snowflake a DDL statement commits the open transaction: put only
        inserts, updates and deletes inside."""
        self.execute("begin transaction")
        try:
            yield self
        except BaseException:
            self.execute("rollback")
            raise
        self.execute("commit")

    def close(self) -> None:
        if self.owned:
            self.con.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class DuckDBWarehouse(Warehouse):
    engine = "duckdb"

    def _run(self, sql, params, fetch=None):
        sql, values = _positional(sql, params)
        self.sent.append(sql)
        cursor = self.con.execute(sql, values)
        if fetch == "all":
            return cursor.fetchall()
        if fetch == "named":
            return [d[0] for d in cursor.description], cursor.fetchall()
        return None

    def now_utc(self) -> str:
        return "cast(current_timestamp at time zone 'UTC' as timestamp)"

    def sha256(self, expression: str) -> str:
        return f"sha256({expression})"

    def json_object(self, pairs: dict[str, str]) -> str:
        fields = ", ".join(f"{key} := {value}" for key, value in pairs.items())
        return f"cast(to_json(struct_pack({fields})) as varchar)"

    def has_table(self, schema: str, table: str) -> bool:
        return self.rows("select count(*) from information_schema.tables where table_schema = ? and table_name = ?",
                         [schema, table])[0][0] > 0

    def executemany(self, sql: str, rows: list) -> None:
        self.sent.append(sql)
        self.con.executemany(sql, rows)

    def text_columns(self) -> list[tuple[str, str, str]]:
        """(schema, table, column) of every text column of the database's tables and views."""
        return self.rows("""select table_schema, table_name, column_name from information_schema.columns
                            where data_type = 'VARCHAR' and table_schema != 'information_schema'
                              and table_catalog = current_database()""")

    def frame(self, sql: str, params=()):
        # Through Arrow: pandas keeps Arrow's strings as they are, where DuckDB's .df() makes a
        # Python object of each (22 million event ids: 3.4 s against 14.9 s here).
        return self.arrow(sql, params).to_pandas()

    def arrow(self, sql: str, params=()) -> pa.Table:
        sql, values = _positional(sql, params)
        self.sent.append(sql)
        return self.con.execute(sql, values).to_arrow_table()

    def fetch(self, sql: str, params=()) -> dict[str, np.ndarray]:
        """Columns as numpy arrays, names lower-cased."""
        sql, values = _positional(sql, params)
        self.sent.append(sql)
        rows = self.con.execute(sql, values).fetchnumpy()
        return {name.lower(): np.asarray(values) for name, values in rows.items()}

    @contextmanager
    def staged(self, name: str, table: pa.Table, types: dict[str, str] | None = None):
        """Rows from Python as a relation SQL can join: here a view over the Arrow table."""
        self.con.register(name, table)
        try:
            yield name
        finally:
            self.con.unregister(name)


# Arrow types as Snowflake column types, for staged tables created before write_pandas fills them.
def _snowflake_type(kind: pa.DataType) -> str:
    if pa.types.is_boolean(kind):
        return "boolean"
    if pa.types.is_integer(kind):
        return "bigint"
    if pa.types.is_floating(kind):
        return "double"
    if pa.types.is_timestamp(kind):
        return "timestamp_ntz"
    if pa.types.is_date(kind):
        return "date"
    return "varchar"


class SnowflakeWarehouse(Warehouse):
    engine = "snowflake"
    # TIMESTAMP follows the account's TIMESTAMP_TYPE_MAPPING: name the variant dbt models use.
    timestamp = "timestamp_ntz"
    # Replacing a table drops the grants on it unless told to copy them.
    copy_grants = " copy grants"

    def _run(self, sql, params, fetch=None):
        sql, values = _positional(sql, params)
        self.sent.append(sql)
        with self.con.cursor() as cursor:
            cursor.execute(sql, values)
            if fetch == "all":
                return cursor.fetchall()
            if fetch == "named":
                return [self.column_name(d[0]) for d in cursor.description], cursor.fetchall()
        return None

    def now_utc(self) -> str:
        return "cast(convert_timezone('UTC', current_timestamp()) as timestamp_ntz)"

    def sha256(self, expression: str) -> str:
        return f"sha2({expression}, 256)"

    def json_object(self, pairs: dict[str, str]) -> str:
        fields = ", ".join(f"'{key}', {value}" for key, value in pairs.items())
        return f"to_json(object_construct_keep_null({fields}))"

    def _folded(self, name: str) -> str:
        return name.upper()

    def relation_text(self, text: str) -> str:
        return re.sub(r'"([^"]+)"', lambda m: '"' + m.group(1).upper() + '"', text)

    def column_name(self, name: str) -> str:
        return name.lower() if name.isupper() else name

    def has_table(self, schema: str, table: str) -> bool:
        # The catalog holds unquoted names upper-cased; information_schema covers the
        # connection's database only.
        return self.rows("select count(*) from information_schema.tables where table_schema = ? and table_name = ?",
                         [self._folded(schema), self._folded(table)])[0][0] > 0

    def executemany(self, sql: str, rows: list) -> None:
        self.sent.append(sql)
        with self.con.cursor() as cursor:
            cursor.executemany(sql, rows)

    def text_columns(self) -> list[tuple[str, str, str]]:
        """(schema, table, column) of every text column of the database's tables and views, names
        as the catalog spells them (unquoted ones upper-cased)."""
        return self.rows("""select table_schema, table_name, column_name from information_schema.columns
                            where data_type = 'TEXT' and table_schema != 'INFORMATION_SCHEMA'
                              and table_catalog = current_database()""")

    def frame(self, sql: str, params=()):
        """A pandas frame, column names as the project spells them."""
        import pandas as pd

        sql, values = _positional(sql, params)
        self.sent.append(sql)
        with self.con.cursor() as cursor:
            cursor.execute(sql, values)
            names = [self.column_name(d[0]) for d in cursor.description]
            frame = cursor.fetch_pandas_all()
        if len(frame.columns) != len(names):  # with no rows the connector may return no columns
            return pd.DataFrame({name: pd.Series([], dtype=object) for name in names})
        frame.columns = names
        return frame

    def arrow(self, sql: str, params=()) -> pa.Table:
        # Through pandas: the emulator has no fetch_arrow_all, and the rows are few (a file sync's).
        frame = self.frame(sql, params)
        return pa.Table.from_pandas(frame, preserve_index=False)

    def fetch(self, sql: str, params=()) -> dict[str, np.ndarray]:
        frame = self.frame(sql, params)
        return {str(name).lower(): frame[name].to_numpy() for name in frame.columns}

    @contextmanager
    def staged(self, name: str, table: pa.Table, types: dict[str, str] | None = None):
        """Rows from Python as a temporary table (this session only), created with explicit
        types (``types``, else from the Arrow schema), filled by write_pandas (Parquet through a
        stage; an empty table skips it) and dropped afterwards. Unqualified: it lives in the
        connection's schema (the profile's), as the fakesnow emulator cannot put a temporary
        table in a named schema."""
        # Through the module: emulators patch write_pandas there.
        from snowflake.connector import pandas_tools

        types = types or {field.name: _snowflake_type(field.type) for field in table.schema}
        columns = ", ".join(f"{column} {kind}" for column, kind in types.items())
        self.execute(f"create or replace temporary table {name} ({columns})")
        try:
            if table.num_rows:
                frame = table.select(list(types)).to_pandas()
                frame.columns = [c.upper() for c in frame.columns]
                ok, _, loaded, _ = pandas_tools.write_pandas(self.con, frame, name.upper(), quote_identifiers=False,
                                                             auto_create_table=False)
                if not ok or loaded != table.num_rows:
                    raise WarehouseError(f"write_pandas loaded {loaded} of {table.num_rows} rows into {name}")
            yield name
        finally:
            self.execute(f"drop table if exists {name}")


def engine_of(target: str) -> str:
    """The engine of a dbt target in profiles.yml (duckdb or snowflake)."""
    from orchestration.dbt.project import DbtConfigError, check_target

    check_target(target)
    doc = yaml.safe_load((settings.profiles_dir() / "profiles.yml").read_text())
    kind = doc["cdp"]["outputs"][target].get("type")
    if kind not in ("duckdb", "snowflake"):
        raise DbtConfigError(f"dbt target '{target}' is a {kind} target; the Python steps run on duckdb or snowflake")
    return kind


def connect(target: str | None = None, path: Path | None = None) -> Warehouse:
    """The warehouse of dbt target ``target`` (default: the active one, settings.dbt_target()):
    the DuckDB file at ``path`` (default: the one dbt uses), or Snowflake with profiles.yml's
    settings for that target. Close it when done (or use it as a context manager)."""
    target = target or settings.dbt_target()
    if engine_of(target) == "duckdb":
        import duckdb

        return DuckDBWarehouse(duckdb.connect(str(path or settings.duckdb_path())))
    from orchestration.lib.snowflake import connect as snowflake_connect

    return SnowflakeWarehouse(snowflake_connect(target))


def wrap(con) -> Warehouse:
    """A warehouse over a connection the caller keeps (and closes): a DuckDB connection, or
    a Snowflake one (anything else with a ``cursor``); a Warehouse is returned as it is."""
    if isinstance(con, Warehouse):
        return con
    import duckdb

    if isinstance(con, duckdb.DuckDBPyConnection):
        return DuckDBWarehouse(con, owned=False)
    return SnowflakeWarehouse(con, owned=False)


@contextmanager
def opened(where=None, target: str | None = None):
    """The warehouse ``where`` names, for one block: a Warehouse or a connection (used as
    given and left open), a path (that DuckDB file), or None (the active dbt target's)."""
    if where is None or isinstance(where, (str, Path)):
        if where is None:
            warehouse = connect(target)
        else:
            import duckdb

            warehouse = DuckDBWarehouse(duckdb.connect(str(where)))
        try:
            yield warehouse
        finally:
            warehouse.close()
    else:
        yield wrap(where)
