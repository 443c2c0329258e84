"""The incremental sessions mart against a from-scratch build.

A small simulated warehouse (300 people) is built up to the sessions mart, then moved on by
the same 45-day increment as the session warehouse (new calls, late calls, new logins that
re-attribute devices, identity merges) and built again: the sessions mart takes the
incremental path. Then `--full-refresh -s sessions` sessionizes every call from scratch
over the same profile_events; the two must agree row for row.
"""

from __future__ import annotations

import os
from pathlib import Path

import duckdb
import pytest

from orchestration.dbt.runner import run_dbt
from python_tests.conftest import AS_OF, INCREMENT_HOURS, SEED

PEOPLE = 300
# Seeds and every model up to the sessions mart; no data tests (the session build runs them).
UP_TO_SESSIONS = ["build", "-s", "+sessions", "--resource-type", "model", "--resource-type", "seed"]


def dbt_on(path: Path, args: list[str]):
    saved = os.environ.get("CDP_DUCKDB_PATH")
    os.environ["CDP_DUCKDB_PATH"] = str(path)
    try:
        return run_dbt(args, target="dev")
    finally:
        if saved is None:
            os.environ.pop("CDP_DUCKDB_PATH", None)
        else:
            os.environ["CDP_DUCKDB_PATH"] = saved


def query(path: Path, sql: str, params=None):
    con = duckdb.connect(str(path))
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


@pytest.fixture(scope="module")
def incremental_then_full(tmp_path_factory):
    """(path, facts): sessions built before the increment, incrementally after it (kept in
    main.sessions_incremental), then rebuilt from scratch in marts.sessions."""
    from orchestration.loads.sync import advance, start_simulation

    path = tmp_path_factory.mktemp("sessions") / "warehouse.duckdb"
    start_simulation(path, SEED, PEOPLE, AS_OF, report=lambda m: None)
    outcome = dbt_on(path, UP_TO_SESSIONS)
    assert outcome.success, outcome.failures
    con = duckdb.connect(str(path))
    try:
        con.execute("create table main.sessions_before as select * from marts.sessions")
        high_water_mark = con.execute("select max(ended_at) from marts.sessions").fetchone()[0]
    finally:
        con.close()

    advance(path, INCREMENT_HOURS, report=lambda m: None)
    outcome = dbt_on(path, ["run", "-s", "+sessions"])
    assert outcome.success, outcome.failures
    query(path, "create table main.sessions_incremental as select * from marts.sessions")
    outcome = dbt_on(path, ["run", "-s", "sessions", "--full-refresh"])
    assert outcome.success, outcome.failures
    return path, {"high_water_mark": high_water_mark}


def test_an_incremental_build_gives_the_sessions_of_a_full_refresh(incremental_then_full):
    path, _ = incremental_then_full
    (incremental, full), = query(path, """select (select count(*) from main.sessions_incremental),
                                                 (select count(*) from marts.sessions)""")
    assert full > 1000 and incremental == full
    only_incremental = query(path, """select * from main.sessions_incremental
                                      except all select * from marts.sessions""")
    only_full = query(path, "select * from marts.sessions except all select * from main.sessions_incremental")
    assert only_incremental == [] and only_full == [], (only_incremental[:3], only_full[:3])


def test_the_increment_changed_sessions_a_high_water_mark_alone_would_miss(incremental_then_full):
    """The case for comparing each device's calls rather than reading only calls after the
    last stored one: in this increment, devices with no call after the previous high-water
    mark (less the timeout) still had their sessions change (late calls, or calls that moved
    to another profile when identity merged profiles or a device's first login came in)."""
    path, facts = incremental_then_full
    (changed, missed), = query(path, """
        with changed as (
            select anonymous_id from (
                select * from main.sessions_before except select * from marts.sessions
            ) as gone
        ),
        recent as (
            select distinct anonymous_id from marts.profile_events
            where source = 'segment' and occurred_at >= ? - interval 30 minute
        )
        select count(distinct c.anonymous_id),
               count(distinct c.anonymous_id) filter (where r.anonymous_id is null)
        from changed as c left join recent as r on c.anonymous_id = r.anonymous_id""",
                               [facts["high_water_mark"]])
    assert changed > 0
    assert missed > 0, "no device changed without a new call: this increment does not exercise the fingerprint"
