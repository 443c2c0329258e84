"""A Snowflake emulator (fakesnow) holding a small simulated warehouse, for running the dbt
project on its `snowflake` target without a Snowflake account.

fakesnow translates Snowflake SQL to DuckDB. It cannot run everything Snowflake runs, and
dbt-snowflake's materializations use a few statements it mishandles. `patched_emulator()`
works around those in the emulator (never in the models), each for a stated reason:

- TEMPORARY tables: fakesnow refuses them outside its temp catalog ("TEMPORARY table names
  can only use the temp catalog"), which breaks every incremental model's second run; they
  are created as ordinary tables.
- BEGIN / COMMIT: fakesnow's MERGE writes a helper table to its global catalog, which DuckDB
  refuses inside a transaction that already wrote elsewhere; statements run autocommitted.
- MERGE ... insert (...) values (...): fakesnow cannot resolve the unqualified source columns
  (Snowflake resolves them to the source); they are qualified.
- ALTER TABLE ... ALTER ... COMMENT $$...$$ (persist_docs on columns): a no-op.
- Masking policies (CREATE / ALTER MASKING POLICY, ALTER TABLE|VIEW ... SET MASKING POLICY;
  macros/governance/masking_policies.sql): fakesnow does not implement them
  (test_pii_snowflake.py proves it). They are no-ops, recorded in MASKING_STATEMENTS.
- DESCRIBE TABLE reports DuckDB's integer types (UBIGINT from HASH, INTEGER, HUGEINT...) where
  Snowflake has only NUMBER(38,0); dbt's unit tests cast their fixture rows to the reported
  types, and `try_cast(.. as UBIGINT)` is not Snowflake. They are reported as NUMBER(38,0).
- CREATE TABLE <name> (<columns>) AS (SELECT * FROM (<query>) ORDER BY (<clustering key>)): how
  dbt-snowflake writes a model with an enforced contract and a `cluster_by`. fakesnow expands
  the `*` by running DESCRIBE on the query before translating it to DuckDB, which fails on
  Snowflake functions (OBJECT_CONSTRUCT), and the client retries for ever. The sort only lays
  the rows out for the clustering key (the ALTER TABLE ... CLUSTER BY after it runs as
  written): the table is created from <query> unsorted.
- TO_NUMBER(<text>, 'XXXXXXXX') (hexadecimal format, macro snowflake__hash_bucket): fakesnow
  does not implement format arguments. It becomes a cast of '0x' || <text>, which DuckDB
  reads as hexadecimal: the value Snowflake documents for the format.

Run it as a script to keep a server up for dbt runs by hand:
    python -m python_tests.fakesnow_warehouse --port 8766 --profiles 400 --as-of 2025-06-01
`emulator_process()` does that for a test: the server in its own process, so that the
emulator and an in-process dbt do not take turns on one interpreter lock.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import string
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

DATABASE = "ANALYTICS"

_TEMPORARY = re.compile(r"^(\s*create\s+or\s+replace\s+)temporary\s+(?=table|view)", re.IGNORECASE)
_COLUMN_COMMENT = re.compile(r"^\s*alter\s+table\s+\S+\s+alter\s.*\bCOMMENT\s+\$\$", re.IGNORECASE | re.DOTALL)
_TRANSACTION = re.compile(r"^\s*(begin|commit)\s*;?\s*(/\*.*\*/)?\s*$", re.IGNORECASE | re.DOTALL)
_MERGE = re.compile(r"\s*merge\s+into\b", re.IGNORECASE)
_MERGE_VALUES = re.compile(r"(\bvalues\s*\()([^()]*)\)", re.IGNORECASE)
_HEX_TO_NUMBER = re.compile(r"\bto_number\(\s*(.+?)\s*,\s*'X{1,15}'\s*\)", re.IGNORECASE | re.DOTALL)
_NO_OP = "select 'Statement executed successfully.' as status"
_CONTRACT_CTAS = re.compile(r"^\s*(/\*.*?\*/\s*)?create\s+or\s+replace\s+(transient\s+)?table\s+\S+\s*\(",
                            re.IGNORECASE | re.DOTALL)
_CLUSTER_SORT = re.compile(r"(\bas\s*\(\s*)select\s+\*\s+from\s+\((.*)\)\s*order\s+by\s*\((?:[^()]|\([^()]*\))*\)"
                           r"(\s*\)(?=\s*(?:/\*.*?\*/\s*)?;))", re.IGNORECASE | re.DOTALL)
_MASKING = re.compile(r"^\s*(/\*.*?\*/\s*)?((create|alter)\s+masking\s+policy\b|"
                      r"alter\s+(table|view)\s+\S+\s+modify\s+column\s+.*\bset\s+masking\s+policy\b)", re.IGNORECASE | re.DOTALL)
_DUCKDB_INTEGERS = ("TINYINT", "SMALLINT", "INTEGER", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT",
                    "UHUGEINT")
MASKING_STATEMENTS: list[str] = []  # the masking statements the emulator was given, in order


def rewrite(sql: str) -> str:
    """The statement fakesnow is given instead of `sql` (see the module docstring)."""
    if _COLUMN_COMMENT.match(sql) or _TRANSACTION.match(sql):
        return _NO_OP
    if _MASKING.match(sql):
        MASKING_STATEMENTS.append(sql)
        return _NO_OP
    sql = _TEMPORARY.sub(r"\1", sql, count=1)
    if _CONTRACT_CTAS.match(sql):
        sql = _CLUSTER_SORT.sub(r"\1\2\3", sql, count=1)
    if _MERGE.match(sql) and "DBT_INTERNAL_SOURCE" in sql:
        def qualify(m):
            cols = re.sub(r'(?<![\w.])("[^"]+"|[A-Za-z_][A-Za-z0-9_$]*)', r"DBT_INTERNAL_SOURCE.\1", m.group(2))
            return m.group(1) + cols + ")"
        sql = _MERGE_VALUES.sub(qualify, sql)
    return _HEX_TO_NUMBER.sub(r"cast('0x' || (\1) as bigint)", sql)


@contextlib.contextmanager
def patched_emulator() -> Iterator[None]:
    """fakesnow's cursor and info schema with the work-arounds, restored on exit (other tests
    use fakesnow unpatched)."""
    import fakesnow.cursor as fs_cursor
    import fakesnow.info_schema as fs_info_schema
    import fakesnow.transforms.transforms as fs_transforms

    original_comment = fs_info_schema.insert_table_comment_sql
    original_execute = fs_cursor.FakeSnowflakeCursor.execute
    original_describe = fs_transforms.SQL_DESCRIBE_TABLE
    number = "CASE WHEN data_type = 'NUMBER'"
    assert number in original_describe.template, "fakesnow's DESCRIBE TABLE changed: revisit the work-around"
    integers = ", ".join(f"'{t}'" for t in _DUCKDB_INTEGERS)
    described = string.Template(original_describe.template.replace(
        number, f"CASE WHEN data_type IN ({integers}) THEN 'NUMBER(38,0)' WHEN data_type = 'NUMBER'"))

    def insert_table_comment_sql(catalog, schema, table, comment):
        # A table comment with a quote in it breaks fakesnow's own insert of the comment.
        escaped = comment.replace("'", "''") if isinstance(comment, str) else comment
        return original_comment(catalog, schema, table, escaped)

    def execute(self, command, *args, **kwargs):
        return original_execute(self, rewrite(command) if isinstance(command, str) else command, *args, **kwargs)

    fs_info_schema.insert_table_comment_sql = insert_table_comment_sql
    fs_cursor.FakeSnowflakeCursor.execute = execute
    fs_transforms.SQL_DESCRIBE_TABLE = described
    try:
        yield
    finally:
        fs_info_schema.insert_table_comment_sql = original_comment
        fs_cursor.FakeSnowflakeCursor.execute = original_execute
        fs_transforms.SQL_DESCRIBE_TABLE = original_describe


def _raw_table_ddl(project_dir: Path) -> list[str]:
    from orchestration.lib.raw_tables import raw_tables

    statements, schemas = [], set()
    for tables in raw_tables(project_dir).values():
        for table in tables.values():
            if table.schema not in schemas:
                schemas.add(table.schema)
                statements.append(f"create schema if not exists {DATABASE}.{table.schema}")
            columns = ", ".join(f'"{c.upper()}" {t}' for c, t in table.columns)
            statements.append(f"create or replace table {DATABASE}.{table.schema}.{table.name} ({columns})")
    return statements


def load_simulation(project_dir: Path, seed: int, profiles: int, as_of: str) -> dict[tuple[str, str], int]:
    """Create the raw tables through the emulator and land one historical sync of the
    simulator in them (the rows `cdp generate` lands in DuckDB for the same seed, size and
    date). Rows go straight into the emulator's DuckDB: inserting them through the
    Snowflake connector takes minutes."""
    import fakesnow.server as fs_server
    import pyarrow as pa

    from orchestration.simulator.config import SimulationConfig
    from orchestration.simulator.connectors.base import Window
    from orchestration.simulator.generate import generate_window

    connection = fs_server.shared_fs.connect(DATABASE, "PUBLIC")
    cursor = connection.cursor()
    cursor.execute(f"create database if not exists {DATABASE}")
    for statement in _raw_table_ddl(project_dir):
        cursor.execute(statement)
    duck = fs_server.shared_fs.duck_conn.cursor()
    counts: dict[tuple[str, str], int] = {}

    def sink(source: str, table: str, arrow: pa.Table) -> None:
        if source.startswith("_"):  # the simulator's ground truth: not a raw table
            return
        duck.register("landing", arrow)
        duck.execute(f"insert into {DATABASE}.{source}.{table} by name select * from landing")
        duck.unregister("landing")
        counts[(source, table)] = counts.get((source, table), 0) + arrow.num_rows

    cfg = SimulationConfig.create(seed=seed, profiles=profiles, as_of=as_of)
    generate_window(cfg, Window(lo=-1, hi=cfg.as_of, seed=cfg.seed), sink, truth=False)
    return counts


@contextlib.contextmanager
def emulator(project_dir: Path, seed: int, profiles: int, as_of: str, port: int | None = None) -> Iterator[dict]:
    """A fakesnow server (in a thread of this process) holding the simulated raw tables.
    Yields the environment the profile's snowflake target reads (SNOWFLAKE_*)."""
    import fakesnow

    with patched_emulator(), fakesnow.server(port=port) as kwargs:
        load_simulation(project_dir, seed, profiles, as_of)
        yield {
            "SNOWFLAKE_ACCOUNT": "fake", "SNOWFLAKE_USER": "fake", "SNOWFLAKE_PASSWORD": "fake",
            "SNOWFLAKE_DATABASE": DATABASE, "SNOWFLAKE_SCHEMA": "PUBLIC", "SNOWFLAKE_ROLE": "X",
            "SNOWFLAKE_WAREHOUSE": "X", "SNOWFLAKE_HOST": kwargs["host"], "SNOWFLAKE_PORT": str(kwargs["port"]),
            "SNOWFLAKE_PROTOCOL": "http",
        }


@contextlib.contextmanager
def emulator_process(work_dir: Path, seed: int, profiles: int, as_of: str, timeout: float = 300) -> Iterator[dict]:
    """`emulator()` in a child process (this module run as a script, on a free port); yields the
    same SNOWFLAKE_* environment once the raw tables are landed. The child's log (fakesnow logs
    each statement it refuses) is work_dir/emulator.log; the child is stopped on exit."""
    ready, log_path = work_dir / "emulator_ready.json", work_dir / "emulator.log"
    ready.unlink(missing_ok=True)
    path = os.pathsep.join(p for p in (str(Path(__file__).resolve().parent.parent), os.environ.get("PYTHONPATH")) if p)
    with open(log_path, "w") as log:
        child = subprocess.Popen(
            [sys.executable, "-m", "python_tests.fakesnow_warehouse", "--port", "0", "--seed", str(seed),
             "--profiles", str(profiles), "--as-of", as_of, "--ready-file", str(ready)],
            stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONPATH": path})
    try:
        deadline = time.monotonic() + timeout
        while not ready.exists():
            if child.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the Snowflake emulator did not start (exit code {child.poll()}); its log, "
                                   f"{log_path}, ends:\n{log_path.read_text()[-3000:]}")
            time.sleep(0.2)
        yield json.loads(ready.read_text())
    finally:
        child.terminate()
        try:
            child.wait(timeout=10)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8766, help="0: any free port")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--profiles", type=int, default=400)
    parser.add_argument("--as-of", default="2025-06-01")
    parser.add_argument("--ready-file", type=Path, help="write the SNOWFLAKE_* environment here (JSON) when ready")
    args = parser.parse_args()
    from orchestration.settings import PROJECT_DIR

    started = time.monotonic()
    with emulator(PROJECT_DIR, args.seed, args.profiles, args.as_of, args.port or None) as env:
        print(f"ready in {time.monotonic() - started:.1f} s:", " ".join(f"{k}={v}" for k, v in env.items()), flush=True)
        if args.ready_file:
            partial = args.ready_file.with_suffix(".partial")
            partial.write_text(json.dumps(env))
            partial.replace(args.ready_file)  # whole or absent: the parent polls for it
        while True:
            time.sleep(3600)


if __name__ == "__main__":
    main()
