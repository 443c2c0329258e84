"""The whole dbt project on the `snowflake` target, without a Snowflake account.

One small simulation is landed twice: in a Snowflake emulator (fakesnow, in a child process;
python_tests/fakesnow_warehouse.py) and in a DuckDB file. On the emulator the whole project
is built once (`dbt build`: seeds, every model, the snapshots, every data test and unit test)
and must pass; then, a month later, the segment layer, every stateful node (incremental and
graph models, snapshots) takes its incremental path. DuckDB builds the same models (its data
tests run in the session build, conftest.py), and the segment layer's answers must be the
same on both engines: segment members and sizes, history, overlap, audience members with
their match keys, holdouts.

fakesnow runs Snowflake SQL by translating it to DuckDB, so a statement it runs may still
fail on Snowflake. Every SQL file dbt wrote for the snowflake target (target/run, and what
target/compiled holds beyond it: tests' and unit tests' fixtures) is therefore also parsed
with sqlglot's Snowflake dialect and searched for constructs only DuckDB accepts. What the
emulator cannot run is worked around in the emulator, each with its reason
(fakesnow_warehouse.py); a node it cannot run at all goes in EMULATOR_CANNOT_RUN, with the
reason, and is tried in a strict xfail test instead.

Every node is covered without being named here: a new model, test or snapshot is in the
build, and its failure message names it with the database's error.
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
from orchestration.loads.sync import start_simulation
from orchestration.segments.compiler import Compiler, manifest_catalog

from .fakesnow_warehouse import emulator_process

SEED = 7
PROFILES = 150
AS_OF = "2025-06-01 00:00:00"
LATER = "2025-07-01 00:00:00"
LAYER = ["int_segment_memberships_evaluated+", "int_audience_assignments+"]
# The second build: the segment layer (compared with DuckDB) and every node that keeps state
# from one build to the next, on its incremental path.
STATEFUL = ["config.materialized:incremental", "config.materialized:connected_components",
            "config.materialized:limited_components", "resource_type:snapshot"]
# Nodes (dbt selectors) the emulator cannot run though Snowflake can, with the reason: left
# out of the emulator's builds and tried in test_what_the_emulator_cannot_run (strict xfail).
# A node belongs here only when no work-around in fakesnow_warehouse.py is possible.
EMULATOR_CANNOT_RUN: dict[str, str] = {}
TARGET_PATHS = {"dev": "target_duckdb", "snowflake": "target_snowflake"}  # one each: dbt parses once
# Snowflake has threads to spare; the emulator serves each connection in a thread of its own.
THREADS = {"dev": "1", "snowflake": "4"}
# Functions and syntax only DuckDB accepts (Snowflake has none of them, or other meanings).
DUCKDB_ONLY = re.compile(r"'0x'|\b(json_extract_string|json_extract|regexp_full_match|regexp_matches|sha256|"
                         r"list_\w+|struct_pack|strftime|strptime|epoch_ms|arg_max|arg_min|string_agg|"
                         r"hugeint|ubigint)\s*\(|::\s*(hugeint|ubigint|json)\b|\binterval\s+\d+\s+day\b", re.IGNORECASE)
# Snowflake functions sqlglot parses as unknown (exp.Anonymous); any other unknown function is
# most likely another engine's.
SNOWFLAKE_FUNCTIONS_SQLGLOT_LACKS = {"hash", "to_timestamp_ntz"}
BUILT = ("success", "pass", "warn", "no-op")  # not failures (warn: a test of severity warn; no-op: exposures)


def _dbt(args: list[str], target: str, env: dict) -> dict:
    """dbt in-process on `target`, as of env's CDP_AS_OF: {success, results: [{unique_id,
    resource_type, status, message}], exception}. (Not run_dbt: that sets the DuckDB
    warehouse's clock as CDP_AS_OF; and not --vars, which would make dbt parse again.)"""
    from dbt.cli.main import dbtRunner

    with environment({**env, "CDP_TARGET": target, "CDP_THREADS": THREADS[target]}):
        result = dbtRunner().invoke([*args, "--target", target, "--project-dir", str(settings.PROJECT_DIR),
                                     "--profiles-dir", str(settings.profiles_dir())])
    results = [{"unique_id": r.node.unique_id, "resource_type": str(r.node.resource_type), "status": str(r.status),
                "message": " ".join((r.message or "").split())[:1500]}
               for r in getattr(result.result, "results", None) or []]
    exception = None if result.exception is None else " ".join(str(result.exception).split())[:1500]
    return {"success": bool(result.success), "results": results, "exception": exception}


def _failures(build: dict) -> list[str]:
    """Each failed or erred node of a build with the database's message, then the nodes skipped
    because of them."""
    failures = [f"{r['unique_id']} [{r['status']}]: {r['message']}" for r in build["results"]
                if r["status"] not in (*BUILT, "skipped")]
    if skipped := sorted(r["unique_id"] for r in build["results"] if r["status"] == "skipped"):
        failures.append(f"skipped because of the above ({len(skipped)}): {', '.join(skipped)}")
    if build["exception"]:
        failures.append(f"dbt: {build['exception']}")
    if not build["success"] and not failures:
        failures.append("dbt reported failure without a failed node")
    return failures


def _sql_files(target_path: Path) -> dict[Path, str]:
    return {p: p.read_text() for d in ("compiled", "run") for p in sorted((target_path / d).rglob("*.sql"))}


def _excluded() -> list[str]:
    return ["--exclude", *EMULATOR_CANNOT_RUN] if EMULATOR_CANNOT_RUN else []


@pytest.fixture(scope="module")
def engines(tmp_path_factory):
    """Both warehouses built twice (as of AS_OF, then LATER), the emulator the whole project
    the first time. Yields handles on both, the emulator's builds and the SQL dbt wrote."""
    root = tmp_path_factory.mktemp("snowflake_build")
    snow_target, duck_target = root / TARGET_PATHS["snowflake"], root / TARGET_PATHS["dev"]
    second = ["build", "-s", *LAYER, *STATEFUL, "--exclude", "test_type:unit"]
    # The emulator lands its copy of the simulation in its own process while DuckDB builds.
    with emulator_process(root, SEED, PROFILES, AS_OF[:10]) as snow_env:
        path = root / "warehouse.duckdb"
        start_simulation(path, SEED, PROFILES, AS_OF[:10], report=lambda m: None)
        duck_env = {"CDP_DUCKDB_PATH": str(path)}
        # DuckDB's data and unit tests run in the session build (conftest.py): only what is compared.
        built = _dbt(["build", "--resource-type", "model", "seed", "snapshot", "--target-path", str(duck_target)],
                     "dev", {**duck_env, "CDP_AS_OF": AS_OF})
        assert not _failures(built), ("dev", _failures(built))
        builds = {"first": _dbt(["build", "--target-path", str(snow_target), *_excluded()], "snowflake",
                                {**snow_env, "CDP_AS_OF": AS_OF})}
        written = _sql_files(snow_target)
        built = _dbt([*second, "--resource-type", "model", "snapshot", "--target-path", str(duck_target)], "dev",
                     {**duck_env, "CDP_AS_OF": LATER})
        assert not _failures(built), ("dev", _failures(built))
        builds["second"] = _dbt([*second, *EMULATOR_CANNOT_RUN, "--target-path", str(snow_target)], "snowflake",
                                {**snow_env, "CDP_AS_OF": LATER})
        rewritten = {p: sql for p, sql in _sql_files(snow_target).items() if written.get(p) != sql}

        import snowflake.connector

        connection = snowflake.connector.connect(
            user="fake", password="fake", account="fake", host=snow_env["SNOWFLAKE_HOST"],
            port=int(snow_env["SNOWFLAKE_PORT"]), protocol="http", database="ANALYTICS", schema="PUBLIC",
            session_parameters={"CLIENT_OUT_OF_BAND_TELEMETRY_ENABLED": False})
        duck = duckdb.connect(str(path))
        try:
            yield {"snowflake": connection.cursor(), "duckdb": duck, "builds": builds, "compiled": written,
                   "recompiled": rewritten, "target": snow_target,
                   "manifest": json.loads((snow_target / "manifest.json").read_text()),
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


def _nodes(manifest: dict, *resource_types: str) -> dict[str, dict]:
    return {uid: n for uid, n in (*manifest["nodes"].items(), *manifest["unit_tests"].items())
            if n["resource_type"] in resource_types}


def _cannot_run(manifest: dict) -> set[str]:
    """EMULATOR_CANNOT_RUN's nodes and the tests of them."""
    names = set(EMULATOR_CANNOT_RUN)
    nodes = _nodes(manifest, "model", "seed", "snapshot", "test", "unit_test")
    left_out = {uid for uid, n in nodes.items() if n["name"] in names}
    return left_out | {uid for uid, n in nodes.items() if n["resource_type"] in ("test", "unit_test")
                       and set(n["depends_on"]["nodes"]) & left_out}


def test_the_whole_project_builds_on_the_emulator(engines):
    """`dbt build` of everything on the snowflake target: every seed, model, snapshot, data test
    and unit test ran, and passed."""
    first, manifest = engines["builds"]["first"], engines["manifest"]
    failures = _failures(first)
    assert not failures, f"{len(failures)} node(s) failed on the emulator:\n" + "\n".join(failures)
    ran = {r["unique_id"] for r in first["results"]}
    expected = set(_nodes(manifest, "model", "seed", "snapshot", "test", "unit_test")) - _cannot_run(manifest)
    assert not expected - ran, f"not run on the emulator: {sorted(expected - ran)}"
    kinds = {r["resource_type"] for r in first["results"]}
    assert {"model", "seed", "snapshot", "test", "unit_test"} <= kinds, kinds


def test_the_stateful_nodes_build_again_incrementally(engines):
    """A month later the segment layer, the incremental and graph models and the snapshots build
    again on the emulator, each incremental model by merging into (not replacing) its table."""
    second, manifest = engines["builds"]["second"], engines["manifest"]
    failures = _failures(second)
    assert not failures, f"{len(failures)} node(s) failed in the second build:\n" + "\n".join(failures)
    ran = {r["unique_id"] for r in second["results"]}
    stateful = {uid for uid, n in _nodes(manifest, "model", "snapshot").items()
                if n["resource_type"] == "snapshot"
                or n["config"]["materialized"] in ("incremental", "connected_components", "limited_components")}
    assert stateful and not stateful - _cannot_run(manifest) - ran, sorted(stateful - ran)
    replaced = []
    for uid in stateful & ran:
        node = manifest["nodes"][uid]
        if node["config"]["materialized"] != "incremental":
            continue
        sql = (engines["target"] / "run" / "cdp" / node["original_file_path"]).read_text()
        if not re.search(r"\b(merge\s+into|insert\s+(overwrite\s+)?into|delete\s+from)\b", sql, re.IGNORECASE):
            replaced.append(f"{uid}: {' '.join(sql.split())[:200]}")
    assert not replaced, replaced


def test_the_snapshots_hold_every_profile_on_both_engines(engines):
    """Each snapshot built twice holds one current version per row of what it snapshots, the same
    keys on both engines."""
    snapshots = _nodes(engines["manifest"], "snapshot")
    assert snapshots
    for uid, node in snapshots.items():
        for build in ("first", "second"):
            status = {r["unique_id"]: r["status"] for r in engines["builds"][build]["results"]}.get(uid)
            assert status == "success", (uid, build, status)
        source = [engines["manifest"]["nodes"][d] for d in node["depends_on"]["nodes"] if d.startswith("model.")]
        assert len(source) == 1, (uid, node["depends_on"]["nodes"])
        relation, key = f"{node['schema']}.{node['alias']}", node["config"]["unique_key"]
        current = _same(engines, f"select {key} from {relation} where dbt_valid_to is null")
        rows = _rows(engines["snowflake"], f"select count(*) from {source[0]['schema']}.{source[0]['alias']}")
        assert len(current) == rows[0][0] > 0, (uid, len(current), rows)


def test_every_sql_file_is_snowflake_sql(engines):
    """What dbt sent the emulator (target/run: DDL, merges, tests), and what target/compiled holds
    beyond it (unit tests' fixtures), from both builds, parses as Snowflake SQL, calls no function
    sqlglot does not know for Snowflake and has no DuckDB-only construct."""
    target = engines["target"]
    files = {**{(p, "first"): sql for p, sql in engines["compiled"].items()},
             **{(p, "second"): sql for p, sql in engines["recompiled"].items()}}
    problems, checked = [], 0
    for (path, build), sql in files.items():
        relative = path.relative_to(target)
        if relative.parts[0] == "compiled":
            run = files.get((target / "run" / Path(*relative.parts[1:]), build))
            if run is not None and sql.strip() in run:
                continue  # checked as part of what ran
        checked += 1
        name = f"{relative} ({build} build)"
        try:
            statements = [s for s in sqlglot.parse(sql, read="snowflake") if s is not None]
        except sqlglot.errors.ParseError as error:
            problems.append(f"{name}: {str(error).splitlines()[0]}")
            continue
        unknown = {f.name for s in statements for f in s.find_all(exp.Anonymous)}
        if unknown := {f for f in unknown if f.lower() not in SNOWFLAKE_FUNCTIONS_SQLGLOT_LACKS}:
            problems.append(f"{name}: unknown functions {sorted(unknown)}")
        if match := DUCKDB_ONLY.search(sql):
            problems.append(f"{name}: DuckDB-only {match.group(0)!r}")
    assert not problems, f"{len(problems)} file(s) are not Snowflake SQL:\n" + "\n".join(problems)
    ran = [r for r in engines["builds"]["first"]["results"]
           if r["resource_type"] in ("model", "snapshot", "test", "unit_test")]
    assert checked >= len(ran), (checked, len(ran))


# The tables that grow with events and are read by time (docs/snowflake.md, "Sizing").
CLUSTERED = {"int_segment_calls_deduplicated", "profile_events", "sessions", "segment_membership_history"}


def test_the_tables_read_by_time_are_created_with_their_clustering_keys(engines):
    """On Snowflake each of CLUSTERED is created sorted by its `cluster_by` and then given it as
    its clustering key (the emulator ran both statements in the first build)."""
    manifest = engines["manifest"]
    models = {n["name"]: n for n in _nodes(manifest, "model").values()}
    clustered = {name for name, n in models.items() if n["config"].get("cluster_by")}
    assert CLUSTERED <= clustered, sorted(CLUSTERED - clustered)
    for name in sorted(clustered):
        node = models[name]
        keys = node["config"]["cluster_by"]
        key = ", ".join([keys] if isinstance(keys, str) else keys)
        sql = " ".join(engines["compiled"][engines["target"] / "run" / "cdp" / node["original_file_path"]].split())
        assert re.search(rf"order by \( ?{re.escape(key)} ?\)", sql, re.IGNORECASE), (name, sql[-400:])
        assert re.search(rf"alter table \S+ cluster by \({re.escape(key)}\)", sql, re.IGNORECASE), (name, sql[-400:])


if EMULATOR_CANNOT_RUN:  # (an empty parametrization would be reported as a skip)
    @pytest.mark.parametrize("node", [pytest.param(n, marks=pytest.mark.xfail(strict=True, reason=reason))
                                      for n, reason in EMULATOR_CANNOT_RUN.items()])
    def test_what_the_emulator_cannot_run(engines, node):
        build = _dbt(["build", "-s", node, "--target-path", str(engines["target"])], "snowflake",
                     {**engines["env"]["snowflake"], "CDP_AS_OF": AS_OF})
        assert not _failures(build), _failures(build)


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
    clustered = ("create or replace transient table A.marts.e (id varchar, d date) as (select * from (\n"
                 "    select id, d from x order by id\n)\norder by (\n    event_name, to_date(d)\n)\n)\n/* {\"app\": \"dbt\"} */;\n"
                 "alter table A.marts.e cluster by (event_name, to_date(d));")
    assert rewrite(clustered) == ("create or replace transient table A.marts.e (id varchar, d date) as (\n"
                                  "    select id, d from x order by id\n\n)\n/* {\"app\": \"dbt\"} */;\n"
                                  "alter table A.marts.e cluster by (event_name, to_date(d));")
    without_columns = "create or replace table e as (select * from (select 1 as a) order by (a));"
    assert rewrite(without_columns) == without_columns
    untouched = "select to_number('12', '99'), 'temporary table' from t"
    assert rewrite(untouched) == untouched


def test_the_emulator_describes_integers_as_snowflake_does():
    """DESCRIBE TABLE on the emulator: DuckDB's integer types (HASH gives UBIGINT) as Snowflake's
    NUMBER(38,0); other types as fakesnow reports them."""
    import fakesnow
    import snowflake.connector

    from .fakesnow_warehouse import patched_emulator

    with patched_emulator(), fakesnow.patch():
        cursor = snowflake.connector.connect(database="ANALYTICS", schema="PUBLIC").cursor()
        cursor.execute("create database if not exists ANALYTICS")
        cursor.execute("create or replace table t as select hash('a') as h, 1::integer as i, "
                       "1.5::number(10, 2) as d, 'x'::varchar as s, current_date() as day")
        cursor.execute("describe table t")
        types = {row[0]: row[1] for row in cursor.fetchall()}
    assert types == {"H": "NUMBER(38,0)", "I": "NUMBER(38,0)", "D": "NUMBER(10,2)", "S": "VARCHAR(16777216)",
                     "DAY": "DATE"}


def test_the_shim_renders_what_dbt_compiles_for_snowflake(engines):
    """`cdp segment size` renders the compiler macros itself (engine='snowflake' on Snowflake):
    it must produce the SQL dbt compiled for the snowflake target."""
    manifest = engines["manifest"]
    model = manifest["nodes"]["model.cdp.int_segment_memberships_evaluated"]
    compiled = engines["compiled"][engines["target"] / "compiled" / "cdp" / model["original_file_path"]]
    raw, _ = manifest_catalog(manifest)
    wanted = ("profiles", "profile_traits", "profile_rfm", "stg_predictions__profile_scores", "profile_events")
    relations = {n["name"]: n["relation_name"] for n in manifest["nodes"].values()
                 if n["resource_type"] == "model" and n["name"] in wanted}
    compiler = Compiler(settings.PROJECT_DIR, {"as_of": AS_OF}, engine="snowflake")
    checked = compiler.catalog(raw["segments"], raw["columns"], raw["events"], "test")
    mine = compiler.membership_sql(sorted(checked["segments"]), checked, relations)
    body = compiled.split("\n", 2)[2]  # after the two noqa comment lines
    assert mine.strip() == body.strip()
