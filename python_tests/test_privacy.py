"""GDPR/CCPA on a copy of the session warehouse: export a person, forget them, and after one
build, the syncs and `cdp privacy complete`, find them nowhere: no mart, intermediate table,
snapshot, sync state or sync file holds any of their identifiers; raw rows are purged as the
policy says; a raw record loaded again later with their email stays out; consent per channel."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from orchestration.dbt.project import ensure_manifest
from orchestration.dbt.runner import run_dbt
from orchestration.exports import engine
from orchestration.exports.config import parse_sync
from orchestration.privacy import requests as privacy


@pytest.fixture
def copy(built_copy) -> Path:
    return built_copy


def query(path, sql, params=None):
    con = duckdb.connect(str(path))
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


def test_forget_removes_the_person_everywhere_after_one_build(copy, tmp_path, monkeypatch):
    manifest = json.loads(ensure_manifest().read_text())
    person = query(copy, """
        select p.profile_id, p.email, p.phone from marts.profiles as p
        where p.email is not null and p.phone is not null and p.can_email
          and exists (select 1 from marts.profile_events as e where e.profile_id = p.profile_id and e.source = 'segment')
        order by p.profile_id limit 1""")[0]
    profile_id, email, phone = person
    identifiers = query(copy, "select identifier_type, identifier_value from marts.profile_identifiers "
                              "where profile_id = ?", [profile_id])
    # Syncs that hold the person: a mirror file and a change file of every profile with email consent.
    out = tmp_path / "exports"
    specs = [parse_sync({"name": name, "source": {"model": "profiles"}, "purpose": "email",
                         "destination": {"type": "file", "format": fmt, "path": str(out / path)}, "mode": mode,
                         "fields": {"email": "email", "first_name": "first_name"}}, "test.yml")
             for name, fmt, path, mode in (("all_mirror", "parquet", "all.parquet", "mirror"),
                                           ("all_changes", "jsonl", "changes", "upsert"))]
    for spec in specs:
        assert engine.run_sync(spec, copy, manifest).status == "succeeded"

    # Scores written back by the Python asset (not by dbt): `complete` must clear them too.
    from orchestration.predictions.clv import score_warehouse

    score_warehouse(copy)
    assert query(copy, "select count(*) from marts.profile_predictions where profile_id = ?", [profile_id])[0][0] == 1

    # Export first (access request): one JSON document with every section.
    document_path = tmp_path / "export.json"
    privacy.export(copy, email.upper(), "email", document_path)
    document = json.loads(document_path.read_text())
    assert document["profiles"] == [profile_id] and document["golden_record"][0]["email"] == email
    assert document["events"] and document["identifiers"] and len(document["consent"]) == 3
    assert {row["sync_name"] for row in document["syncs"]} == {"all_mirror", "all_changes"}

    env = {**os.environ, "CDP_DUCKDB_PATH": str(copy), "CDP_ACTOR": "dpo@example.com"}
    done = subprocess.run([sys.executable, "-m", "orchestration.cli", "privacy", "forget", f"  {email.upper()} ",
                           "--reason", "asked by email"], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "1 profile(s) found" in done.stdout
    # Raw rows: purged where the policy says so, kept (pseudonymous) where it says keep.
    assert query(copy, "select count(*) from klaviyo.person where lower(email) = ?", [email])[0][0] == 0

    monkeypatch.setenv("CDP_DUCKDB_PATH", str(copy))
    outcome = run_dbt(["build", "--exclude", "test_type:unit"], target="dev")
    assert outcome.success, outcome.failures
    for spec in specs:
        assert engine.run_sync(spec, copy, manifest).status in ("succeeded", "nothing_to_do")
    monkeypatch.setenv("CDP_EXPORTS_DIR", str(out))
    monkeypatch.setenv("CDP_ACTOR", "dpo@example.com")
    result = privacy.complete(copy)
    assert result["traces"] == [] and result["completed"] == 1, result

    # Nowhere: every text column of every table outside the raw landing schemas and staging views.
    con = duckdb.connect(str(copy))
    try:
        tables = con.execute("""select table_schema, table_name, column_name from information_schema.columns
                                where data_type = 'VARCHAR' and table_catalog = current_database()
                                  and table_schema not in ('shopify', 'klaviyo', 'stripe', 'zendesk', 'salesforce',
                                                           'segment', 'staging', '_truth', '_cdp_meta', 'cdp_privacy',
                                                           'information_schema')""").fetchall()
        values = {profile_id, email, phone} | {v for _, v in identifiers}
        for schema, table, column in tables:
            hits = con.execute(f'select count(*) from "{schema}"."{table}" where "{column}" in '
                               f'(select unnest(?::varchar[]))', [sorted(values)]).fetchall()[0][0]
            assert hits == 0, (schema, table, column)
        for path in [out / "all.parquet", *(out / "changes").glob("*.jsonl")]:
            reader = "read_parquet" if path.suffix == ".parquet" else "read_json_auto"
            assert con.execute(f"select count(*) from {reader}('{path}') where email = ?", [email]).fetchall()[0][0] == 0
        # The request is listed, timed and closed; the audit log says who did what.
        assert con.execute("select count(*) from marts.privacy_requests where request_kind = 'forget'").fetchall()[0][0] == 1
        assert con.execute("select kind, completed_at is not null from cdp_privacy.requests order by requested_at"
                           ).fetchall() == [("export", True), ("forget", True)]
        # The audit trail mart (built before `complete`): the export, the request and the syncs' runs.
        audited = {r[0] for r in con.execute("select audit_action from marts.audit_events").fetchall()}
        assert {"privacy.export", "privacy.forget.requested", "sync.run"} <= audited
        actions = [r[0] for r in con.execute("select action from cdp_privacy.audit_log order by occurred_at").fetchall()]
        assert actions == ["privacy.export", "privacy.forget.requested", "privacy.forget.completed"]
        assert con.execute("select distinct actor from cdp_privacy.audit_log where action like 'privacy.forget%'"
                           ).fetchall() == [("dpo@example.com",)]
        # Kept by policy: orders stay in raw (pseudonymous), out of every mart.
        kept = [r for r in privacy.raw_purge_policy() if not r["purge"]]
        assert kept and all(r["reason"] for r in kept)
        # A record loaded again later with the person's email (another case, a new id) stays out.
        con.execute("insert into klaviyo.person (id, email, _fivetran_synced) values ('01REBORN', ?, now())",
                    [email.title()])
    finally:
        con.close()
    outcome = run_dbt(["run", "-s", "int_identity_records"], target="dev")
    assert outcome.success, outcome.failures
    assert query(copy, "select count(*) from intermediate.int_identity_records "
                       "where record_key = 'klaviyo_person_id:01REBORN'")[0][0] == 0


def test_profile_consent_matches_the_golden_record_and_covers_every_channel(dbt_build, sql):
    assert dbt_build.success
    counts = sql("select channel, count(*) from marts.profile_consent group by 1 order by 1")
    profiles = sql("select count(*) from marts.profiles")[0][0]
    assert counts == [("ads", profiles), ("email", profiles), ("sms", profiles)]
    mismatched = sql("""select count(*) from marts.profile_consent as c join marts.profiles as p using (profile_id)
                        where (c.channel = 'email' and c.consent != p.email_consent)
                           or (c.channel = 'sms' and c.consent != p.sms_consent)""")[0][0]
    assert mismatched == 0
    assert sql("select count(*) from marts.profile_consent where channel = 'ads' and consent != 'unknown'")[0][0] == 0


def test_privacy_commands_refuse_bad_input(copy):
    env = {**os.environ, "CDP_DUCKDB_PATH": str(copy)}
    cdp = [sys.executable, "-m", "orchestration.cli", "privacy"]
    done = subprocess.run([*cdp, "forget", "not-an-identifier"], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 2 and "pass --type" in done.stderr
    done = subprocess.run([*cdp, "export", "nobody@example.com", "--output", str(copy.parent / "x.json")],
                          capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 2 and "no profile holds that email" in done.stderr
    assert not (copy.parent / "x.json").exists()


def test_retention_purges_old_events_in_the_build(copy, monkeypatch):
    from orchestration.dbt.project import simulation_clock
    import datetime as dt

    clock = simulation_clock(copy)
    before = query(copy, "select count(*) from marts.profile_events where occurred_at <= ?",
                   [clock - dt.timedelta(days=30)])[0][0]
    assert before > 0
    monkeypatch.setenv("CDP_DUCKDB_PATH", str(copy))
    outcome = run_dbt(["run", "-s", "int_segment_calls_deduplicated", "profile_events",
                       "--vars", "{retention_event_days: 30}"], target="dev")
    assert outcome.success, outcome.failures
    for table, column in (("marts.profile_events", "occurred_at"),
                          ("intermediate.int_segment_calls_deduplicated", "occurred_at")):
        assert query(copy, f"select count(*) from {table} where {column} <= ?",
                     [clock - dt.timedelta(days=30)])[0][0] == 0, table
    assert query(copy, "select count(*) from marts.profile_events")[0][0] > 0


def test_a_forget_purges_raw_rows_in_the_schema_the_dbt_source_reads(tmp_path, monkeypatch):
    """Raw rows are purged where the dbt source reads them (`<source>_schema` var), not in a schema
    named after the source: a team that lands Segment in `events_raw` still has them purged."""
    schemas = privacy.raw_schemas()
    assert {rule["source"] for rule in privacy.raw_purge_policy()} <= set(schemas)
    path = tmp_path / "warehouse.duckdb"
    con = duckdb.connect(str(path))
    con.execute("create schema events_raw")
    con.execute("create table events_raw.identifies (user_id varchar, anonymous_id varchar)")
    con.execute("insert into events_raw.identifies values ('u-1', 'd-1'), ('u-2', 'd-2')")
    con.close()
    monkeypatch.setattr(privacy, "raw_schemas", lambda: {**schemas, "segment": "events_raw"})
    result = privacy.forget(path, "u-1", "user_id")
    assert result.raw_rows_purged == 1
    assert query(path, "select user_id from events_raw.identifies") == [("u-2",)]
