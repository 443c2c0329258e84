"""The segment and audience layer on the `snowflake` dbt target, without a Snowflake account.

One small simulation is landed twice: in a Snowflake emulator (fakesnow, in a thread of this
process; python_tests/fakesnow_warehouse.py) and in a DuckDB file. The layer and what it
reads are built on both, twice (the second build later, so the incremental models take
their incremental path), and the answers must be the same: segment members and sizes,
history, overlap, audience members with their match keys, holdouts.

fakesnow runs Snowflake SQL by translating it to DuckDB, so a statement it runs may still
fail on Snowflake. Every compiled file of the layer is therefore also parsed with sqlglot's
Snowflake dialect and searched for constructs only DuckDB accepts. What the emulator cannot
run is worked around in the emulator, each with its reason (fakesnow_warehouse.py).
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import duckdb
import pytest
import sqlglot
from sqlglot import exp

from orchestration import settings
from orchestration.dbt.project import environment
from orchestration.dbt.runner import DbtOutcome
from orchestration.loads.sync import start_simulation
from orchestration.segments.compiler import Compiler, manifest_catalog

from .fakesnow_warehouse import emulator

SEED = 7
PROFILES = 150
AS_OF = "2025-06-01 00:00:00"
LATER = "2025-07-01 00:00:00"
UPSTREAM = ["-s", "+int_segment_memberships_evaluated", "+int_audience_assignments",
            "--exclude", "int_segment_memberships_evaluated", "int_audience_assignments",
            "--resource-type", "model", "seed"]
LAYER = ["-s", "int_segment_memberships_evaluated+", "int_audience_assignments+"]
TARGET_PATHS = {"dev": "target_duckdb", "snowflake": "target_snowflake"}  # one each: dbt parses once
# The layer's folders in dbt's target/compiled and target/run.
LAYER_DIRS = ("models/intermediate/segments", "models/marts/segments")
# Functions and syntax only DuckDB accepts (Snowflake has none of them, or other meanings).
DUCKDB_ONLY = re.compile(r"'0x'|\b(json_extract_string|json_extract|regexp_full_match|regexp_matches|sha256|"
                         r"list_\w+|struct_pack|strftime|strptime|epoch_ms|arg_max|arg_min|string_agg|"
                         r"hugeint|ubigint)\s*\(|::\s*(hugeint|ubigint|json)\b|\binterval\s+\d+\s+day\b", re.I)


def _dbt(args: list[str], target: str, env: dict) -> DbtOutcome:
    """dbt in-process on `target`, as of env's CDP_AS_OF. (Not run_dbt: that sets the DuckDB
    warehouse's clock as CDP_AS_OF; and not --vars, which would make dbt parse again.)"""
    from dbt.cli.main import dbtRunner

    with environment({**env, "CDP_TARGET": target, "CDP_THREADS": "1"}):
        result = dbtRunner().invoke([*args, "--target", target, "--project-dir", str(settings.PROJECT_DIR),
                                     "--profiles-dir", str(settings.profiles_dir())])
    outcome = DbtOutcome(success=bool(result.success))
    for r in getattr(result.result, "results", None) or []:
        key = (str(r.node.resource_type), str(r.status))
        outcome.counts[key] = outcome.counts.get(key, 0) + 1
        if str(r.status) in ("error", "fail"):
            outcome.failures.append(f"{r.node.name}: {' '.join((r.message or '').split())[:500]}")
    if result.exception is not None:
        outcome.failures.append(" ".join(str(result.exception).split())[:1000])
    return outcome


def _build(target: str, target_path: Path, env: dict, as_of: str, first: bool) -> DbtOutcome:
    """The first time, the layer's inputs (models and seeds) and the layer with its data and
    unit tests; later, the layer again (its incremental models incrementally), as of `as_of`."""
    env = {**env, "CDP_AS_OF": as_of}
    paths = ["--target-path", str(target_path)]
    if first:
        upstream = _dbt(["build", *UPSTREAM, *paths], target, env)
        assert upstream.success, (target, upstream.failures)
    layer = _dbt(["build", *LAYER, *paths, *([] if first else ["--exclude", "test_type:unit"])], target, env)
    assert layer.success, (target, layer.failures)
    return layer


@pytest.fixture(scope="module")
def engines(tmp_path_factory):
    """Both warehouses built twice (as of AS_OF, then LATER): (snowflake, duckdb) handles."""
    root = tmp_path_factory.mktemp("segments_snowflake")
    path = root / "warehouse.duckdb"
    start_simulation(path, SEED, PROFILES, AS_OF[:10], report=lambda m: None)
    duck_env = {"CDP_DUCKDB_PATH": str(path)}
    _build("dev", root / TARGET_PATHS["dev"], duck_env, AS_OF, first=True)
    with emulator(settings.PROJECT_DIR, SEED, PROFILES, AS_OF[:10]) as snow_env:
        first = _build("snowflake", root / TARGET_PATHS["snowflake"], snow_env, AS_OF, first=True)
        compiled = {p: p.read_text() for d in ("compiled", "run") for layer in LAYER_DIRS
                    for p in sorted((root / TARGET_PATHS["snowflake"] / d / "cdp" / layer).rglob("*.sql"))}
        _build("dev", root / TARGET_PATHS["dev"], duck_env, LATER, first=False)
        _build("snowflake", root / TARGET_PATHS["snowflake"], snow_env, LATER, first=False)

        import snowflake.connector

        connection = snowflake.connector.connect(
            user="fake", password="fake", account="fake", host=snow_env["SNOWFLAKE_HOST"],
            port=int(snow_env["SNOWFLAKE_PORT"]), protocol="http", database="ANALYTICS", schema="PUBLIC",
            session_parameters={"CLIENT_OUT_OF_BAND_TELEMETRY_ENABLED": False})
        duck = duckdb.connect(str(path))
        try:
            yield {"snowflake": connection.cursor(), "duckdb": duck, "first_build": first, "compiled": compiled,
                   "manifest": json.loads((root / TARGET_PATHS["snowflake"] / "manifest.json").read_text()),
                   "env": {"snowflake": snow_env, "dev": duck_env}, "root": root}
        finally:
            duck.close()
            connection.close()


def _rows(engine, query: str) -> list[tuple]:
    if isinstance(engine, duckdb.DuckDBPyConnection):
        return sorted(tuple(r) for r in engine.execute(query).fetchall())
    engine.execute(query)
    return sorted(tuple(r) for r in engine.fetchall())


def _same(engines, query: str) -> list[tuple]:
    on_duckdb, on_snowflake = _rows(engines["duckdb"], query), _rows(engines["snowflake"], query)
    assert on_snowflake == on_duckdb, (query, sorted(set(on_duckdb) ^ set(on_snowflake))[:10])
    return on_duckdb


def test_the_layer_and_its_unit_tests_pass_on_snowflake(engines):
    first = engines["first_build"]
    assert first.count("unit_test", "pass") >= 5, first.counts
    assert first.count("model", "success") == 8, first.counts
    assert first.count("test", "pass") > 20, first.counts


def test_every_compiled_file_is_snowflake_sql(engines):
    compiled = engines["compiled"]
    assert len([p for p in compiled if p.name == "int_segment_memberships_evaluated.sql"]) >= 2
    problems = []
    for path, sql in compiled.items():
        try:
            statements = [s for s in sqlglot.parse(sql, read="snowflake") if s is not None]
        except sqlglot.errors.ParseError as error:
            problems.append(f"{path.name}: {str(error).splitlines()[0]}")
            continue
        # A function sqlglot does not know for Snowflake is most likely another engine's.
        unknown = {f.name for s in statements for f in s.find_all(exp.Anonymous)}
        if unknown:
            problems.append(f"{path.name}: unknown functions {sorted(unknown)}")
        if match := DUCKDB_ONLY.search(sql):
            problems.append(f"{path.name}: DuckDB-only {match.group(0)!r}")
    assert not problems, problems


def test_segments_are_the_same_on_both_engines(engines):
    sizes = _same(engines, "select segment_name, measured_at, member_count, profile_count, "
                           "round(share_of_profiles, 9) from marts.segment_sizes")
    assert len(sizes) == 12 and sum(r[2] for r in sizes) > 0
    _same(engines, "select segment_name, profile_id, entered_at from marts.segment_memberships")
    # (fakesnow hands a null timestamp back as 1970-01-01: compare the flag.)
    _same(engines, "select segment_name, profile_id, entered_at, exited_at is null, "
                   "cast(exited_at as varchar) from marts.segment_membership_history")
    _same(engines, "select segment_a, segment_b, size_a, size_b, shared_count, round(jaccard, 9), "
                   "round(share_of_a_in_b, 9) from marts.segment_overlap")


def test_audiences_are_the_same_on_both_engines(engines):
    members = _same(engines, "select audience_name, profile_id, channel, email, phone, email_sha256, phone_sha256, "
                             "phone_digits_sha256 from marts.audience_members")
    # (No simulated source records an ads opt-in, so the ads audience is empty on both.)
    assert "email_vip_lookalikes" in {r[0] for r in members}
    _same(engines, "select audience_name, profile_id, channel, priority_group, is_holdout "
                   "from intermediate.int_audience_assignments")
    _same(engines, "select audience_name, profile_id from marts.audience_holdouts")


def test_holdout_buckets_are_the_md5_buckets_on_both_engines(engines):
    """cdp.hash_bucket: the first 32 bits of the md5 of the key, mod the buckets, whatever the
    engine (on the emulator, to_number(.., 'XXXXXXXX') is read as hexadecimal: see
    fakesnow_warehouse.py), checked on every event id."""
    query = ("select event_id, {{ cdp.hash_bucket(\"'email_vip_winback:' || event_id\", 10000) }} as bucket, "
             "{{ cdp.sha256_hex('event_id') }} as match_key from {{ ref('profile_events') }}")
    expected = {}
    for target, engine in (("snowflake", engines["snowflake"]), ("dev", engines["duckdb"])):
        sql = _compile_inline(engines, target, query)
        rows = _rows(engine, sql)
        assert rows, target
        for event_id, bucket, match_key in rows:
            digest = hashlib.md5(f"email_vip_winback:{event_id}".encode()).hexdigest()
            assert int(bucket) == int(digest[:8], 16) % 10000, (target, event_id)
            assert match_key == hashlib.sha256(event_id.encode()).hexdigest(), (target, event_id)
        expected[target] = rows
    assert expected["snowflake"] == expected["dev"]


def _compile_inline(engines, target: str, query: str) -> str:
    from dbt.cli.main import dbtRunner

    with environment({**engines["env"][target], "CDP_TARGET": target, "CDP_AS_OF": AS_OF}):
        result = dbtRunner().invoke(["compile", "--inline", query, "--target", target, "--quiet",
                                     "--target-path", str(engines["root"] / TARGET_PATHS[target]),
                                     "--project-dir", str(settings.PROJECT_DIR),
                                     "--profiles-dir", str(settings.profiles_dir())])
    assert result.success, (target, result.exception)
    return result.result.results[0].node.compiled_code


HOSTILE = ["O'Brien", "x' or '1'='1", "'; drop table marts.profiles; --", "back\\slash\\", "\\' or 1=1 --",
           "semi;colon", "$$dollar$$", "--comment", "/* block */", "new\nline", "tab\tand \\n", "ünïcødé"]


def test_hostile_values_select_exactly_themselves_on_snowflake(engines):
    """Each value of a rule is a literal on Snowflake too (macro snowflake__sql_string): a
    profile named by a hostile value, or with it as an event property, matches that value
    and nothing else."""
    cursor = engines["snowflake"]
    cursor.execute("create or replace table public.hostile_profiles (profile_id varchar, first_name varchar)")
    cursor.execute("create or replace table public.hostile_events (profile_id varchar, event_name varchar, "
                   "occurred_at timestamp, properties varchar)")
    for i, value in enumerate(HOSTILE):
        cursor.execute("insert into public.hostile_profiles values (%s, %s)", (f"p{i}", value))
        cursor.execute("insert into public.hostile_events values (%s, 'Page Viewed', '2025-05-01', %s)",
                       (f"p{i}", json.dumps({"path": value})))
    raw, _ = manifest_catalog(engines["manifest"])
    relations = {"profiles": "public.hostile_profiles", "profile_events": "public.hostile_events"}
    compiler = Compiler(settings.PROJECT_DIR, {"as_of": AS_OF}, engine="snowflake")
    segments = {f"by_name_{i}": {"rule": {"trait": "first_name", "op": "=", "value": v}, "file": "test"}
                for i, v in enumerate(HOSTILE)}
    segments.update({f"by_path_{i}": {"rule": {"event": "Page Viewed", "where": [
        {"property": "path", "op": "in", "value": [v]}]}, "file": "test"} for i, v in enumerate(HOSTILE)})
    catalog = compiler.catalog(segments, raw["columns"], raw["events"], "test")
    sql = compiler.membership_sql(sorted(segments), catalog, relations)
    got = _rows(cursor, sql)
    expected = sorted([(f"by_name_{i}", f"p{i}") for i in range(len(HOSTILE))]
                      + [(f"by_path_{i}", f"p{i}") for i in range(len(HOSTILE))])
    assert got == expected
    assert _rows(cursor, "select count(*) from marts.profiles")[0][0] > 0  # nothing was dropped


def test_the_emulator_work_arounds_are_only_what_they_say():
    from .fakesnow_warehouse import rewrite

    hashed = "mod(to_number(substr(md5(a || ':' || b), 1, 8), 'XXXXXXXX'), 10000) < 5"
    assert rewrite(hashed) == "mod(cast('0x' || (substr(md5(a || ':' || b), 1, 8)) as bigint), 10000) < 5"
    assert rewrite("create or replace temporary table x as select 1") == "create or replace table x as select 1"
    untouched = "select to_number('12', '99'), 'temporary table' from t"
    assert rewrite(untouched) == untouched


def test_the_shim_renders_what_dbt_compiles_for_snowflake(engines):
    """`cdp segment size` renders the compiler macros itself (engine='snowflake' on Snowflake):
    it must produce the SQL dbt compiled for the snowflake target."""
    compiled = next(sql for path, sql in engines["compiled"].items()
                    if path.name == "int_segment_memberships_evaluated.sql" and "/compiled/" in str(path)
                    and "/unit_test" not in str(path) and "segment_name" in sql)
    manifest = engines["manifest"]
    raw, _ = manifest_catalog(manifest)
    wanted = ("profiles", "profile_traits", "profile_rfm", "stg_predictions__profile_scores", "profile_events")
    relations = {n["name"]: n["relation_name"] for n in manifest["nodes"].values()
                 if n["resource_type"] == "model" and n["name"] in wanted}
    compiler = Compiler(settings.PROJECT_DIR, {"as_of": AS_OF}, engine="snowflake")
    checked = compiler.catalog(raw["segments"], raw["columns"], raw["events"], "test")
    mine = compiler.membership_sql(sorted(checked["segments"]), checked, relations)
    body = compiled.split("\n", 2)[2]  # after the two noqa comment lines
    assert mine.strip() == body.strip()
