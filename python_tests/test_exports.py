"""Syncs on a copy of the session warehouse: plans against the delivered state, webhooks over
real HTTP to a receiver that enforces the Standard Webhooks contract, atomic files, gates,
a sync killed mid-way and run again, and the CLI."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

from orchestration.dbt.project import ensure_manifest
from orchestration.exports import engine
from orchestration.exports.config import SyncConfigError, load_syncs, parse_sync
from orchestration.exports.destinations import files as files_module
from orchestration.exports.destinations.base import ConfigurationError
from orchestration.exports.normalize import sha256_hex
from python_tests.webhook_server import SECRET, Receiver


@pytest.fixture
def copy(built_copy) -> Path:
    return built_copy


@pytest.fixture(scope="module")
def manifest():
    return json.loads(ensure_manifest().read_text())


@pytest.fixture
def receiver():
    server = Receiver()
    yield server
    server.close()


def query(path, sql, params=None):
    con = duckdb.connect(str(path))
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


def webhook_sync(receiver, name="profiles_webhook", mode="upsert", batch_size=100, **extra):
    return parse_sync({"name": name, "source": {"model": "profiles"}, "purpose": "analytics",
                       "destination": {"type": "webhook", "url": receiver.url, "secret": SECRET,
                                       "batch_size": batch_size},
                       "mode": mode, "primary_key": "profile_id",
                       "fields": {"email": "email", "first_name": "first_name"}, **extra}, "test.yml")


def test_a_webhook_sync_retries_isolates_a_bad_row_and_sends_each_row_once(copy, manifest, receiver):
    profiles = {r[0]: r[1] for r in query(copy, "select profile_id, email from marts.profiles")}
    bad = sorted(profiles)[len(profiles) // 2]
    receiver.bad_keys = {bad}
    receiver.bad_mode = "whole_batch"
    receiver.responses = {2: (429, {"Retry-After": "3"}), 3: (503, {})}
    waits = []
    spec = webhook_sync(receiver)
    first = engine.run_sync(spec, copy, manifest, sleep=waits.append)
    assert first.status == "partial" and first.failed == 1 and first.sent == len(profiles) - 1
    assert 3.0 in waits and len(waits) == 2  # Retry-After honoured, then one backoff for the 503
    assert set(receiver.state) == set(profiles) - {bad}
    assert max(receiver.batch_sizes) <= 100
    logged = query(copy, "select status, error from cdp_sync.delivery_log where record_key = ? order by logged_at",
                   [bad])
    assert logged == [("pending", None), ("failed", "HTTP 400 from " + receiver.url + ': {"error": "invalid batch"}')]

    receiver.bad_keys = set()  # the destination accepts it now: the next run retries that row only
    second = engine.run_sync(spec, copy, manifest, sleep=waits.append)
    assert (second.status, second.plan.adds, second.sent) == ("succeeded", 1, 1)
    assert set(receiver.state) == set(profiles) and all(v == 1 for v in receiver.applied.values())
    assert query(copy, "select attempt, status from cdp_sync.delivery_log where record_key = ? and status != 'pending' "
                       "order by attempt", [bad]) == [(1, "failed"), (2, "sent")]

    requests = receiver.requests
    third = engine.run_sync(spec, copy, manifest)
    assert third.status == "nothing_to_do" and receiver.requests == requests

    query(copy, "update marts.profiles set first_name = 'Changed' where profile_id = ?", [bad])
    fourth = engine.run_sync(spec, copy, manifest)
    assert (fourth.plan.adds, fourth.plan.changes, fourth.sent) == (0, 1, 1)
    assert receiver.state[bad]["first_name"] == "Changed"


def test_per_row_errors_fail_only_those_rows(copy, manifest, receiver):
    keys = sorted(r[0] for r in query(copy, "select profile_id from marts.profiles"))
    receiver.bad_keys = set(keys[:3])
    result = engine.run_sync(webhook_sync(receiver, name="per_row"), copy, manifest)
    assert (result.status, result.failed) == ("partial", 3)
    assert "3 x email is not deliverable" in result.message
    assert not receiver.bad_keys & set(receiver.state)


def test_mirror_removes_only_what_it_delivered_and_refuses_a_mass_removal(copy, manifest, receiver):
    receiver.state["someone_else"] = {"email": "kept@example.com"}
    spec = webhook_sync(receiver, name="mirror_hook", mode="mirror", mirror={"max_remove_share": 0.05})
    assert engine.run_sync(spec, copy, manifest).status == "succeeded"
    total = query(copy, "select count(*) from marts.profiles")[0][0]
    query(copy, f"delete from marts.profiles where profile_id in "
                f"(select profile_id from marts.profiles order by profile_id limit {total // 10})")
    refused = engine.run_sync(spec, copy, manifest)
    assert refused.status == "refused" and "max_remove_share" in refused.message
    assert len(receiver.state) == total + 1
    allowed = engine.run_sync(spec, copy, manifest, allow_large_removal=True)
    assert allowed.status == "succeeded" and allowed.plan.removes == total // 10
    assert len(receiver.state) == total - total // 10 + 1 and "someone_else" in receiver.state


def test_dry_run_sends_nothing_and_the_size_gate_holds(copy, manifest, receiver):
    spec = webhook_sync(receiver, name="gated", gate={"max_size_change_share": 0.2})
    dry = engine.run_sync(spec, copy, manifest, dry_run=True)
    assert dry.status == "dry_run" and dry.plan.adds > 0 and receiver.requests == 0 and len(dry.sample) == 5
    assert engine.run_sync(spec, copy, manifest).status == "succeeded"
    total = query(copy, "select count(*) from marts.profiles")[0][0]
    query(copy, f"delete from marts.profiles where profile_id in "
                f"(select profile_id from marts.profiles order by profile_id limit {total // 2})")
    gated = engine.run_sync(spec, copy, manifest)
    assert gated.status == "refused" and "max_size_change_share" in gated.message


@pytest.mark.parametrize("file_format", ["parquet", "csv", "jsonl"])
def test_files_are_written_atomically_and_a_killed_run_is_finished(copy, manifest, tmp_path, monkeypatch, file_format):
    target = tmp_path / "out" / f"profiles.{file_format}"
    spec = parse_sync({"name": f"profiles_{file_format}", "source": {"model": "profiles"}, "purpose": "analytics",
                       "destination": {"type": "file", "format": file_format, "path": str(target)}, "mode": "mirror",
                       "primary_key": "profile_id", "fields": {"email": "email", "city": "city"}}, "test.yml")
    total = query(copy, "select count(*) from marts.profiles")[0][0]

    # Killed after the warehouse recorded the delivery, before the rename: the next run finishes it.
    real_replace = os.replace

    def crash(*args):
        raise KeyboardInterrupt("killed")

    monkeypatch.setattr(files_module.os, "replace", crash)
    with pytest.raises(KeyboardInterrupt):
        engine.run_sync(spec, copy, manifest)
    assert not target.exists() and list(target.parent.glob(".*.tmp-*"))
    monkeypatch.setattr(files_module.os, "replace", real_replace)
    again = engine.run_sync(spec, copy, manifest)
    assert again.status == "nothing_to_do" and target.exists() and not list(target.parent.glob(".*.tmp-*"))
    rows = query(copy, f"select count(*), count(distinct _record_key) from read_{'json' if file_format == 'jsonl' else file_format}('{target}')")[0]
    assert rows == (total, total)

    # Killed before the warehouse recorded anything: the temporary file goes, the rows are planned again.
    query(copy, "update marts.profiles set city = 'Atlantis' where profile_id in (select min(profile_id) from marts.profiles)")
    monkeypatch.setattr(files_module.state, "log_delivered", crash)
    with pytest.raises(KeyboardInterrupt):
        engine.run_sync(spec, copy, manifest)
    monkeypatch.undo()
    assert list(target.parent.glob(".*.tmp-*"))
    third = engine.run_sync(spec, copy, manifest)
    assert (third.status, third.plan.changes) == ("succeeded", 1)
    assert not list(target.parent.glob(".*.tmp-*"))
    if file_format == "parquet":
        assert "Atlantis" in pq.read_table(target).column("city").to_pylist()


def test_killing_a_sync_midway_and_running_it_again_applies_each_row_once(copy, receiver, tmp_path):
    folder = tmp_path / "syncs"
    folder.mkdir()
    (folder / "hook.yml").write_text(f"""
syncs:
  - name: profiles_to_hook
    source: {{model: profiles}}
    purpose: analytics
    destination: {{type: webhook, url: "${{TEST_HOOK_URL}}", secret: "${{TEST_HOOK_SECRET}}", batch_size: 20}}
    mode: upsert
    primary_key: profile_id
    fields: {{email: email, last_name: last_name}}
""")
    env = {**os.environ, "CDP_DUCKDB_PATH": str(copy), "CDP_SYNCS_DIR": str(folder), "TEST_HOOK_URL": receiver.url,
           "TEST_HOOK_SECRET": SECRET}
    cdp = [sys.executable, "-m", "orchestration.cli", "sync"]
    receiver.delay = 0.05
    process = subprocess.Popen(cdp, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while receiver.requests < 15 and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert 0 < len(receiver.state)
    total = query(copy, "select count(*) from marts.profiles")[0][0]
    assert len(receiver.state) < total
    pending = query(copy, """select count(*) from cdp_sync.delivery_log as p where status = 'pending' and not exists (
                                 select 1 from cdp_sync.delivery_log as o where o.idempotency_key = p.idempotency_key
                                 and o.run_id = p.run_id and o.status != 'pending')""")[0][0]

    receiver.delay = 0.0
    done = subprocess.run(cdp, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    emails = dict(query(copy, "select profile_id, email from marts.profiles"))
    assert {k: v["email"] for k, v in receiver.state.items()} == emails
    assert all(count == 1 for count in receiver.applied.values()) and len(receiver.applied) == total
    assert query(copy, "select count(*) from cdp_sync.delivered_state where sync_name = 'profiles_to_hook'")[0][0] == total
    assert pending <= 20  # at most the batch in flight was left pending by the kill
    assert "sent" in done.stdout
    # The rows in flight when it died are logged as interrupted, then sent by the second run.
    assert query(copy, "select count(*) from cdp_sync.delivery_log where status = 'interrupted'")[0][0] == pending


def test_bad_declarations_are_refused_with_the_fix(copy, manifest, tmp_path):
    base = {"name": "s", "source": {"model": "profiles"}, "purpose": "analytics", "mode": "upsert",
            "destination": {"type": "file", "format": "csv", "path": str(tmp_path / "x")}, "fields": {"email": "email"}}
    cases = [
        ({**base, "mdoe": "upsert"}, "unknown key 'mdoe'"),
        ({**base, "mode": "replace"}, "mode is one of upsert, insert, update, mirror"),
        ({**base, "purpose": "marketing"}, "purpose is one of email, sms, ads, analytics"),
        ({**base, "fields": {"e mail": "email"}}, "must map a plain field name"),
        ({**base, "schedule": "hourly"}, "cron expression of five fields"),
        ({**base, "destination": {"type": "meta_custom_audience", "mode": "replace"}}, "set mode: mirror"),
    ]
    for entry, says in cases:
        with pytest.raises(SyncConfigError, match=says):
            parse_sync(entry, "syncs/bad.yml")
    with pytest.raises(SyncConfigError, match="has no column"):
        engine.run_sync(parse_sync({**base, "fields": {"email": "e_mail"}}, "syncs/bad.yml"), copy, manifest)
    with pytest.raises(SyncConfigError, match="ads syncs read an audience"):
        engine.run_sync(parse_sync({**base, "purpose": "ads"}, "syncs/bad.yml"), copy, manifest, dry_run=True)
    with pytest.raises(SyncConfigError, match="no audience 'nope'"):
        engine.run_sync(parse_sync({**base, "source": {"audience": "nope"}}, "syncs/bad.yml"), copy, manifest,
                        dry_run=True)
    replace_hook = {**base, "mode": "mirror", "destination": {"type": "webhook", "url": "http://127.0.0.1:9",
                                                              "secret": "x", "mode": "replace"}}
    with pytest.raises(ConfigurationError, match="webhook has no replace mode"):
        engine.run_sync(parse_sync(replace_hook, "syncs/bad.yml"), copy, manifest)
    hook = {**base, "destination": {"type": "webhook", "url": "${NOT_SET_ANYWHERE}", "secret": "x"}}
    with pytest.raises(SyncConfigError, match="environment variable NOT_SET_ANYWHERE is not set"):
        engine.run_sync(parse_sync(hook, "syncs/bad.yml"), copy, manifest)


def test_email_purpose_sends_only_profiles_with_email_consent(copy, manifest, tmp_path):
    spec = parse_sync({"name": "consented", "source": {"model": "profiles"}, "purpose": "email",
                       "destination": {"type": "file", "format": "parquet", "path": str(tmp_path / "c.parquet")},
                       "mode": "mirror", "fields": {"email": "email"}}, "test.yml")
    result = engine.run_sync(spec, copy, manifest)
    assert result.plan.adds == query(copy, "select count(*) from marts.profiles where can_email")[0][0]


def test_the_project_syncs_and_the_cli(copy):
    syncs = load_syncs()
    assert {"vip_winback_to_parquet", "subscription_offer_changes_to_jsonl"} <= set(syncs)
    env = {**os.environ, "CDP_DUCKDB_PATH": str(copy)}
    cdp = [sys.executable, "-m", "orchestration.cli", "sync"]
    dry = subprocess.run([*cdp, "vip_winback_to_parquet", "--dry-run"], env=env, capture_output=True, text=True,
                         timeout=120)
    assert dry.returncode == 0, dry.stderr
    members = query(copy, "select count(*) from marts.audience_members where audience_name = 'email_vip_winback'")[0][0]
    assert f"vip_winback_to_parquet: dry_run; {members:,} source rows; plan: {members:,} adds" in dry.stdout
    unknown = subprocess.run([*cdp, "nope"], env=env, capture_output=True, text=True, timeout=120)
    assert unknown.returncode == 2 and "no sync named 'nope'" in unknown.stderr


def test_a_vendor_sync_runs_through_the_engine(copy, manifest):
    """The registry wires the vendor clients: an audience to HubSpot's batch upsert (its contract
    server enforces auth, the 100-row batch and per-row errors), then a no-change re-run."""
    from python_tests.servers.crm import HubSpotAPI

    with HubSpotAPI() as server:
        spec = parse_sync({"name": "winback_to_hubspot", "source": {"audience": "email_vip_winback"},
                           "purpose": "email",
                           "destination": {"type": "hubspot", "access_token": "pat-test", "base_url": server.url,
                                           "id_property": "email"},
                           "mode": "upsert", "fields": {"email": "email", "firstname": "first_name"}}, "test.yml")
        result = engine.run_sync(spec, copy, manifest)
        members = dict(query(copy, """select lower(email), first_name from marts.audience_members
                                      where audience_name = 'email_vip_winback'"""))
        assert result.status == "succeeded" and result.sent == len(members) > 0
        assert {email: props["firstname"] for email, props in server.by("email").items()} == members
        assert engine.run_sync(spec, copy, manifest).status == "nothing_to_do"


def test_a_failed_upstream_dbt_test_stops_the_sync(copy, manifest, receiver, tmp_path):
    from orchestration.exports.gates import upstream_test_failures

    test_id = next(uid for uid, n in manifest["nodes"].items()
                   if n["resource_type"] == "test" and "model.cdp.profiles" in n["depends_on"]["nodes"])
    results = tmp_path / "run_results.json"
    results.write_text(json.dumps({"args": {"which": "build"},
                                   "results": [{"unique_id": test_id, "status": "fail"}]}))
    failed = upstream_test_failures(manifest, "audience_members", results)
    assert failed == [manifest["nodes"][test_id]["name"]]  # profiles is upstream of audience_members
    assert upstream_test_failures(manifest, "stg_zendesk__users", results) == []
    result = engine.run_sync(webhook_sync(receiver, name="gated_by_tests"), copy, manifest,
                             failed_upstream_tests=failed)
    assert result.status == "refused" and "failed in the last build" in result.message and receiver.requests == 0


def test_a_replace_audience_is_swapped_whole_and_only_once_every_row_got_there(copy, manifest):
    """Meta's replace session through the engine (its contract server swaps the members only
    when the session's last batch is flagged): the first run uploads everyone; a run after a
    change uploads everyone again in a new session, so the audience is exactly the current
    members; nothing changed means nothing sent; a session that cannot be finished leaves the
    audience as it was and the next run finishes the job; a row Meta refuses for good does
    not make every later run upload the audience again."""
    from orchestration.exports.destinations.base import RateLimited
    from python_tests.servers.meta import MetaAPI

    refused = "refused.member@example.com"
    with MetaAPI(reject_values=(sha256_hex(refused),)) as server:
        spec = parse_sync({"name": "winback_to_meta", "source": {"audience": "email_vip_winback"}, "purpose": "email",
                           "destination": {"type": "meta_custom_audience", "access_token": "EAAtest",
                                           "audience_id": "238500000001", "base_url": server.url,
                                           "identifiers": ["email"], "mode": "replace"},
                           "mode": "mirror", "mirror": {"max_remove_share": 0.5},
                           "fields": {"email": "email"}}, "test.yml")

        def members() -> set[str]:
            return {sha256_hex(e.strip().lower()) for (e,) in query(
                copy, "select email from marts.audience_members where audience_name = 'email_vip_winback'")}

        server.audiences["238500000001"] = {(("EMAIL", sha256_hex("stranger@example.com")),)}
        first = engine.run_sync(spec, copy, manifest, sleep=lambda s: None)
        assert first.status == "succeeded" and first.plan.adds == len(members()) > 2
        assert server.members("238500000001") == members()  # swapped: the stranger is gone
        assert engine.run_sync(spec, copy, manifest).status == "nothing_to_do"
        requests = len(server.requests)

        # One member leaves, one changes email: the whole audience goes up again, in a new session.
        gone, changed = [r[0] for r in query(copy, """select profile_id from marts.audience_members
                                                      where audience_name = 'email_vip_winback'
                                                      order by profile_id limit 2""")]
        query(copy, "delete from marts.audience_members where audience_name = 'email_vip_winback' and profile_id = ?",
              [gone])
        query(copy, "update marts.audience_members set email = 'new.address@example.com' "
                    "where audience_name = 'email_vip_winback' and profile_id = ?", [changed])
        second = engine.run_sync(spec, copy, manifest)
        assert (second.plan.adds, second.plan.changes, second.plan.removes) == (0, 1, 1)
        assert second.status == "succeeded" and second.sent == len(members()) + 1  # everyone, plus the removal
        assert server.members("238500000001") == members()
        sessions = [json.loads(r.form()["session"])["session_id"] for r in server.requests[requests:]]
        assert len(set(sessions)) == 1 and sessions[0] not in [
            json.loads(r.form()["session"])["session_id"] for r in server.requests[:requests]]

        # Meta throttles the session's closing request: the audience stays as it was, the run fails
        # and says why, and the next run uploads and closes a complete session.
        query(copy, f"update marts.audience_members set email = '{refused}' "
                    "where audience_name = 'email_vip_winback' and profile_id = ?", [changed])
        before = server.members("238500000001")
        server.rate_limit, server._times = 1, []
        with pytest.raises(RateLimited):
            engine.run_sync(spec, copy, manifest, sleep=lambda s: None)
        assert server.members("238500000001") == before
        assert query(copy, "select status, message from cdp_sync.sync_runs order by started_at desc limit 1")[0][0] \
            == "failed"
        server.rate_limit = None
        third = engine.run_sync(spec, copy, manifest, sleep=lambda s: None)
        # The refused address fails alone; everyone else is the audience now.
        assert third.status == "partial" and third.failed == 1 and "EMAIL value refused" in third.message
        assert server.members("238500000001") == members() - {sha256_hex(refused)}
        requests = len(server.requests)
        assert engine.run_sync(spec, copy, manifest).status == "nothing_to_do" and len(server.requests) == requests
