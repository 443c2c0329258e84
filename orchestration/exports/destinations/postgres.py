"""A PostgreSQL table, kept in step with the sync's rows.

    destination: {type: postgres, dsn: "${CDP_POSTGRES_DSN}", schema: crm, table: vip_customers}

Connection: `dsn` (a libpq connection string or URI) and/or `host`, `port`, `dbname`, `user`,
`password`, `sslmode` (these override the dsn's). `key_column` is the column holding the
record's key (default: the sync's primary_key); `create_table` (default true) creates the
schema and the table if missing, with the key as primary key and a text column per field, and
adds a text column for a field added to the sync later. With `create_table: false` the table
must already have the key column (unique), a column per field, and the two columns below.

Every row also carries `_cdp_idempotency_key` (the operation that last wrote it) and
`_cdp_updated_at` (when), so a replay after a crash is visible in the table itself.

Operations: upsert is INSERT .. ON CONFLICT (key) DO UPDATE; insert is INSERT .. ON CONFLICT
DO NOTHING (a replay of the same operation succeeds without a second row; a key already there
from another write fails 'already in destination'); update is UPDATE .. WHERE key (a key not
there fails 'not in destination', not retried); delete is DELETE .. WHERE key (a key already
gone is fine). Values are sent as text of unknown type, so PostgreSQL casts each to its
column's type (an existing table may have typed columns).

A batch is one transaction: all of it or nothing. A data error (a value too long or of the
wrong type, a NOT NULL, CHECK or foreign key violation) raises BatchRejected and the engine
bisects down to the row that fails alone; lost connections, serialization failures, deadlocks,
timeouts and a server shutting down raise TransientError; a missing table, column or privilege,
or refused credentials, raise ConfigurationError.
"""

from __future__ import annotations

import json
from typing import Any, ClassVar

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from orchestration.exports.destinations.base import (BatchRejected, ConfigurationError, Operation, RowResult,
                                                     TransientError, required)

IDEMPOTENCY_COLUMN = "_cdp_idempotency_key"
UPDATED_AT_COLUMN = "_cdp_updated_at"
CONNECTION_SETTINGS = ("host", "port", "dbname", "user", "password", "sslmode")
SETTINGS = {"dsn", *CONNECTION_SETTINGS, "schema", "table", "key_column", "create_table", "batch_size",
            "timeout_seconds"}
# SQLSTATE classes (https://www.postgresql.org/docs/current/errcodes-appendix.html).
DATA_ERRORS = ("22", "23")                   # data exception, integrity constraint violation
CONFIGURATION_ERRORS = ("28", "3D", "3F", "42")  # credentials, database, schema, undefined object/privilege
# Connection-time failures carry no SQLSTATE; these words in libpq's message mean retrying cannot help.
REFUSED_CONNECTION = ("password authentication failed", "no pg_hba.conf entry", "does not exist",
                      "permission denied")


def _text(value: Any) -> str | None:
    """A payload value as the text PostgreSQL casts to the column's type."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


def _describe(error: psycopg.Error) -> str:
    # message_primary names the column or constraint; the detail ("Failing row contains ...")
    # carries the row's values, which stay out of the sync log.
    primary = error.diag.message_primary or (str(error).strip().splitlines() or [error.__class__.__name__])[-1]
    return f"{primary} (SQLSTATE {error.sqlstate})" if error.sqlstate else primary


class PostgresDestination:
    kind: ClassVar[str] = "postgres"
    bulk: ClassVar[bool] = False
    max_batch_rows: int = 1000
    max_batch_bytes: int | None = 8_000_000
    supported_operations: ClassVar[tuple[str, ...]] = ("upsert", "insert", "update", "delete")

    def __init__(self, conninfo: str, schema: str, table: str, key_column: str, sync_name: str,
                 fields: tuple[str, ...] = (), create_table: bool = True, batch_size: int = 1000,
                 timeout_seconds: float = 30.0):
        self.conninfo, self.sync_name = conninfo, sync_name
        self.schema, self.table, self.key_column = schema, table, key_column
        self.create_table, self.timeout_seconds = create_table, timeout_seconds
        self.max_batch_rows = batch_size
        self.fields = tuple(f for f in fields if f != key_column)  # the key is written from the row's key
        self.relation = sql.Identifier(schema, table)
        self.connection: psycopg.Connection | None = None
        self.columns: set[str] = set()   # the table's columns, once checked

    @classmethod
    def from_sync(cls, settings: dict, spec) -> PostgresDestination:
        """Built from the whole declaration: the key column defaults to its primary key, and the
        table is created with a column per field before the first row arrives."""
        return cls.from_config(settings, spec.name, default_key_column=spec.primary_key, fields=tuple(spec.fields))

    @classmethod
    def from_config(cls, spec: dict, sync_name: str, default_key_column: str | None = None,
                    fields: tuple[str, ...] = ()) -> PostgresDestination:
        unknown = sorted(set(spec) - SETTINGS)
        if unknown:
            raise ConfigurationError(f"sync '{sync_name}': destination postgres has no setting "
                                     f"{', '.join(unknown)}; settings: {', '.join(sorted(SETTINGS))}")
        if not any(spec.get(k) for k in ("dsn", "host", "dbname")):
            raise ConfigurationError(f"sync '{sync_name}': destination postgres needs 'dsn' (e.g. dsn: "
                                     f"\"${{CDP_POSTGRES_DSN}}\") or 'host' and 'dbname'")
        try:
            given = conninfo_to_dict(spec.get("dsn") or "")  # its error would quote the dsn, password and all
        except psycopg.ProgrammingError:
            raise ConfigurationError(f"sync '{sync_name}': destination postgres dsn is not a valid connection "
                                     f"string (key=value pairs or postgresql://user@host/dbname)") from None
        port = spec.get("port")
        if port is not None and not str(port).isdigit():
            raise ConfigurationError(f"sync '{sync_name}': destination postgres port is a number, got {port!r}")
        timeout = spec.get("timeout_seconds", 30)
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0:
            raise ConfigurationError(f"sync '{sync_name}': destination postgres timeout_seconds is a positive "
                                     f"number of seconds")
        overrides = {k: str(spec[k]) for k in CONNECTION_SETTINGS if spec.get(k) not in (None, "")}
        if "timeout_seconds" in spec or "connect_timeout" not in given:
            overrides["connect_timeout"] = str(max(1, round(timeout)))
        conninfo = make_conninfo(spec.get("dsn") or "", application_name=f"cdp-sync-{sync_name}"[:63], **overrides)
        names = {}
        for setting, default in (("schema", "public"), ("table", None), ("key_column", default_key_column)):
            value = spec.get(setting, default) if default else required(spec, setting, sync_name, "postgres",
                                                                         "vip_customers" if setting == "table"
                                                                         else "profile_id")
            if not isinstance(value, str) or not value or len(value.encode()) > 63:
                raise ConfigurationError(f"sync '{sync_name}': destination postgres {setting} is a name of at "
                                         f"most 63 bytes, got {value!r}")
            names[setting] = value
        for name in (*fields, names["key_column"]):
            if name in (IDEMPOTENCY_COLUMN, UPDATED_AT_COLUMN):
                raise ConfigurationError(f"sync '{sync_name}': {name} is the postgres destination's own column; "
                                         f"rename that field")
        create_table = spec.get("create_table", True)
        if not isinstance(create_table, bool):
            raise ConfigurationError(f"sync '{sync_name}': destination postgres create_table is true or false")
        batch_size = spec.get("batch_size", 1000)
        if not isinstance(batch_size, int) or isinstance(batch_size, bool) or not 1 <= batch_size <= 50_000:
            raise ConfigurationError(f"sync '{sync_name}': destination postgres batch_size is a whole number "
                                     f"from 1 to 50,000")
        return cls(conninfo, names["schema"], names["table"], names["key_column"], sync_name, fields,
                   create_table, batch_size, float(timeout))

    # -- connection and table ------------------------------------------------------------

    def _connect(self) -> psycopg.Connection:
        if self.connection is not None and not self.connection.closed:
            return self.connection
        try:
            connection = psycopg.connect(self.conninfo, autocommit=True)
        except psycopg.OperationalError as exc:
            message = str(exc).strip().splitlines()[-1] if str(exc).strip() else exc.__class__.__name__
            if any(words in message for words in REFUSED_CONNECTION):
                raise ConfigurationError(f"sync '{self.sync_name}': PostgreSQL refused the connection ({message}); "
                                         f"check the destination's dsn, user and password") from None
            raise TransientError(f"cannot connect to PostgreSQL: {message}") from None
        try:
            # A statement stuck behind a lock becomes a retry, not a hung run. Set here rather than
            # in the dsn's options, which may carry the user's own settings.
            try:
                connection.execute("select set_config('statement_timeout', %s, false)",
                                   [f"{int(self.timeout_seconds * 1000)}ms"])
            except psycopg.Error as exc:
                raise self._classify(exc, "connecting for") from None
            self._prepare(connection)
        except BaseException:
            connection.close()
            raise
        self.connection = connection
        return connection

    def _prepare(self, connection: psycopg.Connection) -> None:
        """Create the table (create_table) and learn its columns; a table that cannot take the
        sync's rows is a ConfigurationError before anything is written."""
        try:
            with connection.transaction():
                if self.create_table:
                    # Two syncs creating one table at once can collide on the catalog; that is a
                    # retry (23505), not a data error.
                    connection.execute(sql.SQL("create schema if not exists {}").format(sql.Identifier(self.schema)))
                    columns = [sql.SQL("{} text primary key").format(sql.Identifier(self.key_column)),
                               *(sql.SQL("{} text").format(sql.Identifier(f)) for f in self.fields),
                               sql.SQL("{} text not null").format(sql.Identifier(IDEMPOTENCY_COLUMN)),
                               sql.SQL("{} timestamptz not null default now()").format(
                                   sql.Identifier(UPDATED_AT_COLUMN))]
                    connection.execute(sql.SQL("create table if not exists {} ({})").format(
                        self.relation, sql.SQL(", ").join(columns)))
                self.columns = {row[0] for row in connection.execute(
                    "select column_name from information_schema.columns where table_schema = %s and table_name = %s",
                    [self.schema, self.table])}
        except psycopg.Error as exc:
            raise self._classify(exc, "preparing the table") from None
        if not self.columns:
            raise ConfigurationError(f"sync '{self.sync_name}': table {self.schema}.{self.table} does not exist "
                                     f"(or this user cannot see it); create it or set create_table: true")
        missing = [c for c in (self.key_column, IDEMPOTENCY_COLUMN, UPDATED_AT_COLUMN) if c not in self.columns]
        if missing:
            raise ConfigurationError(f"sync '{self.sync_name}': table {self.schema}.{self.table} has no column(s) "
                                     f"{', '.join(missing)}; add them ({IDEMPOTENCY_COLUMN} text, {UPDATED_AT_COLUMN} "
                                     f"timestamptz) or let the destination create the table")
        self._ensure_columns(connection, self.fields)

    def _ensure_columns(self, connection: psycopg.Connection, names) -> None:
        missing = [n for n in names if n not in self.columns]
        if not missing:
            return
        if not self.create_table:
            raise ConfigurationError(f"sync '{self.sync_name}': table {self.schema}.{self.table} has no column(s) "
                                     f"{', '.join(missing)} for the sync's fields; add them or set create_table: true")
        try:
            with connection.transaction():
                for name in missing:
                    connection.execute(sql.SQL("alter table {} add column if not exists {} text").format(
                        self.relation, sql.Identifier(name)))
        except psycopg.Error as exc:
            raise self._classify(exc, "adding columns") from None
        self.columns.update(missing)

    def _classify(self, exc: psycopg.Error, doing: str) -> Exception:
        """A database error as the failure the engine acts on."""
        state = exc.sqlstate or ""
        if state[:2] in DATA_ERRORS and doing == "writing":
            return BatchRejected(f"PostgreSQL refused the batch: {_describe(exc)}")
        if state[:2] in CONFIGURATION_ERRORS:  # 42P10 too: the key column has no unique constraint
            return ConfigurationError(f"sync '{self.sync_name}': {doing} {self.schema}.{self.table} failed: "
                                      f"{_describe(exc)}")
        # Serialization failures and deadlocks (40), connection loss (08, or no state), timeouts and
        # shutdowns (57), resources (53), and anything else the server may get over.
        if self.connection is not None and self.connection.broken:
            self.connection = None
        return TransientError(f"{doing} {self.schema}.{self.table}: {_describe(exc)}")

    # -- sending -------------------------------------------------------------------------

    def _columns_of(self, batch: list[Operation]) -> list[str]:
        names = list(self.fields)
        for op in batch:
            names += [k for k in op.payload if k not in names and k != self.key_column]
        return names

    def send(self, batch: list[Operation]) -> list[RowResult]:
        connection = self._connect()
        columns = self._columns_of([op for op in batch if op.op != "delete"])
        self._ensure_columns(connection, columns)
        failures: dict[str, str] = {}
        try:
            with connection.transaction(), connection.cursor() as cursor:
                for kind in ("delete", "upsert", "insert", "update"):
                    ops = [op for op in batch if op.op == kind]
                    if ops:
                        failures.update(getattr(self, f"_{kind}")(cursor, ops, columns))
        except psycopg.Error as exc:
            raise self._classify(exc, "writing") from None
        return [RowResult(op.key, op.key not in failures, failures.get(op.key)) for op in batch]

    def _row(self, op: Operation, columns: list[str]) -> list[str | None]:
        return [op.key, *(_text(op.payload.get(c)) for c in columns), op.idempotency_key]

    def _insert_sql(self, columns: list[str]) -> sql.Composed:
        names = [self.key_column, *columns, IDEMPOTENCY_COLUMN]
        return sql.SQL("insert into {} ({}) values ({})").format(
            self.relation, sql.SQL(", ").join(map(sql.Identifier, names)),
            sql.SQL(", ").join(sql.Placeholder() * len(names)))

    def _upsert(self, cursor, ops: list[Operation], columns: list[str]) -> dict[str, str]:
        assignments = sql.SQL(", ").join(
            sql.SQL("{0} = excluded.{0}").format(sql.Identifier(c)) for c in [*columns, IDEMPOTENCY_COLUMN])
        cursor.executemany(sql.SQL("{} on conflict ({}) do update set {}, {} = now()").format(
            self._insert_sql(columns), sql.Identifier(self.key_column), assignments,
            sql.Identifier(UPDATED_AT_COLUMN)), [self._row(op, columns) for op in ops])
        return {}

    def _insert(self, cursor, ops: list[Operation], columns: list[str]) -> dict[str, str]:
        key = sql.Identifier(self.key_column)
        inserted = self._returned(cursor, sql.SQL("{} on conflict ({}) do nothing returning {}::text").format(
            self._insert_sql(columns), key, key), [self._row(op, columns) for op in ops])
        skipped = [op for op in ops if op.key not in inserted]
        if not skipped:
            return {}
        # A key already there: the same operation replayed after a crash is done; anything else
        # wrote that row, and insert does not overwrite it.
        replayed = self._returned(cursor, sql.SQL("select {}::text from {} where {} = %s and {} = %s").format(
            key, self.relation, key, sql.Identifier(IDEMPOTENCY_COLUMN)),
            [[op.key, op.idempotency_key] for op in skipped])
        return {op.key: "already in destination (insert does not overwrite)" for op in skipped
                if op.key not in replayed}

    def _update(self, cursor, ops: list[Operation], columns: list[str]) -> dict[str, str]:
        key = sql.Identifier(self.key_column)
        assignments = sql.SQL(", ").join(
            sql.SQL("{} = %s").format(sql.Identifier(c)) for c in [*columns, IDEMPOTENCY_COLUMN])
        query = sql.SQL("update {} set {}, {} = now() where {} = %s returning {}::text").format(
            self.relation, assignments, sql.Identifier(UPDATED_AT_COLUMN), key, key)
        updated = self._returned(cursor, query, [[*self._row(op, columns)[1:], op.key] for op in ops])
        return {op.key: "not in destination" for op in ops if op.key not in updated}

    def _delete(self, cursor, ops: list[Operation], columns: list[str]) -> dict[str, str]:
        cursor.executemany(sql.SQL("delete from {} where {} = %s").format(self.relation,
                                                                          sql.Identifier(self.key_column)),
                           [[op.key] for op in ops])
        return {}

    @staticmethod
    def _returned(cursor, query: sql.Composable, rows: list[list]) -> set[str]:
        """The first column of what each execution returned (executemany pipelines the rows)."""
        cursor.executemany(query, rows, returning=True)
        found: set[str] = set()
        while True:
            found.update(row[0] for row in cursor.fetchall())
            if not cursor.nextset():
                return found

    def close(self) -> None:
        if self.connection is not None:
            self.connection.close()
            self.connection = None
