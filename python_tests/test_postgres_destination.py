"""The postgres destination against a real PostgreSQL server (python_tests/postgres_server.py):
each operation's semantics, replays, a batch with one bad row bisected by the engine down to
that row, mirror removing rows until the table equals the source, a no-change re-run that
sends nothing, and the failures that are retries or configuration mistakes.

The source is a tiny DuckDB warehouse made here (one table and a one-node manifest), so these
tests do not wait for the session's dbt build."""

from __future__ import annotations

import threading

import duckdb
import psycopg
import pytest

from orchestration.exports import engine
from orchestration.exports.config import parse_sync
from orchestration.exports.destinations import registry
from orchestration.exports.destinations.base import (BatchRejected, ConfigurationError, Operation,
                                                     TransientError)
from orchestration.exports.destinations.postgres import PostgresDestination
from python_tests.postgres_server import PostgresServer

CUSTOMERS = 40
MANIFEST = {"nodes": {"model.cdp.customers": {"resource_type": "model", "name": "customers", "package_name": "cdp",
                                              "schema": "marts", "alias": "customers"}}, "exposures": {}}
FIELDS = {"email": "email", "tier": "tier", "lifetime_value": "lifetime_value"}


@pytest.fixture(scope="module")
def server():
    with PostgresServer() as running:
        yield running


@pytest.fixture
def pg(server):
    """Run a query on the test database; returns the rows (or nothing for a statement)."""
    con = psycopg.connect(server.dsn(), autocommit=True)

    def run(query, params=None):
        cursor = con.execute(query, params)
        return cursor.fetchall() if cursor.description else None

    yield run
    con.close()


@pytest.fixture
def warehouse(tmp_path):
    path = tmp_path / "warehouse.duckdb"
    con = duckdb.connect(str(path))
    con.execute("create schema marts")
    con.execute(f"""create table marts.customers as
                    select
                        i as customer_id,
                        'customer' || i || '@example.com' as email,
                        case when i % 5 = 0 then null when i % 2 = 0 then 'gold' else 'silver' end as tier,
                        round(i * 10.25, 2) as lifetime_value
                    from range(1, {CUSTOMERS + 1}) as t(i)""")
    con.execute("update marts.customers set tier = 'O''Brien \"quoted\" ünicode' where customer_id = 3")
    con.close()
    return path


def source(path, sql, params=None):
    con = duckdb.connect(str(path))
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


def sync(server, table, mode="upsert", name=None, **destination):
    return parse_sync({"name": name or f"customers_to_{table}", "source": {"model": "customers"},
                       "purpose": "analytics",
                       "destination": {"type": "postgres", "dsn": server.dsn(), "schema": "crm", "table": table,
                                       **destination},
                       "mode": mode, "primary_key": "customer_id", "fields": FIELDS}, "test.yml")


def run(spec, path, **options):
    """One engine run through the registry's client; returns the result and the size of every batch sent."""
    destination = registry.create(spec)
    batches = []
    send = destination.send

    def counting(batch):
        batches.append(len(batch))
        return send(batch)

    destination.send = counting
    return engine.run_sync(spec, path, MANIFEST, destination=destination, sleep=lambda s: None, **options), batches


def table(pg, name, key="customer_id"):
    return {row[0]: row[1:] for row in pg(f'select {key}, email, tier, lifetime_value from crm."{name}"')}


def source_rows(path):
    return {str(k): (e, t, v) for k, e, t, v in source(path, "select * from marts.customers")}


def same(destination: dict, wanted: dict) -> bool:
    """Text columns against the source's values (numbers compared as numbers)."""
    return destination.keys() == wanted.keys() and all(
        destination[k][:2] == wanted[k][:2] and float(destination[k][2]) == wanted[k][2] for k in wanted)


def ops(kind, *rows):
    return [Operation(kind, key, payload, idem) for key, payload, idem in rows]


def test_each_operation_against_the_table(server, pg):
    client = PostgresDestination.from_config({"dsn": server.dsn(), "schema": "crm", "table": "semantics"}, "s",
                                             default_key_column="id", fields=("email", "score"))
    try:
        a, b = {"email": "a@example.com", "score": 1}, {"email": "b@example.com", "score": None}
        results = client.send(ops("upsert", ("1", a, "k1"), ("2", b, "k2")))
        assert all(r.ok for r in results)
        assert pg("select id, email, score, _cdp_idempotency_key from crm.semantics order by id") == [
            ("1", "a@example.com", "1", "k1"), ("2", "b@example.com", None, "k2")]
        # Upsert again: the row changes in place, with the new operation's key.
        assert client.send(ops("upsert", ("1", {"email": "a2@example.com", "score": 2.5}, "k3")))[0].ok
        assert pg("select email, score, _cdp_idempotency_key from crm.semantics where id = '1'") == [
            ("a2@example.com", "2.5", "k3")]

        # Insert: a replay of the same operation is done without a second row; another write's key is not overwritten.
        inserted = client.send(ops("insert", ("3", {"email": "c@example.com", "score": True}, "k4")))
        replayed = client.send(ops("insert", ("3", {"email": "c@example.com", "score": True}, "k4"),
                                   ("1", {"email": "clobber@example.com", "score": 0}, "k5")))
        assert inserted[0].ok and replayed[0].ok
        assert (replayed[1].ok, replayed[1].error, replayed[1].retryable) == (
            False, "already in destination (insert does not overwrite)", False)
        assert pg("select count(*), min(score) from crm.semantics where id = '3'") == [(1, "true")]
        assert pg("select email from crm.semantics where id = '1'") == [("a2@example.com",)]

        # Update: a key not there fails alone, not retried; the rest of the batch is applied.
        updated = client.send(ops("update", ("2", {"email": "b2@example.com", "score": 7}, "k6"),
                                  ("404", {"email": "x@example.com", "score": 0}, "k7")))
        assert [(r.key, r.ok, r.error, r.retryable) for r in updated] == [
            ("2", True, None, False), ("404", False, "not in destination", False)]
        assert pg("select email, _cdp_idempotency_key from crm.semantics where id = '2'") == [("b2@example.com", "k6")]
        assert pg("select count(*) from crm.semantics where id = '404'") == [(0,)]

        # Delete: a key already gone is fine (a replay).
        assert all(r.ok for r in client.send(ops("delete", ("2", {}, "k8"), ("404", {}, "k9"))))
        assert pg("select id from crm.semantics order by id") == [("1",), ("3",)]
        # A field added to the sync later gets a column (create_table).
        assert client.send(ops("upsert", ("4", {"email": "d@example.com", "score": 1, "city": "Lyon"}, "k10")))[0].ok
        assert pg("select city from crm.semantics where id = '4'") == [("Lyon",)]
        assert pg("select count(*) from crm.semantics where _cdp_updated_at is null") == [(0,)]
    finally:
        client.close()


def test_a_batch_is_all_or_nothing_and_a_bad_value_rejects_it(server, pg):
    pg("""create table crm_typed (id integer primary key, email varchar(20) not null, score numeric,
                                  _cdp_idempotency_key text not null,
                                  _cdp_updated_at timestamptz not null default now())""")
    client = PostgresDestination.from_config({"dsn": server.dsn(), "table": "crm_typed", "key_column": "id",
                                              "create_table": False}, "s", fields=("email", "score"))
    try:
        good = ("1", {"email": "a@example.com", "score": 1.5}, "k1")
        # Values are cast to the column types by the server: an integer key and a numeric score.
        assert client.send(ops("upsert", good))[0].ok
        for bad, says in [({"email": "far-too-long@example.com", "score": 1}, "value too long"),
                          ({"email": None, "score": 1}, "not-null constraint"),
                          ({"email": "b@example.com", "score": "lots"}, "invalid input syntax for type numeric")]:
            with pytest.raises(BatchRejected, match=says) as rejected:
                client.send(ops("upsert", ("2", {"email": "ok@example.com", "score": 2}, "k2"), ("3", bad, "k3")))
            assert "example.com" not in str(rejected.value)  # the row's values stay out of the message
            assert pg("select id from crm_typed order by id") == [(1,)]  # nothing of the batch was written
        with pytest.raises(ConfigurationError, match="no column.*city"):
            client.send(ops("upsert", ("4", {"email": "a@example.com", "score": 1, "city": "Lyon"}, "k4")))
    finally:
        client.close()


def test_one_bad_row_fails_alone_through_the_engine(server, pg, warehouse):
    spec = sync(server, "bisected", batch_size=8)
    first, batches = run(spec, warehouse)
    assert (first.status, first.sent) == ("succeeded", CUSTOMERS) and max(batches) == 8
    # The table's owner adds a rule; one row of the next run breaks it.
    pg("""alter table crm.bisected add constraint email_has_an_at check (email like '%@%')""")
    source(warehouse, "update marts.customers set email = 'broken-' || customer_id where customer_id = 13")
    source(warehouse, "update marts.customers set tier = 'platinum' where customer_id between 9 and 16")
    second, batches = run(spec, warehouse)
    assert (second.status, second.sent, second.failed) == ("partial", 7, 1)
    assert batches[0] == 8 and len(batches) > 1  # rejected whole, then bisected down to the row
    assert 'email_has_an_at' in second.message
    held = table(pg, "bisected")
    assert held["13"][:2] == ("customer13@example.com", "silver")  # the bad row: untouched
    assert all(held[str(i)][1] == "platinum" for i in range(9, 17) if i != 13)

    # Fixed at the source: the next run sends that row only.
    source(warehouse, "update marts.customers set email = 'customer13@example.org' where customer_id = 13")
    third, batches = run(spec, warehouse)
    assert (third.status, third.plan.changes, batches) == ("succeeded", 1, [1])
    assert same(table(pg, "bisected"), source_rows(warehouse))


def test_mirror_keeps_the_table_equal_to_the_source_and_a_rerun_sends_nothing(server, pg, warehouse, monkeypatch):
    monkeypatch.setenv("TEST_POSTGRES_DSN", server.dsn())  # the credential as a sync file writes it
    spec = sync(server, "mirrored", mode="mirror", batch_size=16, dsn="${TEST_POSTGRES_DSN}")
    first, _ = run(spec, warehouse)
    assert first.status == "succeeded"
    pg("insert into crm.mirrored (customer_id, email, _cdp_idempotency_key) values ('other', 'o@example.com', 'x')")
    assert same({k: v for k, v in table(pg, "mirrored").items() if k != "other"}, source_rows(warehouse))

    source(warehouse, "delete from marts.customers where customer_id in (2, 7, 21)")
    source(warehouse, "update marts.customers set email = 'new' || email, tier = null where customer_id in (4, 30)")
    source(warehouse, "insert into marts.customers values (41, 'customer41@example.com', 'gold', 1.5)")
    second, _ = run(spec, warehouse)
    assert (second.status, second.plan.adds, second.plan.changes, second.plan.removes, second.sent) == (
        "succeeded", 1, 2, 3, 6)
    held = table(pg, "mirrored")
    assert held.pop("other") == ("o@example.com", None, None)  # not this sync's row: left alone
    assert same(held, source_rows(warehouse))
    assert pg("select count(*) from crm.mirrored where customer_id in ('2', '7', '21')") == [(0,)]

    third, batches = run(spec, warehouse)
    assert (third.status, batches) == ("nothing_to_do", [])


def test_insert_and_update_modes_through_the_engine(server, pg, warehouse):
    inserts = sync(server, "appended", mode="insert")
    assert run(inserts, warehouse)[0].sent == CUSTOMERS
    source(warehouse, "update marts.customers set tier = 'changed' where customer_id = 1")
    again, batches = run(inserts, warehouse)
    assert again.status == "nothing_to_do" and batches == []  # insert mode never re-sends a changed row

    updates = sync(server, "appended", mode="update", name="customer_updates")  # its own delivered state
    pg("delete from crm.appended where customer_id in ('5', '6')")
    result, _ = run(updates, warehouse)
    assert (result.status, result.failed, result.sent) == ("partial", 2, CUSTOMERS - 2)
    assert "2 x not in destination" in result.message
    assert pg("select tier from crm.appended where customer_id = '1'") == [("changed",)]


def test_connection_trouble_is_a_retry_and_the_next_batch_reconnects(server, pg):
    client = PostgresDestination.from_config({"dsn": server.dsn(), "table": "flaky", "timeout_seconds": 1}, "s",
                                             default_key_column="id", fields=("email",))
    try:
        assert client.send(ops("upsert", ("1", {"email": "a@example.com"}, "k1")))[0].ok
        # The server drops the connection (a restart, a failover): retry, then a new connection.
        pg("select pg_terminate_backend(pid) from pg_stat_activity where application_name = 'cdp-sync-s'")
        with pytest.raises(TransientError):
            client.send(ops("upsert", ("2", {"email": "b@example.com"}, "k2")))
        assert client.send(ops("upsert", ("2", {"email": "b@example.com"}, "k2")))[0].ok

        # A lock held past timeout_seconds: the statement is cancelled and the batch retried.
        holder = psycopg.connect(server.dsn())
        holder.execute("lock table public.flaky in access exclusive mode")
        try:
            with pytest.raises(TransientError, match="statement timeout"):
                client.send(ops("upsert", ("3", {"email": "c@example.com"}, "k3")))
        finally:
            holder.rollback()
            holder.close()
        assert client.send(ops("upsert", ("3", {"email": "c@example.com"}, "k3")))[0].ok
    finally:
        client.close()


def test_a_deadlock_is_a_retry(server, pg):
    pg("create table public.contended (id text primary key, email text, _cdp_idempotency_key text not null, "
       "_cdp_updated_at timestamptz not null default now())")
    pg("insert into public.contended values ('1', 'a', 'k0'), ('2', 'b', 'k0')")
    client = PostgresDestination.from_config({"dsn": server.dsn(), "table": "contended", "create_table": False},
                                             "s", default_key_column="id", fields=("email",))
    other = psycopg.connect(server.dsn())
    batch = ops("update", ("1", {"email": "c"}, "k1"), ("2", {"email": "d"}, "k2"))
    try:
        # The other session holds row 2; the batch takes row 1 and waits for row 2; then the other
        # session asks for row 1. The batch's session waited first, so it finds the deadlock
        # (deadlock_timeout, 1 s) and is the one rolled back.
        other.execute("set deadlock_timeout = '10s'")
        other.execute("update public.contended set email = 'x' where id = '2'")
        crossing = threading.Timer(0.3, lambda: other.execute("update public.contended set email = 'y' where id = '1'"))
        crossing.start()
        with pytest.raises(TransientError, match="deadlock detected"):
            client.send(batch)
        crossing.join()
        other.rollback()
        assert [r.ok for r in client.send(batch)] == [True, True]
        assert pg("select email from public.contended order by id") == [("c",), ("d",)]
    finally:
        other.close()
        client.close()


def test_settings_and_database_refusals_are_configuration_errors(server, pg):
    base = {"dsn": server.dsn(), "table": "t", "key_column": "id"}
    for settings, says in [({**base, "tabel": "t"}, "no setting tabel"),
                           ({"table": "t", "key_column": "id"}, "needs 'dsn'"),
                           ({**base, "dsn": "host=x password=secret port"}, "not a valid connection string"),
                           ({k: v for k, v in base.items() if k != "key_column"}, "needs 'key_column'"),
                           ({**base, "create_table": "yes"}, "create_table is true or false"),
                           ({**base, "batch_size": 0}, "batch_size"),
                           ({**base, "port": "fifty"}, "port is a number")]:
        with pytest.raises(ConfigurationError, match=says) as refused:
            PostgresDestination.from_config(settings, "s")
        assert "secret" not in str(refused.value)
    with pytest.raises(ConfigurationError, match="_cdp_updated_at is the postgres destination's own column"):
        PostgresDestination.from_config(base, "s", fields=("_cdp_updated_at",))

    batch = ops("upsert", ("1", {"email": "a@example.com"}, "k1"))
    for settings, says in [({**base, "create_table": False, "table": "nowhere"}, "does not exist"),
                           ({**base, "dsn": server.dsn("no_such_db")}, "refused the connection"),
                           ({**base, "key_column": "email"}, None)]:
        client = PostgresDestination.from_config(settings, "s", fields=("email",))
        try:
            if says is None:  # the key column collides with a field: the field is the key
                assert client.send(batch)[0].ok
                continue
            with pytest.raises(ConfigurationError, match=says):
                client.send(batch)
        finally:
            client.close()
    pg("create table public.no_key (id text, email text, _cdp_idempotency_key text not null, "
       "_cdp_updated_at timestamptz)")
    client = PostgresDestination.from_config({**base, "table": "no_key", "create_table": False}, "s",
                                             fields=("email",))
    try:
        with pytest.raises(ConfigurationError, match="no unique or exclusion constraint"):
            client.send(batch)
    finally:
        client.close()
    closed = PostgresDestination.from_config({**base, "dsn": "host=127.0.0.1 port=1 dbname=x user=x"}, "s")
    with pytest.raises(TransientError, match="cannot connect"):
        closed.send(batch)
