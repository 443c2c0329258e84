"""Data quality on a copy of the session warehouse: the Great Expectations suites pass on
simulated data and fail on injected bad data, an error check blocks the sync after it in a
Dagster run, freshness follows the simulation clock, and the score mart keeps one row per
source per build."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from orchestration.quality.config import QualityConfigError, load_suites, parse
from orchestration.quality.expectations import ensure_row_counts, run_suite
from orchestration.quality.freshness import freshness_rules, measure, warehouse_clock


@pytest.fixture
def copy(built_copy) -> Path:
    return built_copy


def test_bad_declarations_are_refused_with_the_fix():
    def suite(**expectation):
        return {"patterns": {"email": "@"}, "suites": [{"name": "s", "asset": ["a"], "relation": "t",
                                                        "expectations": [expectation]}]}
    with pytest.raises(QualityConfigError, match="unknown check 'uniq'"):
        parse(suite(check="uniq", column="id"))
    with pytest.raises(QualityConfigError, match="severity 'fatal'; use error or warn"):
        parse(suite(check="unique", column="id", severity="fatal"))
    with pytest.raises(QualityConfigError, match="pattern 'phone' is not under patterns"):
        parse(suite(check="valid", column="p", pattern="phone", min_rate=0.9))
    with pytest.raises(QualityConfigError, match="min_rate is a share between 0 and 1, got 95"):
        parse(suite(check="valid", column="e", pattern="email", min_rate=95))
    with pytest.raises(QualityConfigError, match="missing 'max_growth'"):
        parse(suite(check="row_count_change", max_drop=0.5))
    with pytest.raises(QualityConfigError, match="new_rows_by is the name of one column"):
        parse({"suites": [{"name": "s", "asset": ["a"], "relation": "t", "new_rows_by": ["a", "b"],
                           "expectations": [{"check": "unique", "column": "id"}]}]})
    with pytest.raises(QualityConfigError, match="unknown key\\(s\\) new_rows"):
        parse({"suites": [{"name": "s", "asset": ["a"], "relation": "t", "new_rows": "loaded_at",
                           "expectations": [{"check": "unique", "column": "id"}]}]})
    assert {s.name for s in load_suites().values()} >= {"profiles", "profile_identifiers", "profile_events",
                                                         "audience_members", "shopify_customer"}


def test_suites_pass_on_simulated_data_and_fail_on_injected_bad_data(copy):
    con = duckdb.connect(str(copy))
    suites = load_suites()
    for suite in suites.values():
        result = run_suite(suite, con, run_id="first")
        assert not result.failed("error"), (suite.name, [o.describe() for o in result.failed()])
    # Bad data: a primary key twice and junk emails (Shopify), a table that lost 70% of its rows (Klaviyo).
    con.execute("insert into shopify.customer select * from shopify.customer limit 1")
    con.execute("update shopify.customer set email = 'n/a' where id % 4 = 0")
    con.execute("delete from klaviyo.person where hash(id) % 10 < 7")
    shopify = run_suite(suites["shopify_customer"], con, run_id="second")
    assert [o.expectation.label for o in shopify.failed("error")] == ["unique(id)"]
    assert [o.expectation.label for o in shopify.failed("warn")] == ["valid(email)"]
    assert shopify.failed("warn")[0].observed["share_ok"] < 0.8
    klaviyo = run_suite(suites["klaviyo_person"], con, run_id="second")
    assert [o.expectation.label for o in klaviyo.failed("error")] == ["row_count_change(table)"]
    assert klaviyo.previous_count > klaviyo.row_count
    assert con.execute("select count(distinct run_id) from _cdp_quality.row_counts").fetchone()[0] == 2
    con.close()


def test_an_hourly_run_checks_the_new_rows_and_the_daily_run_every_row(copy):
    """segment.tracks names new_rows_by (its load time): a new_rows run validates only the
    rows loaded since the last run, with the row-count change on the whole table; a full run
    validates every row."""
    suite = load_suites()["segment_tracks"]
    assert suite.new_rows_by == "uuid_ts"
    con = duckdb.connect(str(copy))
    try:
        first = run_suite(suite, con, run_id="first", scope="new_rows")  # no run before: every row
        assert first.scope == "full" and first.checked_rows == first.row_count > 1000
        assert not first.failed("error")
        loaded = con.execute("select max(uuid_ts) from segment.tracks").fetchone()[0]
        # A later load brings 5 calls, one of them without an event name; an old row is broken too.
        con.execute("""insert into segment.tracks by name
            select * replace ('late-' || id as id, ? + interval 1 hour as uuid_ts,
                              case when id = (select min(id) from segment.tracks) then null else event end as event)
            from segment.tracks where id in (select id from segment.tracks order by id limit 5)""", [loaded])
        con.execute("""update segment.tracks set event = null
                       where id = (select max(id) from segment.tracks where id not like 'late-%')""")
        hourly = run_suite(suite, con, run_id="hourly", scope="new_rows")
        assert hourly.scope == "new_rows" and hourly.new_since == loaded
        assert hourly.checked_rows == 5 and hourly.row_count == first.row_count + 5
        failed = {o.expectation.label: o.observed for o in hourly.failed("error")}
        assert list(failed) == ["not_null(event)"] and failed["not_null(event)"]["rows"] == 5
        counts = {o.expectation.label: o.observed for o in hourly.outcomes}["row_count_change(table)"]
        assert counts == {"row_count": first.row_count + 5, "previous": first.row_count}
        nothing_new = run_suite(suite, con, run_id="again", scope="new_rows")
        assert nothing_new.checked_rows == 0 and not nothing_new.failed()
        daily = run_suite(suite, con, run_id="daily", scope="full")
        assert daily.checked_rows == daily.row_count
        assert [o.expectation.label for o in daily.failed("error")] == ["not_null(event)"]
        assert {o.expectation.label: o.observed for o in daily.failed("error")}["not_null(event)"]["rows"] == \
            first.row_count + 5
        recorded = con.execute("""select run_id, scope, row_count from _cdp_quality.row_counts
                                  where suite = 'segment_tracks' order by counted_at""").fetchall()
        assert recorded == [("first", "full", first.row_count), ("hourly", "new_rows", first.row_count + 5),
                            ("again", "new_rows", first.row_count + 5), ("daily", "full", first.row_count + 5)]
        with pytest.raises(ValueError, match="quality scope must be one of full, new_rows"):
            run_suite(suite, con, scope="hourly")
    finally:
        con.close()


def test_hourly_dbt_tests_check_the_new_rows_and_daily_ones_every_row(copy, monkeypatch):
    """profile_events names cdp_new_rows (attributed_at): with CDP_DBT_TEST_SCOPE=new (Dagster's
    hourly runs) its generic tests look at the rows the newest build wrote, and its unique
    test at every row sharing a key with them; otherwise at every row. A new row repeating an
    old event's id fails both; an old row broken in place fails only the full run."""
    from orchestration.dbt.runner import run_dbt

    con = duckdb.connect(str(copy))
    try:
        newest = con.execute("select max(attributed_at) from marts.profile_events").fetchone()[0]
        old_ids = [r[0] for r in con.execute(
            "select event_id from marts.profile_events order by event_id limit 2").fetchall()]
        # Two events written three days ago; one of them has lost its time since.
        con.execute("update marts.profile_events set attributed_at = attributed_at - interval 3 day "
                    "where event_id in (?, ?)", old_ids)
        con.execute("update marts.profile_events set occurred_at = null where event_id = ?", [old_ids[0]])
        # The newest build wrote the other again, under the same id.
        con.execute("""insert into marts.profile_events by name
                       select * replace (cast(? as timestamp) as attributed_at)
                       from marts.profile_events where event_id = ?""", [newest, old_ids[1]])
    finally:
        con.close()
    monkeypatch.setenv("CDP_DUCKDB_PATH", str(copy))
    failed = {}
    for scope in ("new", "all"):
        monkeypatch.setenv("CDP_DBT_TEST_SCOPE", scope)
        outcome = run_dbt(["test", "-s", "profile_events", "--exclude", "test_type:singular"], target="dev")
        failed[scope] = sorted(f.split(":")[0] for f in outcome.failures)
    assert failed["new"] == ["unique_profile_events_event_id"], failed
    assert failed["all"] == ["not_null_profile_events_occurred_at", "unique_profile_events_event_id"], failed


def test_freshness_is_measured_against_the_simulation_clock(copy):
    con = duckdb.connect(str(copy))
    clock = warehouse_clock(con)
    assert clock == con.execute("select clock from _cdp_meta.simulation").fetchone()[0]
    assert clock < dt.datetime.now() - dt.timedelta(days=30)  # the wall clock would call it all stale
    now = {(f.rule.source, f.rule.table): f.status for f in measure(con)}
    assert len(now) == len(freshness_rules()) >= 30 and set(now.values()) == {"pass"}, now
    # Thresholds from the source YAML: warn after 24 hours, error after 72 (Shopify).
    later = {(f.rule.source, f.rule.table): f.status for f in measure(con, clock=clock + dt.timedelta(hours=30))}
    assert later[("shopify", "order")] == "warn"
    much_later = {(f.rule.source, f.rule.table): f.status
                  for f in measure(con, clock=clock + dt.timedelta(hours=80))}
    assert much_later[("shopify", "order")] == "error"
    con.close()


def test_a_failed_error_check_blocks_the_sync_that_reads_the_mart(copy, tmp_path, monkeypatch):
    """dbt builds audience_members from golden emails we broke; its blocking check fails and
    the sync after it does not run (nor write its file)."""
    from orchestration.definitions import defs

    monkeypatch.setenv("CDP_DUCKDB_PATH", str(copy))
    monkeypatch.setenv("CDP_EXPORTS_DIR", str(tmp_path / "exports"))
    con = duckdb.connect(str(copy))
    members = con.execute("select count(*) from marts.audience_members where audience_name = 'email_vip_winback'"
                          ).fetchone()[0]
    assert members > 0
    con.execute("update marts.profiles set email = 'not an email' where email is not null")
    con.close()
    sync = dg.AssetKey(["syncs", "vip_winback_to_parquet"])
    job = dg.define_asset_job(
        "blocked_sync",
        selection=dg.AssetSelection.assets(["marts", "audience_members"])
        | dg.AssetSelection.checks(*[dg.AssetCheckKey(dg.AssetKey(["marts", "audience_members"]), name)
                                     for name in ("expectations_error", "expectations_warn")])
        | dg.AssetSelection.assets(sync),
    )
    # The default warehouse resource reads CDP_DUCKDB_PATH: the copy.
    result = dg.Definitions.merge(defs, dg.Definitions(jobs=[job])).resolve_job_def("blocked_sync") \
        .execute_in_process(raise_on_error=False)
    materialized = {e.asset_key for e in result.get_asset_materialization_events()}
    assert dg.AssetKey(["marts", "audience_members"]) in materialized  # rebuilt from the broken emails
    evaluations = [e.event_specific_data for e in result.all_events if e.event_type_value == "ASSET_CHECK_EVALUATION"]
    failed = [e for e in evaluations if e.check_name == "expectations_error" and not e.passed]
    failures = [e.event_specific_data for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    assert failed, failures
    assert failed and failed[0].asset_key == dg.AssetKey(["marts", "audience_members"])
    assert "valid(email)" in (failed[0].description or "")
    assert sync not in materialized
    assert not (tmp_path / "exports" / "exports" / "email_vip_winback.parquet").exists()


def test_the_score_mart_keeps_one_row_per_source_per_build(copy, monkeypatch):
    from orchestration.dbt.runner import run_dbt

    monkeypatch.setenv("CDP_DUCKDB_PATH", str(copy))
    assert run_dbt(["build", "--select", "data_quality_scores"], target="dev").success
    con = duckdb.connect(str(copy))
    builds = con.execute("select dbt_invocation_id, count(*), min(measured_at), max(measured_at) "
                         "from marts.data_quality_scores group by 1 order by min(built_at)").fetchall()
    assert len(builds) == 2 and builds[0][1] == builds[1][1] == 8  # six sources, all_sources, profiles
    rows = {r[0]: r[1:] for r in con.execute(
        "select source_name, completeness, validity, uniqueness, duplicate_rate, freshness, quality_score "
        "from marts.data_quality_scores where dbt_invocation_id = ?", [builds[1][0]]).fetchall()}
    assert set(rows) == {"shopify", "klaviyo", "stripe", "zendesk", "salesforce", "segment", "all_sources",
                         "profiles"}
    # Person records are about a third duplicates across sources; within one source few are.
    assert 0.2 < rows["all_sources"][3] < 0.6 and rows["shopify"][3] < 0.1
    assert all(0 <= v <= 1 for r in rows.values() for v in r[:5] if v is not None)
    assert rows["all_sources"][4] == 1.0  # fresh as of the simulation clock
    con.close()


def test_the_raw_table_profile_depends_on_every_raw_table():
    import json

    from orchestration.dbt.project import ensure_manifest
    from orchestration.lib.raw_tables import raw_tables

    manifest = json.loads(ensure_manifest().read_text())
    node = manifest["nodes"]["model.cdp.int_raw_tables_profiled"]
    expected = {f"source.cdp.{s}.{t}" for s, tables in raw_tables().items() for t in tables}
    assert expected == set(node["depends_on"]["nodes"]), "add the missing tables' depends_on lines to the model"


def test_duckdb_hands_rows_to_the_suites_through_arrow():
    """The DuckDB warehouse reads a suite's rows through Arrow (frame) and gives Arrow tables
    (arrow): the same values and nulls as the query, text, numbers and timestamps alike."""
    from orchestration.lib import warehouse as warehouses

    wh = warehouses.wrap(duckdb.connect())
    sql = """select * from (values ('a', 1, 2.5, timestamp '2026-01-01 10:00:00'),
                                    (null, null, null, null)) as t(s, i, d, ts)"""
    table = wh.arrow(sql)
    frame = wh.frame(sql)
    assert table.num_rows == 2 and table.column("s").to_pylist() == ["a", None]
    assert list(frame.columns) == ["s", "i", "d", "ts"]
    assert frame["s"].iloc[0] == "a" and frame["s"].isna().tolist() == [False, True]
    assert frame["i"].iloc[0] == 1 and frame["d"].iloc[0] == 2.5
    assert frame["ts"].iloc[0] == dt.datetime(2026, 1, 1, 10) and frame["ts"].isna().iloc[1]


def test_suites_validate_a_frame_without_fingerprinting_it():
    """The batch a suite validates carries no pandas fingerprint: GX would hash every row of
    every frame under 1 GB for it (most of a suite's time on a few million rows), and nothing
    here keeps it. Were GX to rename the threshold the context sets, the marker would be back."""
    import pandas as pd

    from orchestration.quality.expectations import _context

    _, batch_definition = _context()
    batch = batch_definition.get_batch(batch_parameters={"dataframe": pd.DataFrame({"a": ["x", "y", None]})})
    assert batch.batch_markers  # the other markers are still there ...
    assert "pandas_data_fingerprint" not in batch.batch_markers  # ... the fingerprint is not


def test_an_older_row_count_table_gains_the_new_columns_and_keeps_its_rows(tmp_path):
    """A warehouse whose _cdp_quality.row_counts predates the quality scope (no scope, no
    checked_through) gets the two columns in place; its rows stay, and a second call changes
    nothing."""
    con = duckdb.connect(str(tmp_path / "old.duckdb"))
    try:
        con.execute("create schema _cdp_quality")
        con.execute("""create table _cdp_quality.row_counts (suite varchar, relation varchar, run_id varchar,
                       counted_at timestamp, clock timestamp, row_count bigint)""")
        con.execute("insert into _cdp_quality.row_counts values ('s', 'r', 'run1', now(), null, 42)")
        ensure_row_counts(con)
        ensure_row_counts(con)
        columns = [r[0] for r in con.execute("""select column_name from information_schema.columns
            where table_schema = '_cdp_quality' and table_name = 'row_counts' order by ordinal_position""").fetchall()]
        rows = con.execute("select run_id, row_count, scope, checked_through from _cdp_quality.row_counts").fetchall()
    finally:
        con.close()
    assert columns == ["suite", "relation", "run_id", "counted_at", "clock", "row_count", "scope", "checked_through"]
    assert rows == [("run1", 42, None, None)]
