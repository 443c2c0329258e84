"""Segments and audiences on the session warehouse (one `dbt build`), the compiler outside
dbt (`cdp segment size`), its error messages, and values that must never change a query."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

import pytest
import sqlglot
from sqlglot import exp

from orchestration import settings
from orchestration.dbt.project import ensure_manifest, simulation_clock
from orchestration.dbt.runner import run_dbt
from orchestration.segments.compiler import Compiler, SegmentDefinitionError, manifest_catalog

BUILT_IN = ["at_risk_subscribers", "browse_cart_newsletter_journey", "cart_abandoners_7d", "high_value_win_back",
            "prime_for_subscription", "vip_customers"]


@contextmanager
def _warehouse_env(path: Path):
    saved = os.environ.get("CDP_DUCKDB_PATH")
    os.environ["CDP_DUCKDB_PATH"] = str(path)
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop("CDP_DUCKDB_PATH", None)
        else:
            os.environ["CDP_DUCKDB_PATH"] = saved


@pytest.fixture(scope="module")
def catalog():
    manifest = json.loads(ensure_manifest().read_text())
    raw, relations = manifest_catalog(manifest)
    return raw, relations


def _compile(catalog, rule, engine="duckdb", name="draft"):
    raw, relations = catalog
    compiler = Compiler(settings.PROJECT_DIR, {"as_of": "2026-06-01 00:00:00"}, engine=engine)
    segments = {**raw["segments"], name: {"rule": rule, "file": "segments/draft.yml"}}
    checked = compiler.catalog(segments, raw["columns"], raw["events"], "test")
    return compiler.membership_sql([name], checked, relations)


def test_built_in_segments_match_their_definitions(dbt_build, sql):
    assert dbt_build.success, dbt_build.failures
    sizes = dict(sql("select segment_name, member_count from marts.segment_sizes"))
    assert sorted(sizes) == BUILT_IN
    members = dict(sql("select segment_name, count(*) from marts.segment_memberships group by 1"))
    assert {k: v for k, v in sizes.items() if v} == members
    # Each rule recomputed here, independently of the compiler.
    expected = {
        "vip_customers": "select profile_id from marts.profile_traits where lifetime_value > 1000",
        "at_risk_subscribers": """select profile_id from marts.profile_traits where subscription_status = 'active'
                                  and days_since_last_order > 60 and email_engagement_score < 20""",
        "prime_for_subscription": """select profile_id from marts.profile_traits
                                     where subscription_status not in ('active', 'trialing', 'past_due')
                                     and order_count >= 3 and average_order_value > 75""",
    }
    for name, query in expected.items():
        got = {r[0] for r in sql("select profile_id from marts.segment_memberships where segment_name = ?", [name])}
        assert got == {r[0] for r in sql(query)}, name
    assert sizes["vip_customers"] > 20 and sizes["browse_cart_newsletter_journey"] > 0


def test_the_journey_sequence_agrees_with_a_brute_force_search(dbt_build, sql):
    rows = sql("""select profile_id, event_name, occurred_at from marts.profile_events
                  where profile_id is not null
                    and event_name in ('Product Viewed', 'Product Added', 'Newsletter Subscribed')
                  order by profile_id, occurred_at""")
    steps = ["Product Viewed", "Product Added", "Newsletter Subscribed"]
    by_profile: dict[str, list] = {}
    for profile, name, at in rows:
        by_profile.setdefault(profile, []).append((at, name))
    expected = set()
    for profile, events in by_profile.items():
        for start, name in events:
            if name != steps[0]:
                continue
            moment, ok = start, True
            for step in steps[1:]:
                later = [at for at, n in events if n == step and moment < at <= start + dt.timedelta(days=7)]
                if not later:
                    ok = False
                    break
                moment = min(later)
            if ok:
                expected.add(profile)
                break
    got = {r[0] for r in sql("select profile_id from marts.segment_memberships "
                             "where segment_name = 'browse_cart_newsletter_journey'")}
    assert got == expected and expected


def test_overlap_and_audiences_hold_their_rules(dbt_build, sql):
    bad_overlap = sql("""select count(*) from marts.segment_overlap
                         where shared_count > least(size_a, size_b) or jaccard < 0 or jaccard > 1""")[0][0]
    assert bad_overlap == 0
    vip, win_back, shared = sql("""select size_a, size_b, shared_count from marts.segment_overlap
                                   where segment_a = 'vip_customers' and segment_b = 'high_value_win_back'""")[0]
    assert shared == sql("""select count(*) from marts.segment_memberships a join marts.segment_memberships b
                            using (profile_id) where a.segment_name = 'vip_customers'
                            and b.segment_name = 'high_value_win_back'""")[0][0]
    # Consent per channel, only the channel's identifiers, no holdout sent, priority within the group.
    assert sql("""select count(*) from marts.audience_members m join marts.profiles p using (profile_id)
                  where (m.channel = 'email' and not p.can_email) or (m.channel = 'sms' and not p.can_sms)""")[0][0] == 0
    assert sql("""select count(*) from marts.audience_members
                  where (channel = 'email' and (email is null or phone is not null or email_sha256 is not null))
                     or (channel = 'sms' and (phone is null or email is not null))""")[0][0] == 0
    assert sql("""select count(*) from marts.audience_members m join marts.audience_holdouts h
                  using (audience_name, profile_id)""")[0][0] == 0
    assert sql("""select count(*) from (select profile_id from marts.audience_members
                  where audience_name in ('email_vip_winback', 'email_subscription_offer')
                  group by profile_id having count(*) > 1)""")[0][0] == 0
    lookalikes = sql("""select count(*), count(*) filter (where profile_id in (select profile_id
                        from marts.segment_memberships where segment_name = 'vip_customers'))
                        from marts.audience_members where audience_name = 'email_vip_lookalikes'""")[0]
    assert lookalikes == (200, 0)


def test_the_shim_renders_what_dbt_compiles(dbt_build, warehouse):
    """`cdp segment size` renders the macros itself: it must produce dbt's SQL exactly."""
    with _warehouse_env(warehouse["path"]):
        outcome = run_dbt(["compile", "-s", "int_segment_memberships_evaluated"], target="dev")
    assert outcome.success, outcome.failures
    compiled = (settings.dbt_target_path() / "compiled" / "cdp" / "models" / "intermediate" / "segments"
                / "int_segment_memberships_evaluated.sql").read_text()
    manifest = json.loads((settings.dbt_target_path() / "manifest.json").read_text())
    raw, _ = manifest_catalog(manifest)
    relations = {n["name"]: n["relation_name"] for n in manifest["nodes"].values()
                 if n["resource_type"] == "model" and n["name"] in ("profiles", "profile_traits", "profile_rfm",
                                                                     "profile_events")}
    clock = simulation_clock(warehouse["path"])
    compiler = Compiler(settings.PROJECT_DIR, {"as_of": clock.isoformat(sep=" ")})
    checked = compiler.catalog(raw["segments"], raw["columns"], raw["events"], "test")
    mine = compiler.membership_sql(sorted(checked["segments"]), checked, relations)
    body = compiled.split("\n", 2)[2]  # after the two noqa comment lines
    assert mine.strip() == body.strip()


@pytest.mark.parametrize("rule, where, says", [
    ({"trait": "lifetme_value", "op": ">", "value": 1}, "rule.trait", "unknown trait 'lifetme_value'"),
    ({"trait": "lifetme_value", "op": ">", "value": 1}, "rule.trait", "did you mean lifetime_value"),
    ({"trait": "lifetime_value", "op": "like", "value": 1}, "rule.op", "unknown op 'like'"),
    ({"trait": "lifetime_value", "op": ">", "value": "1000"}, "rule.value", "give a number without quotes"),
    ({"trait": "country_code", "op": "=", "value": 44}, "rule.value", "give text in quotes"),
    ({"trait": "birth_date", "op": "<", "value": "yesterday"}, "rule.value", "'YYYY-MM-DD'"),
    ({"trait": "can_email", "op": "=", "value": "yes"}, "rule.value", "give true or false"),
    ({"trait": "lifetime_value", "op": "contains", "value": "1"}, "rule.op", "applies to text"),
    ({"trait": "lifetime_value", "op": "between", "value": [1]}, "rule.value", "two values [low, high]"),
    ({"trait": "lifetime_value", "op": "is_null", "value": 1}, "rule.value", "takes no value"),
    ({"all": [{"trait": "order_count", "op": ">", "value": 1}, {"event": "Order Teleported"}]}, "rule.all[1].event",
     "unknown event 'Order Teleported'"),
    ({"event": "Order Placed", "where": [{"property": "colour", "op": "=", "value": "red"}]},
     "rule.where[0].property", "its properties: financial_status, order_id, source_name"),
    ({"event": "Order Placed", "within_days": -3}, "rule.within_days", "whole number of days above 0"),
    ({"event": "Order Placed", "count": {"op": ">=", "value": "two"}}, "rule.count.value", "number without quotes"),
    ({"sequence": [{"event": "Product Viewed"}], "within_days": 7}, "rule.sequence", "two or more event steps"),
    ({"sequence": [{"event": "Product Viewed"}, {"event": "Product Added"}]}, "rule", "needs within_days"),
    ({"any": [{"not": {"in_segment": "no_such_segment"}}]}, "rule.any[0].not.in_segment", "unknown segment"),
    ({"in_segment": "draft"}, "rule.in_segment", "cycle (draft -> draft)"),
    ({"trait": "order_count", "op": ">", "value": 1, "event": "Order Placed"}, "rule", "exactly one of"),
    ({"trait": "order_count", "op": ">", "valeu": 1}, "rule.valeu", "unknown key 'valeu'"),
    ({"all": []}, "rule.all", "a list of one or more conditions"),
])
def test_a_bad_definition_names_its_file_path_and_fix(catalog, rule, where, says):
    with pytest.raises(SegmentDefinitionError) as error:
        _compile(catalog, rule)
    message = str(error.value)
    assert message.startswith(f"segments/draft.yml: segment 'draft', at {where}: "), message
    assert says in message, message


def test_dbt_reports_a_bad_definition_the_same_way(dbt_build, warehouse):
    bad = ("{segment_catalog_for_unit_tests: {columns: {profile_id: {model: profiles, data_type: varchar}}, "
           "segments: {pigeons: {file: segments/pigeons.yml, rule: {all: [{trait: pigeon_count, op: '>', value: 1}]}}}}}")
    with _warehouse_env(warehouse["path"]):
        outcome = run_dbt(["compile", "-s", "int_segment_memberships_evaluated", "--vars", bad], target="dev")
    assert not outcome.success
    message = " ".join(outcome.failures)
    assert "segments/pigeons.yml: segment 'pigeons', at rule.all[0].trait: unknown trait 'pigeon_count'" in message


HOSTILE = ["O'Brien", "x' or '1'='1", "'; drop table marts.profiles; --", "back\\slash\\", "\\' or 1=1 --",
           "semi;colon", "$$dollar$$", "--comment", "/* block */", "new\nline"]


@pytest.mark.parametrize("engine, dialect", [("duckdb", "duckdb"), ("snowflake", "snowflake")])
def test_values_never_change_the_query(catalog, engine, dialect):
    rule = {"any": [{"trait": "first_name", "op": "in", "value": HOSTILE}]
            + [{"event": "Page Viewed", "where": [{"property": "path", "op": "=", "value": v}]} for v in HOSTILE]}
    sql = _compile(catalog, rule, engine=engine)
    statements = sqlglot.parse(sql, read=dialect)
    assert len([s for s in statements if s is not None]) == 1
    strings = {node.this for node in statements[0].find_all(exp.Literal) if node.is_string}
    for value in HOSTILE:
        assert value in strings, (engine, value)
    assert not list(statements[0].find_all(exp.Drop))


def _query(path, query, params=None):
    import duckdb

    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute(query, params or []).fetchall()
    finally:
        con.close()


def test_segment_size_counts_a_draft_without_a_build(built_copy, warehouse, tmp_path):
    # A copy (fixture built_copy): this process's dbt runs keep the session file open, and
    # DuckDB lets one process at a time hold a file (the CLI says so in one line; see below).
    copy = built_copy

    def sql(query, params=None):
        return _query(copy, query, params)

    env = {**os.environ, "CDP_DUCKDB_PATH": str(copy)}
    cdp = [sys.executable, "-m", "orchestration.cli"]
    done = subprocess.run([*cdp, "segment", "size", str(settings.PROJECT_DIR / "segments" / "vip_customers.yml"),
                           "--sample", "3"], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    count = sql("select count(*) from marts.segment_memberships where segment_name = 'vip_customers'")[0][0]
    assert "vip_customers (" in done.stdout and f": {count:,} of " in done.stdout, done.stdout
    draft = tmp_path / "draft.yml"
    draft.write_text("""
version: 2
exposures:
  - name: recent_big_spenders
    type: application
    owner: {name: test}
    config:
      meta:
        segment:
          rule:
            all:
              - {in_segment: vip_customers}
              - {event: Order Placed, within_days: 365, where: [{property: total_price, op: '>', value: 100}]}
""")
    done = subprocess.run([*cdp, "segment", "size", str(draft)], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    clock = simulation_clock(warehouse["path"])
    expected = sql("""select count(distinct m.profile_id) from marts.segment_memberships m
                      join marts.profile_events e using (profile_id)
                      where m.segment_name = 'vip_customers' and e.event_name = 'Order Placed'
                        and e.occurred_at > ? - interval 365 day and e.occurred_at <= ?
                        and cast(json_extract_string(e.properties, '$.total_price') as double) > 100""",
                   [clock, clock])[0][0]
    assert f": {expected:,} of " in done.stdout, (expected, done.stdout)
    draft.write_text(draft.read_text().replace("value: 100", "value: 'a lot'"))
    done = subprocess.run([*cdp, "segment", "size", str(draft)], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 2
    assert done.stderr.strip().startswith(f"error: {draft}: segment 'recent_big_spenders', at rule.all[1].where[0].value")
    done = subprocess.run([*cdp, "segment", "size", str(tmp_path / "missing.yml")], capture_output=True, text=True,
                          env=env, timeout=120)
    assert done.returncode == 2 and "no such file" in done.stderr
    import duckdb

    holder = duckdb.connect(str(copy))  # as a running build would
    try:
        done = subprocess.run([*cdp, "segment", "size", str(settings.PROJECT_DIR / "segments" / "vip_customers.yml")],
                              capture_output=True, text=True, env=env, timeout=120)
    finally:
        holder.close()
    assert done.returncode == 2 and "cannot read the warehouse" in done.stderr and "Traceback" not in done.stderr


def test_membership_history_and_sizes_accumulate_across_builds(dbt_build, warehouse, sql):
    clock = simulation_clock(warehouse["path"])
    later = (clock + dt.timedelta(days=30)).isoformat(sep=" ")
    before = dict(sql("select segment_name, count(*) from marts.segment_memberships group by 1"))
    with _warehouse_env(warehouse["path"]):
        outcome = run_dbt(["build", "-s", "int_segment_memberships_evaluated+", "--exclude", "test_type:unit",
                           "--vars", f"{{as_of: '{later}'}}"], target="dev")
    assert outcome.success, outcome.failures
    # 30 days on with no new data, nobody has abandoned a cart in the last 7 days.
    assert before.get("cart_abandoners_7d", 0) > 0
    exited = sql("""select count(*) from marts.segment_membership_history
                    where segment_name = 'cart_abandoners_7d' and exited_at = cast(? as timestamp)""", [later])[0][0]
    assert exited == before["cart_abandoners_7d"]
    assert sql("select count(*) from marts.segment_memberships where segment_name = 'cart_abandoners_7d'")[0][0] == 0
    # Everyone still in keeps the moment they entered; one row per build and segment in the sizes.
    assert sql("select count(*) from marts.segment_memberships where entered_at > cast(? as timestamp)",
               [clock])[0][0] == sql("""select count(*) from marts.segment_membership_history
                                        where entered_at = cast(? as timestamp)""", [later])[0][0]
    assert sql("select count(*), count(distinct dbt_invocation_id) from marts.segment_sizes")[0] == (12, 2)
    assert sql("""select count(*) from marts.segment_membership_history
                  group by segment_name, profile_id having count(*) filter (where exited_at is null) > 1""") == []
