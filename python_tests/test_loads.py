"""Loading like Fivetran and Segment: increments with new, updated, soft-deleted and late
rows; syncs that land completely or not at all; replays that change nothing; and bad
input that is refused before anything is touched."""

from __future__ import annotations

import datetime as dt
import shutil

import duckdb
import pytest

from orchestration.lib.raw_tables import raw_tables
from orchestration.loads import sync as syncs
from orchestration.loads.warehouse import DERIVED_SCHEMAS, KEPT_SCHEMAS, META, WarehouseError, open_warehouse
from orchestration.simulator.cache import CACHE_ENV
from orchestration.simulator.generate import CONNECTORS, TRUTH_SCHEMA

from .conftest import AS_OF, INCREMENT_HOURS

AS_OF_TS = dt.datetime.fromisoformat(AS_OF)
INCREMENT_END = AS_OF_TS + dt.timedelta(hours=INCREMENT_HOURS)


def _fingerprint(path) -> dict:
    """Row count and an order-independent hash of every raw and truth table."""
    out = {}
    con = duckdb.connect(str(path), read_only=True)
    try:
        for source, tables in raw_tables().items():
            for name, spec in tables.items():
                out[(source, name)] = con.execute(
                    f"select count(*), sum(hash(t)) from {spec.qualified} as t").fetchone()
        for name in ("persons", "record_persons", "devices"):
            out[("_truth", name)] = con.execute(f"select count(*), sum(hash(t)) from _truth.{name} as t").fetchone()
    finally:
        con.close()
    return out


@pytest.fixture
def copy_of_warehouse(warehouse, tmp_path):
    path = tmp_path / "copy.duckdb"
    shutil.copy(warehouse["path"], path)
    return path


def test_every_connector_synced_twice(sql):
    ledger = sql("select connector, sync_no, window_start, window_end from _cdp_meta.connector_syncs order by 1, 2")
    assert {c for c, *_ in ledger} == set(CONNECTORS)
    for connector in CONNECTORS:
        rows = [r for r in ledger if r[0] == connector]
        assert [r[1] for r in rows] == [1, 2]
        assert rows[0][2] is None and rows[0][3] == AS_OF_TS
        assert rows[1][2] == AS_OF_TS and rows[1][3] == INCREMENT_END


def test_primary_keys_are_unique_after_merging(sql):
    for source, tables in raw_tables().items():
        for name, spec in tables.items():
            keys = ", ".join(f'"{k}"' for k in spec.primary_key)
            dupes = sql(f"select count(*) from (select {keys} from {spec.qualified} group by all having count(*) > 1)")[0][0]
            assert dupes == 0, f"{source}.{name}"


def test_increment_brings_new_updated_deleted_and_late_rows(sql):
    start = f"timestamp '{AS_OF_TS}'"
    # New rows: orders placed during the increment.
    assert sql(f"select count(*) from shopify.\"order\" where created_at > {start}")[0][0] > 0
    # Updated rows: older orders rewritten by a later sync (fulfilled or refunded since).
    assert sql(f"select count(*) from shopify.\"order\" where created_at <= {start} and _fivetran_synced > {start}")[0][0] > 0
    # History mode: versions closed by the increment.
    assert sql(f"select count(*) from stripe.subscription_history where not _fivetran_active "
               f"and _fivetran_end > {start} and _fivetran_start <= {start}")[0][0] > 0
    # Soft deletes that arrived with the increment.
    deleted = sum(sql(q)[0][0] for q in [
        f"select count(*) from shopify.customer where _fivetran_deleted and _fivetran_synced > {start}",
        f"select count(*) from klaviyo.person where _fivetran_deleted and _fivetran_synced > {start}",
        f"select count(*) from zendesk.\"user\" where _fivetran_deleted and _fivetran_synced > {start}",
        f"select count(*) from stripe.customer where is_deleted and _fivetran_synced > {start}",
        f"select count(*) from salesforce.contact where is_deleted and _fivetran_start > {start}",
        f"select count(*) from salesforce.lead where is_deleted and _fivetran_start > {start}"])
    assert deleted > 0
    # Late-arriving events: happened before the increment, received during it.
    late = sum(sql(f"select count(*) from segment.{t} where \"timestamp\" <= {start} and received_at > {start}")[0][0]
               for t in ("tracks", "pages", "screens", "identifies"))
    assert late > 0


def test_replaying_a_sync_changes_nothing(warehouse, copy_of_warehouse):
    before = _fingerprint(copy_of_warehouse)
    for connector in CONNECTORS:
        for sync_no in (1, 2):
            syncs.replay(copy_of_warehouse, connector, sync_no, report=lambda m: None)
    assert _fingerprint(copy_of_warehouse) == before


def test_a_sync_that_fails_midway_leaves_nothing_behind(copy_of_warehouse, monkeypatch):
    syncs.advance_clock(copy_of_warehouse, 24)
    before = _fingerprint(copy_of_warehouse)
    real = syncs.generate_window
    calls = {"n": 0}

    def failing(cfg, window, sink, connectors, **kw):
        def counting_sink(source, table, data):
            calls["n"] += 1
            if calls["n"] == 6:
                raise RuntimeError("connection lost")
            sink(source, table, data)
        return real(cfg, window, counting_sink, connectors, **kw)

    monkeypatch.setattr(syncs, "generate_window", failing)
    with pytest.raises(RuntimeError, match="connection lost"):
        syncs.sync(copy_of_warehouse, report=lambda m: None)
    assert _fingerprint(copy_of_warehouse) == before
    with open_warehouse(copy_of_warehouse) as wh:
        assert wh.last_sync("shopify")[0] == 2
    monkeypatch.setattr(syncs, "generate_window", real)
    result = syncs.sync(copy_of_warehouse, report=lambda m: None)
    assert set(result.windows) == set(CONNECTORS)
    with open_warehouse(copy_of_warehouse) as wh:
        assert wh.last_sync("shopify")[0] == 3


def test_a_historical_sync_that_fails_can_be_resumed(tmp_path, monkeypatch):
    path = tmp_path / "fresh.duckdb"
    real = syncs.generate_window

    def failing(cfg, window, sink, connectors, **kw):
        raise RuntimeError("disk full")

    monkeypatch.setattr(syncs, "generate_window", failing)
    with pytest.raises(RuntimeError):
        syncs.start_simulation(path, 1, 200, "2026-01-15", report=lambda m: None)
    monkeypatch.setattr(syncs, "generate_window", real)
    with open_warehouse(path) as wh:
        assert wh.table_counts(["shopify"])[("shopify", "customer")] == 0
    syncs.start_simulation(path, 1, 200, "2026-01-15", report=lambda m: None)
    with open_warehouse(path) as wh:
        assert wh.table_counts(["shopify"])[("shopify", "customer")] > 0


def test_bad_input_is_refused_before_anything_changes(copy_of_warehouse, tmp_path):
    before = _fingerprint(copy_of_warehouse)
    with pytest.raises(ValueError, match="--profiles must be a positive"):
        syncs.start_simulation(copy_of_warehouse, 1, -5, None, reset=True, report=lambda m: None)
    with pytest.raises(ValueError, match="--as-of must be a date"):
        syncs.start_simulation(copy_of_warehouse, 1, 100, "yesterday", reset=True, report=lambda m: None)
    with pytest.raises(WarehouseError, match="already holds a different simulation"):
        syncs.start_simulation(copy_of_warehouse, 99, 100, None, report=lambda m: None)
    with pytest.raises(WarehouseError, match="already holds this simulation"):
        syncs.start_simulation(copy_of_warehouse, 7, 3_000, AS_OF, report=lambda m: None)
    with pytest.raises(ValueError, match="hours must be a positive"):
        syncs.advance(copy_of_warehouse, -3, report=lambda m: None)
    assert _fingerprint(copy_of_warehouse) == before
    # A warehouse holding raw schemas the simulator did not write is never touched.
    foreign = tmp_path / "foreign.duckdb"
    con = duckdb.connect(str(foreign))
    con.execute("create schema shopify; create table shopify.customer (id bigint); insert into shopify.customer values (1)")
    con.close()
    with pytest.raises(WarehouseError, match="did not write"):
        syncs.start_simulation(foreign, 1, 100, None, report=lambda m: None)
    con = duckdb.connect(str(foreign), read_only=True)
    assert con.execute("select count(*) from shopify.customer").fetchone()[0] == 1
    con.close()
    # A directory, and a file that is not a DuckDB database.
    with pytest.raises(WarehouseError, match="is a directory"):
        syncs.start_simulation(tmp_path, 1, 100, None, report=lambda m: None)
    junk = tmp_path / "notes.duckdb"
    junk.write_text("not a database")
    with pytest.raises(WarehouseError, match="cannot open warehouse"):
        syncs.start_simulation(junk, 1, 100, None, report=lambda m: None)
    assert junk.read_text() == "not a database"


SYNC_STAMPS = {"_fivetran_synced", "uuid_ts"}


def _contents(path) -> dict:
    """Every raw and truth table's rows, without the sync stamps (which say *when* a row
    was written, not what it holds)."""
    out = {}
    con = duckdb.connect(str(path), read_only=True)
    try:
        for source, tables in raw_tables().items():
            for name, spec in tables.items():
                cols = ", ".join(f'"{c}"' for c in spec.column_names if c not in SYNC_STAMPS)
                out[(source, name)] = con.execute(f"select {cols} from {spec.qualified} order by all").fetchall()
        for name in ("persons", "record_persons", "devices"):
            out[("_truth", name)] = con.execute(f"select * from _truth.{name} order by all").fetchall()
    finally:
        con.close()
    return out


def test_many_small_syncs_land_what_one_big_sync_lands(tmp_path):
    """Syncing every few minutes (shorter than any jitter) ends in exactly the state one
    historical sync up to the same clock lands: updates, history versions and late events
    included, nothing lost or rolled back."""
    steps = [0.1, 0.1, 0.05, 6, 24 * 20, 0.2]
    small = tmp_path / "small.duckdb"
    syncs.start_simulation(small, 4, 600, "2026-01-10", report=lambda m: None)
    for hours in steps:
        syncs.advance(small, hours, report=lambda m: None)
    big = tmp_path / "big.duckdb"
    syncs.start_simulation(big, 4, 600, "2026-01-10", report=lambda m: None, run_syncs=False)
    syncs.advance_clock(big, sum(steps))
    syncs.sync(big, report=lambda m: None)
    a, b = _contents(small), _contents(big)
    assert a.keys() == b.keys()
    for key in a:
        assert a[key] == b[key], key


def test_syncs_from_cached_worlds_land_what_syncs_without_them_land(tmp_path, monkeypatch):
    """The simulated people's worlds kept between syncs (orchestration/simulator/cache.py) make
    an hourly sync fast and change nothing it lands: syncs that read them, one that finds an
    entry damaged and one past the cached horizon land, row for row and stamp for stamp, what
    syncs that build every world afresh land."""
    steps = [1, 0.5, 2, 24 * 9]
    cached, plain = tmp_path / "cached.duckdb", tmp_path / "plain.duckdb"
    folder = tmp_path / "cached.duckdb.simcache"
    messages: list[str] = []
    monkeypatch.delenv(CACHE_ENV, raising=False)
    syncs.start_simulation(cached, 4, 600, "2026-01-10", report=messages.append)
    stale = folder / "seed1-people9-asof0-0123456789abcdef"  # another simulation's worlds
    stale.mkdir()
    for n, hours in enumerate(steps):
        if n == 2:  # a damaged entry is built again, not trusted
            damaged = sorted(folder.glob("*/chunk-0-0-*.pkl"))[0]
            damaged.write_bytes(b"not a pickle")
        syncs.advance(cached, hours, report=messages.append)
    monkeypatch.setenv(CACHE_ENV, "off")
    syncs.start_simulation(plain, 4, 600, "2026-01-10", report=lambda m: None)
    for hours in steps:
        syncs.advance(plain, hours, report=lambda m: None)
    assert not (tmp_path / "plain.duckdb.simcache").exists()
    assert _fingerprint(cached) == _fingerprint(plain)
    assert not stale.exists()
    worlds = [m.split("chunk worlds: ")[1] for m in messages if "chunk worlds: " in m]
    assert worlds == [
        "0 from the cache, 1 built",  # the historical sync keeps the existing people's world
        "1 from the cache, 1 built",  # the first newcomers arrive
        "2 from the cache, 0 built",
        "1 from the cache, 1 built",  # the damaged entry
        "0 from the cache, 2 built",  # past the horizon a week ahead
    ], messages


@pytest.mark.parametrize("profiles", [1, 10, 40])
def test_tiny_simulations_survive_months_of_increments(tmp_path, profiles):
    path = tmp_path / "tiny.duckdb"
    syncs.start_simulation(path, 9, profiles, "2026-01-10", report=lambda m: None)
    for hours in (24, 24 * 30, 24 * 100):
        syncs.advance(path, hours, report=lambda m: None)
    with open_warehouse(path) as wh:
        assert wh.last_sync("segment")[0] == 4


def test_a_failed_increment_leaves_the_clock_where_it_was(copy_of_warehouse, monkeypatch):
    with open_warehouse(copy_of_warehouse) as wh:
        clock = wh.simulation().clock
    monkeypatch.setattr(syncs, "generate_window", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("boom")))
    with pytest.raises(RuntimeError):
        syncs.advance(copy_of_warehouse, 24, report=lambda m: None)
    with open_warehouse(copy_of_warehouse) as wh:
        assert wh.simulation().clock == clock
        assert not [r for r in wh.con.execute("select table_name from information_schema.tables").fetchall()
                    if r[0].startswith("_cdp_stage__")]


def test_duplicate_keys_in_a_sync_are_refused(copy_of_warehouse, monkeypatch):
    """A generator bug that repeats a key fails the sync loudly instead of landing twice."""
    syncs.advance_clock(copy_of_warehouse, 24)
    before = _fingerprint(copy_of_warehouse)
    real = syncs.generate_window

    def doubled(cfg, window, sink, connectors, **kw):
        def twice(source, table, data):
            sink(source, table, data)
            if (source, table) == ("shopify", "order"):
                sink(source, table, data)
        return real(cfg, window, twice, connectors, **kw)

    monkeypatch.setattr(syncs, "generate_window", doubled)
    with pytest.raises(WarehouseError, match="duplicated keys"):
        syncs.sync(copy_of_warehouse, ["shopify"], report=lambda m: None)
    assert _fingerprint(copy_of_warehouse) == before


def test_out_of_range_input_is_refused_before_anything_changes(copy_of_warehouse, tmp_path):
    before = _fingerprint(copy_of_warehouse)
    with pytest.raises(ValueError, match="--seed"):
        syncs.start_simulation(copy_of_warehouse, 2 ** 64, 100, None, reset=True, report=lambda m: None)
    with pytest.raises(ValueError, match="--as-of must be between"):
        syncs.start_simulation(copy_of_warehouse, 1, 100, "9999-12-01", reset=True, report=lambda m: None)
    with pytest.raises(ValueError, match="--as-of must be between"):
        syncs.start_simulation(copy_of_warehouse, 1, 100, "1960-01-01", reset=True, report=lambda m: None)
    for hours in (float("inf"), float("nan"), 1e9):
        with pytest.raises(ValueError, match="--hours"):
            syncs.advance(copy_of_warehouse, hours, report=lambda m: None)
    assert _fingerprint(copy_of_warehouse) == before
    missing = tmp_path / "nowhere.duckdb"
    with pytest.raises(WarehouseError, match="does not exist"):
        syncs.advance(missing, 24, report=lambda m: None)
    assert not missing.exists()


def test_a_demo_replaces_only_a_previous_demo(tmp_path):
    """`cdp demo` may replace the simulation an earlier demo left (a newcomer runs it twice),
    never one that `cdp generate` created."""
    messages: list[str] = []
    path = tmp_path / "demo.duckdb"
    syncs.start_simulation(path, 1, 40, "2026-04-01", report=messages.append, created_by="demo", run_syncs=False)
    syncs.start_simulation(path, 2, 30, "2026-04-01", report=messages.append, created_by="demo", run_syncs=False)
    assert any("replaced the previous simulation" in m for m in messages)
    with open_warehouse(path) as wh:
        assert (wh.simulation().seed, wh.simulation().profiles) == (2, 30)
    generated = tmp_path / "generated.duckdb"
    syncs.start_simulation(generated, 1, 40, "2026-04-01", report=lambda m: None, run_syncs=False)
    with pytest.raises(WarehouseError, match="already holds a different simulation"):
        syncs.start_simulation(generated, 2, 30, "2026-04-01", report=lambda m: None, created_by="demo",
                               run_syncs=False)


def _schemas(path) -> set[str]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return {r[0] for r in con.execute(
            "select schema_name from information_schema.schemata where catalog_name = current_database()").fetchall()}
    finally:
        con.close()


def test_a_replaced_world_takes_what_was_built_from_it(built_copy, tmp_path, monkeypatch):
    """Replacing a simulation (`--reset`, or a second `cdp demo`, whose as-of date is today)
    drops what dbt built from the old world. Incremental models kept from it would hold events
    and profiles of people who no longer exist: without the drop, the build below fails its
    relationship test on 19,642 events of vanished profiles (measured), and where nothing tests
    it rows are simply wrong. With it, the build starts afresh and passes."""
    from orchestration.dbt.runner import run_dbt

    built = _schemas(built_copy)
    raw = {spec.schema for tables in raw_tables().values() for spec in tables.values()}
    # Every schema a build leaves is either the simulator's or listed as derived or kept, so a
    # schema added to dbt_project.yml without a place in those lists fails here.
    assert built - raw - {TRUTH_SCHEMA, META, "cdp_sync"} - set(DERIVED_SCHEMAS) - set(KEPT_SCHEMAS) == set()
    assert {"staging", "intermediate", "marts", "snapshots"} <= built
    con = duckdb.connect(str(built_copy))
    try:  # a privacy audit trail is not the world's: it stays
        con.execute("create schema if not exists cdp_privacy")
        con.execute("create table cdp_privacy.kept_marker as select 1 as x")
    finally:
        con.close()

    messages: list[str] = []
    syncs.start_simulation(built_copy, 11, 400, "2026-05-01", reset=True, report=messages.append)
    after = _schemas(built_copy)
    assert not after & set(DERIVED_SCHEMAS)
    assert {"seeds", "cdp_privacy"} <= after
    assert any("dropped what was built from it (schemas staging, intermediate, marts, snapshots" in m
               for m in messages), messages

    monkeypatch.setenv("CDP_DUCKDB_PATH", str(built_copy))
    monkeypatch.setenv("DBT_TARGET_PATH", str(tmp_path / "target"))
    outcome = run_dbt(["build"], target="dev")
    assert outcome.success, outcome.failures
    con = duckdb.connect(str(built_copy), read_only=True)
    try:
        assert con.execute("select count(*) from cdp_privacy.kept_marker").fetchone()[0] == 1
        # Only the new world's people: every event's profile is one of its profiles.
        orphans = con.execute("""
            select count(*) from marts.profile_events as e
            where e.profile_id is not null
              and not exists (select 1 from marts.profiles as p where p.profile_id = e.profile_id)""").fetchone()[0]
        assert orphans == 0
        simulated = con.execute("select count(*) from _truth.persons").fetchone()[0]
        assert 0 < con.execute("select count(*) from marts.profiles").fetchone()[0] <= simulated * 2
    finally:
        con.close()
