"""The syncs' state, privacy requests and quality checks on the `snowflake` dbt target, on the
fakesnow emulator in this process: they read and write the warehouse the target names
(orchestration/lib/warehouse.py), never the local DuckDB file, which must not even appear.

fakesnow runs Snowflake SQL by translating it to DuckDB, so it accepts some DuckDB-only
SQL. Every statement these modules send is therefore also parsed with sqlglot's Snowflake
dialect, and searched for functions and syntax only DuckDB has.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re

import pyarrow.parquet as pq
import pytest
import sqlglot
from sqlglot import exp

from orchestration import settings
from orchestration.exports import engine
from orchestration.exports.config import parse_sync
from orchestration.lib import warehouse as warehouses
from orchestration.lib.raw_tables import raw_tables
from orchestration.privacy import requests as privacy
from python_tests.webhook_server import SECRET, Receiver

CLOCK = dt.datetime(2026, 6, 1, 12)
# Functions and syntax only DuckDB accepts (as test_snowflake_build.py), and the DuckDB ways
# of moving rows that these modules used before (Snowflake has none of them).
DUCKDB_ONLY = re.compile(r"'0x'|\b(json_extract_string|json_extract|regexp_full_match|regexp_matches|sha256|"
                         r"list_\w+|struct_pack|strftime|strptime|epoch_ms|arg_max|arg_min|string_agg|"
                         r"read_json\w*|read_parquet|read_csv\w*|hugeint|ubigint)\s*\(|::\s*(hugeint|ubigint|json)\b|"
                         r"\binterval\s+\d+\s+day\b|\b(semi|anti)\s+join\b|\binsert\s+or\s+replace\b|"
                         r"\bat\s+time\s+zone\b|\bcopy\s*\(|\$[a-z_]+\b|:=", re.IGNORECASE)
# The source model, as the manifest names it: the sync engine reads only this of it.
MANIFEST = {"nodes": {"model.cdp.profiles": {"resource_type": "model", "name": "profiles", "package_name": "cdp",
                                             "schema": "marts", "alias": "profiles"}}, "exposures": {}}
PEOPLE = [(f"p_{i:02d}", f"person{i}@example.com", f"Name{i}", i != 3, 1000 + i) for i in range(10)]


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@pytest.fixture
def emulator(monkeypatch, tmp_path):
    """The snowflake target, answered by fakesnow in this process; marts.profiles,
    marts.profile_identifiers and Shopify's raw tables created there (as Fivetran would:
    upper-case columns), three customers loaded. Yields a function that runs SQL on it, and the warehouses the code opened."""
    import fakesnow

    from orchestration.lib import snowflake as snowflake_lib

    for name, value in {"SNOWFLAKE_ACCOUNT": "cdp_test", "SNOWFLAKE_USER": "cdp", "SNOWFLAKE_PASSWORD": "emulated",
                        "SNOWFLAKE_DATABASE": "ANALYTICS", "SNOWFLAKE_SCHEMA": "PUBLIC", "CDP_TARGET": "snowflake",
                        "CDP_DUCKDB_PATH": str(tmp_path / "never.duckdb"), "CDP_ACTOR": "tester"}.items():
        monkeypatch.setenv(name, value)
    for name in ("SNOWFLAKE_PRIVATE_KEY_PATH", "SNOWFLAKE_HOST", "SNOWFLAKE_PORT", "SNOWFLAKE_PROTOCOL"):
        monkeypatch.delenv(name, raising=False)
    opened: list[warehouses.Warehouse] = []
    real_connect = warehouses.connect

    def recording_connect(*args, **kwargs):
        opened.append(real_connect(*args, **kwargs))
        return opened[-1]

    monkeypatch.setattr(warehouses, "connect", recording_connect)
    with fakesnow.patch():
        con = snowflake_lib.connect("snowflake")

        def run(sql, params=()):
            with con.cursor() as cur:
                cur.execute(sql, list(params))
                return cur.fetchall()

        run("create schema if not exists shopify")  # the raw tables of one source are enough here
        for table in raw_tables(settings.PROJECT_DIR)["shopify"].values():
            columns = ", ".join(f'"{c.upper()}" {t}' for c, t in table.columns)
            run(f"create table shopify.{table.name} ({columns})")
        run("create schema if not exists marts")
        run("create table marts.profiles (profile_id varchar, email varchar, first_name varchar, "
            "can_email boolean, shopify_id bigint)")
        for person in PEOPLE:
            run("insert into marts.profiles values (?, ?, ?, ?, ?)", person)
        run("create table marts.profile_identifiers (profile_id varchar, identifier_type varchar, "
            "identifier_value varchar)")
        for profile_id, email, _, _, shopify_id in PEOPLE:
            run("insert into marts.profile_identifiers values (?, 'email', ?), (?, 'shopify_customer_id', ?)",
                [profile_id, email, profile_id, str(shopify_id)])
        run("create schema if not exists _cdp_meta")
        run("create table _cdp_meta.simulation (clock timestamp_ntz)")
        run("insert into _cdp_meta.simulation values (?)", [CLOCK])
        for profile_id, email, first_name, _, shopify_id in PEOPLE[:3]:
            run('insert into shopify.customer ("ID", "EMAIL", "FIRST_NAME", "PHONE", "TOTAL_SPENT", '
                '"_FIVETRAN_SYNCED", "_FIVETRAN_DELETED") values (?, ?, ?, ?, ?, ?, false)',
                [shopify_id, email, first_name, "+1 415 555 0100", 10.0, CLOCK - dt.timedelta(hours=2)])
        try:
            yield run, opened
        finally:
            con.close()
    assert not (tmp_path / "never.duckdb").exists()  # nothing went to a DuckDB file
    sent = [sql for warehouse in opened for sql in warehouse.sent]
    assert sent
    for sql in sent:
        tree = sqlglot.parse_one(sql, read="snowflake")
        unknown = [f.name for f in tree.find_all(exp.Anonymous)]
        assert not unknown, (unknown, sql)
        assert not DUCKDB_ONLY.search(sql), sql


def file_sync(tmp_path):
    return parse_sync({"name": "emails_file", "source": {"model": "profiles"}, "purpose": "email",
                       "destination": {"type": "file", "format": "parquet", "path": str(tmp_path / "emails.parquet")},
                       "mode": "mirror", "primary_key": "profile_id",
                       "fields": {"email": "email", "first_name": "first_name"}}, "test.yml")


def test_a_mirror_file_sync_keeps_its_state_in_snowflake(emulator, tmp_path):
    run, _ = emulator
    spec = file_sync(tmp_path)
    consenting = {p[0]: (p[1], p[2]) for p in PEOPLE if p[3]}

    first = engine.run_sync(spec, None, MANIFEST)
    assert (first.status, first.plan.adds, first.sent) == ("succeeded", len(consenting), len(consenting))
    written = pq.read_table(tmp_path / "emails.parquet").to_pylist()
    assert [r["_record_key"] for r in written] == sorted(consenting)  # names as the sync spells them
    assert {r["_record_key"]: (r["email"], r["first_name"]) for r in written} == consenting

    second = engine.run_sync(spec, None, MANIFEST)
    assert (second.status, second.plan.total, second.sent) == ("nothing_to_do", 0, 0)

    run("update marts.profiles set first_name = 'Renamed' where profile_id = 'p_01'")
    run("delete from marts.profiles where profile_id = 'p_02'")
    third = engine.run_sync(spec, None, MANIFEST)
    assert (third.status, third.plan.adds, third.plan.changes, third.plan.removes, third.sent) == (
        "succeeded", 0, 1, 1, 2)
    assert min(third.sample)[:3] == ("change", "upsert", "p_01")
    written = {r["_record_key"]: r["first_name"] for r in pq.read_table(tmp_path / "emails.parquet").to_pylist()}
    assert written["p_01"] == "Renamed" and "p_02" not in written and len(written) == len(consenting) - 1

    # The state is in the emulator: the log, what was delivered, and the runs with who ran them.
    delivered = dict(run("select record_key, payload from cdp_sync.delivered_state where sync_name = 'emails_file'"))
    assert set(delivered) == set(consenting) - {"p_02"}
    assert json.loads(delivered["p_01"]) == {"email": "person1@example.com", "first_name": "Renamed"}
    assert run("select status, count(*) from cdp_sync.delivery_log group by 1") == [("sent", len(consenting) + 2)]
    runs = run("select status, actor, rows_sent from cdp_sync.sync_runs order by started_at")
    assert runs == [("succeeded", "tester", len(consenting)), ("succeeded", "tester", 0), ("succeeded", "tester", 2)]
    assert run("select count(*) from cdp_sync.files_written")[0][0] == 2


def test_an_api_sync_logs_each_batch_in_snowflake(emulator):
    run, _ = emulator
    receiver = Receiver()
    try:
        receiver.bad_keys = {"p_04"}
        spec = parse_sync({"name": "hook", "source": {"model": "profiles"}, "purpose": "analytics",
                           "destination": {"type": "webhook", "url": receiver.url, "secret": SECRET, "batch_size": 4},
                           "mode": "upsert", "primary_key": "profile_id", "fields": {"email": "email"}}, "test.yml")
        first = engine.run_sync(spec, None, MANIFEST)
        assert (first.status, first.sent, first.failed) == ("partial", len(PEOPLE) - 1, 1)
        assert set(receiver.state) == {p[0] for p in PEOPLE} - {"p_04"}
        receiver.bad_keys = set()
        second = engine.run_sync(spec, None, MANIFEST)
        assert (second.status, second.plan.adds, second.sent) == ("succeeded", 1, 1)
    finally:
        receiver.close()
    assert run("select status, attempt from cdp_sync.delivery_log where record_key = 'p_04' "
               "order by logged_at, status desc") == [("pending", 1), ("failed", 1), ("pending", 2), ("sent", 2)]
    assert run("select count(*) from cdp_sync.delivered_state")[0][0] == len(PEOPLE)


def test_forget_export_and_complete_on_snowflake(emulator, tmp_path):
    run, _ = emulator
    spec = file_sync(tmp_path)
    assert engine.run_sync(spec, None, MANIFEST).status == "succeeded"

    _, rows = privacy.export(None, "Person5@Example.com", "email", tmp_path / "p5.json")
    document = json.loads((tmp_path / "p5.json").read_text())
    assert document["profiles"] == ["p_05"] and rows > 0
    assert document["golden_record"] == [{"profile_id": "p_05", "email": "person5@example.com",
                                          "first_name": "Name5", "can_email": True, "shopify_id": 1005}]
    assert [s["status"] for s in document["syncs"]] == ["sent"]

    result = privacy.forget(None, "person1@example.com", "email", reason="asked by email")
    assert (result.profiles, result.raw_rows_purged) == (1, 1)
    held = set(run("select identifier_type, identifier_sha256 from cdp_privacy.suppressions"))
    assert {("email", sha("person1@example.com")), ("profile_id", sha("p_01")), ("record_id", sha("1001")),
            ("record_key", sha("shopify_customer_id:1001"))} <= held
    assert run("select count(*) from shopify.customer where id = 1001")[0][0] == 0  # purged by policy
    assert run("select count(*) from shopify.customer")[0][0] == 2
    requests = run("select kind, subject_sha256, requested_by, completed_at from cdp_privacy.requests "
                   "order by requested_at")
    assert [(r[0], r[2], r[3]) for r in requests] == [("export", "tester", requests[0][3]), ("forget", "tester", None)]
    assert requests[1][1] == sha("person1@example.com")
    assert [r[0] for r in run("select action from cdp_privacy.audit_log order by occurred_at")] == [
        "privacy.export", "privacy.forget.requested"]

    # Before a build the person is still in the marts: nothing is completed, and it says where.
    early = privacy.complete(None)
    assert early["completed"] == 0 and "marts.profiles" in early["traces"]

    # What the build does on Snowflake (the suppressions leave the person out), then the sync.
    run("delete from marts.profiles where profile_id = 'p_01'")
    run("delete from marts.profile_identifiers where profile_id = 'p_01'")
    assert engine.run_sync(spec, None, MANIFEST).plan.removes == 1
    done = privacy.complete(None)
    assert (done["completed"], done["open"], done["traces"]) == (1, 0, [])
    assert done["sync_state_rows_scrubbed"] > 0
    assert run("select count(*) from cdp_sync.sync_plans where record_key = 'p_01'")[0][0] == 0
    assert run("select kind from cdp_privacy.requests where completed_at is not null order by kind") == [("export",), ("forget",)]
    assert run("select count(*) from cdp_privacy.audit_log where action = 'privacy.forget.completed'")[0][0] == 1


def test_a_great_expectations_suite_and_freshness_on_snowflake(emulator):
    from orchestration.quality import freshness
    from orchestration.quality.config import load_suites
    from orchestration.quality.expectations import run_suite

    run, _ = emulator
    suite = load_suites()["shopify_customer"]
    with warehouses.connect() as wh:
        assert wh.engine == "snowflake"
        assert freshness.warehouse_clock(wh) == CLOCK
        first = run_suite(suite, wh, run_id="first", clock=CLOCK)
        run("insert into shopify.customer (id, email, _fivetran_synced, _fivetran_deleted) values "
            "(1001, 'not an email', ?, false)", [CLOCK])
        second = run_suite(suite, wh, run_id="second", clock=CLOCK)
        rules = {k: r for k, r in freshness.freshness_rules().items() if k[0] == "shopify"}
        measured = {(f.rule.source, f.rule.table): f for f in freshness.measure(wh, rules)}
    assert first.row_count == 3 and first.previous_count is None and not first.failed()
    assert second.previous_count == 3 and second.row_count == 4
    failed = {o.expectation.check: o for o in second.failed()}
    assert set(failed) == {"unique", "valid"}  # id 1001 twice; one email in four is not one
    assert failed["valid"].observed["examples"] == ["not an email"]
    assert run("select suite, run_id, row_count from _cdp_quality.row_counts order by row_count") == [
        ("shopify_customer", "first", 3), ("shopify_customer", "second", 4)]
    assert measured[("shopify", "customer")].status == "pass"
    assert measured[("shopify", "customer")].last_loaded_at == CLOCK
    assert measured[("shopify", "order")].status == "error"  # never loaded


def test_named_parameters_and_names_as_snowflake_holds_them():
    sql, values = warehouses._positional("select $a, $b where x = $a", {"a": 1, "b": "two"})
    assert (sql, values) == ("select ?, ? where x = ?", [1, "two", 1])
    with pytest.raises(KeyError, match=r"\$c"):
        warehouses._positional("select $c", {"a": 1})
    snowflake = warehouses.SnowflakeWarehouse(con=None)
    assert snowflake.relation_text('shopify."order"') == 'shopify."ORDER"'
    assert snowflake.relation("marts", "profiles") == '"MARTS"."PROFILES"'
    assert [snowflake.column_name(n) for n in ("PROFILE_ID", "_RECORD_KEY", "firstName")] == [
        "profile_id", "_record_key", "firstName"]
