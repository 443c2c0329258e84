"""What the syncs keep in the warehouse (schema cdp_sync), and the plan of a run.

- sync_runs: one row per run (plan counts, what was sent and failed, status, why, who ran it);
- sync_plans: the plan of each run, row by row (operation, change, payload, idempotency key);
- delivered_state: per sync and record, the payload last delivered successfully: the next
  run diffs against it, so a failed row (never recorded here) is planned again. It is
  folded from the log at the end of each run and, for a run that died, at the start of the
  next (fold);
- delivery_log, append-only: per run, row and attempt, a 'pending' entry before the row is
  sent and its outcome after (sent, failed, or interrupted when the run died before the
  answer), with the error and the idempotency key;
- pending_publishes: files written but not yet renamed into place (see files.py);
- files_written: every file a file sync published (what a GDPR forget must rewrite).

The tables live in the warehouse of the active dbt target (orchestration/lib/warehouse.py):
the DuckDB file, or Snowflake. The SQL is written once for both; the few fragments that
differ (timestamp type, the current UTC time, SHA-256) come from the warehouse object.

The idempotency key is a hash of the sync, the record key, the payload, the operation and
the state it replaces (the payload hash and time of the last delivery): a row planned again
after a crash gets the same key, so a destination that deduplicates on it applies it once;
a later, deliberate re-send of the same payload (after a delete, say) gets a new one.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass

SCHEMA = "cdp_sync"

# {ts}: the engine's timestamp type (Warehouse.timestamp).
DDL = [
    f"create schema if not exists {SCHEMA}",
    f"""create table if not exists {SCHEMA}.sync_runs (
        run_id varchar primary key, sync_name varchar not null, started_at {{ts}} not null,
        finished_at {{ts}}, status varchar not null, mode varchar not null, destination varchar not null,
        is_dry_run boolean not null, source_rows bigint, planned_adds bigint, planned_changes bigint,
        planned_removes bigint, rows_sent bigint, rows_failed bigint, message varchar, folded_at {{ts}})""",
    f"alter table {SCHEMA}.sync_runs add column if not exists folded_at {{ts}}",
    f"alter table {SCHEMA}.sync_runs add column if not exists actor varchar",
    f"""create table if not exists {SCHEMA}.sync_plans (
        run_id varchar not null, sync_name varchar not null, record_key varchar not null, operation varchar not null,
        change varchar not null, payload_hash varchar, payload varchar, idempotency_key varchar not null,
        attempt integer not null)""",
    f"""create table if not exists {SCHEMA}.delivered_state (
        sync_name varchar not null, record_key varchar not null, payload_hash varchar not null, payload varchar,
        delivered_at {{ts}} not null, run_id varchar not null, primary key (sync_name, record_key))""",
    f"""create table if not exists {SCHEMA}.delivery_log (
        run_id varchar not null, sync_name varchar not null, record_key varchar not null, operation varchar not null,
        status varchar not null, error varchar, attempt integer not null, idempotency_key varchar not null,
        payload_hash varchar, logged_at {{ts}} not null)""",
    f"""create table if not exists {SCHEMA}.files_written (
        sync_name varchar not null, run_id varchar not null, path varchar not null, format varchar not null,
        written_at {{ts}} not null)""",
    f"""create table if not exists {SCHEMA}.pending_publishes (
        run_id varchar not null, sync_name varchar not null, temp_path varchar not null, final_path varchar not null)""",
]


def actor() -> str:
    """Who runs it, for the audit trail: CDP_ACTOR (set it in Dagster and CI), else the OS user."""
    import getpass
    import os

    return os.environ.get("CDP_ACTOR") or getpass.getuser()


def ensure_schema(wh) -> None:
    for statement in DDL:
        wh.execute(statement.replace("{ts}", wh.timestamp))


def new_run_id() -> str:
    return uuid.uuid4().hex


@dataclass
class Plan:
    run_id: str
    source_rows: int
    adds: int
    changes: int
    removes: int

    @property
    def total(self) -> int:
        return self.adds + self.changes + self.removes


def operation_for(mode: str) -> str:
    return {"upsert": "upsert", "insert": "insert", "update": "update", "mirror": "upsert"}[mode]


def build_plan(wh, spec, run_id: str) -> Plan:
    """Diff `current_rows` (a temp table: record_key, payload, payload_hash) against the state
    last delivered, and record the plan of run `run_id`."""
    operation = operation_for(spec.mode)
    changes = "" if spec.mode != "insert" else "and false"  # insert mode never re-sends a changed row
    key = wh.sha256("$sync || '|' || record_key || '|' || coalesce(payload_hash, '') || '|' || operation "
                    "|| '|' || replaces")
    wh.execute(f"""
        insert into {SCHEMA}.sync_plans
        with state as (
            select * from {SCHEMA}.delivered_state where sync_name = $sync
        ),
        wanted as (
            select
                c.record_key,
                '{operation}' as operation,
                case when s.record_key is null then 'add' else 'change' end as change,
                c.payload_hash,
                c.payload,
                coalesce(s.payload_hash, '') || '@' || coalesce(cast(s.delivered_at as varchar), '') as replaces
            from current_rows as c
            left join state as s on c.record_key = s.record_key
            where s.record_key is null or (s.payload_hash != c.payload_hash {changes})
            {"" if spec.mode != "mirror" else '''
            union all
            select
                s.record_key, 'delete', 'remove', null, null,
                s.payload_hash || '@' || cast(s.delivered_at as varchar)
            from state as s
            where not exists (select 1 from current_rows as c where c.record_key = s.record_key)'''}
        ),
        keyed as (
            select
                *,
                {key} as idempotency_key
            from wanted
        ),
        tried as (
            select idempotency_key, count(*) as attempts
            from {SCHEMA}.delivery_log
            where sync_name = $sync and status != 'pending'
            group by idempotency_key
        )
        select
            $run, $sync, k.record_key, k.operation, k.change, k.payload_hash, k.payload, k.idempotency_key,
            coalesce(t.attempts, 0) + 1
        from keyed as k
        left join tried as t on k.idempotency_key = t.idempotency_key
    """, {"sync": spec.name, "run": run_id})
    counts = dict(wh.rows(f"select change, count(*) from {SCHEMA}.sync_plans where run_id = ? group by 1", [run_id]))
    source_rows = wh.rows("select count(*) from current_rows")[0][0]
    return Plan(run_id, source_rows, counts.get("add", 0), counts.get("change", 0), counts.get("remove", 0))


def start_run(wh, spec, run_id: str, dry_run: bool) -> None:
    # Rows an earlier run left pending were in flight when it died: record that they got no
    # answer (this run plans them again, with the same idempotency keys).
    wh.execute(f"""insert into {SCHEMA}.delivery_log
                   select p.run_id, p.sync_name, p.record_key, p.operation, 'interrupted',
                          'the run ended before an answer', p.attempt, p.idempotency_key, p.payload_hash, {wh.now_utc()}
                   from {SCHEMA}.delivery_log as p
                   where p.sync_name = $sync and p.status = 'pending' and not exists (
                       select 1 from {SCHEMA}.delivery_log as o
                       where o.sync_name = $sync and o.run_id = p.run_id and o.idempotency_key = p.idempotency_key
                         and o.status != 'pending')""", {"sync": spec.name})
    wh.execute(f"""update {SCHEMA}.sync_runs set status = 'interrupted', finished_at = {wh.now_utc()}
                   where sync_name = ? and status in ('planning', 'applying')""", [spec.name])
    wh.execute(f"insert into {SCHEMA}.sync_runs (run_id, sync_name, started_at, status, mode, destination, "
               f"is_dry_run, actor) values (?, ?, {wh.now_utc()}, 'planning', ?, ?, ?, ?)",
               [run_id, spec.name, spec.mode, spec.destination_type, dry_run, actor()])


def finish_run(wh, run_id: str, status: str, plan: Plan | None, sent: int = 0, failed: int = 0,
               message: str | None = None) -> None:
    wh.execute(f"""update {SCHEMA}.sync_runs set finished_at = {wh.now_utc()}, status = ?, source_rows = ?,
                   planned_adds = ?, planned_changes = ?, planned_removes = ?, rows_sent = ?, rows_failed = ?,
                   message = ?
                   where run_id = ?""",
               [status, plan.source_rows if plan else None, plan.adds if plan else None,
                plan.changes if plan else None, plan.removes if plan else None, sent, failed, message, run_id])


def last_source_rows(wh, sync_name: str) -> int | None:
    row = wh.one(f"""select source_rows from {SCHEMA}.sync_runs
                     where sync_name = ? and status in ('succeeded', 'partial') and not is_dry_run
                     order by started_at desc limit 1""", [sync_name])
    return row[0] if row else None


def delivered_count(wh, sync_name: str) -> int:
    return wh.rows(f"select count(*) from {SCHEMA}.delivered_state where sync_name = ?", [sync_name])[0][0]


def sample(wh, run_id: str, limit: int = 5) -> list[tuple]:
    return wh.rows(f"""select change, operation, record_key, payload from {SCHEMA}.sync_plans
                       where run_id = ? order by change, record_key limit {int(limit)}""", [run_id])


def log_pending(wh, run_id: str, keys: list[str]) -> None:
    """Before a batch is sent: a 'pending' row per operation, committed."""
    import pyarrow as pa

    with wh.staged("batch_keys", pa.table({"idempotency_key": pa.array(keys, pa.string())})):
        wh.execute(f"""insert into {SCHEMA}.delivery_log
                       select p.run_id, p.sync_name, p.record_key, p.operation, 'pending', null, p.attempt,
                              p.idempotency_key, p.payload_hash, {wh.now_utc()}
                       from {SCHEMA}.sync_plans as p
                       where p.run_id = ?
                         and p.idempotency_key in (select b.idempotency_key from batch_keys as b)""", [run_id])


def record_outcomes(wh, run_id: str, results: list[tuple], ok_status: str = "sent") -> None:
    """After a batch: its outcome per row, (idempotency_key, ok, error), appended to the log.
    The log is append-only (pending, then sent or failed), so recording a batch costs the
    same at the millionth row as at the first; delivered_state is folded from it (fold).
    A replace session's accepted rows are `staged` (ok_status) until the session is finished
    (confirm_staged): until then the destination has not swapped its audience."""
    if ok_status not in ("sent", "staged"):
        raise ValueError(f"ok_status is sent or staged, got {ok_status!r}")
    import pyarrow as pa

    table = pa.table({"idempotency_key": pa.array([r[0] for r in results], pa.string()),
                      "ok": pa.array([bool(r[1]) for r in results], pa.bool_()),
                      "error": pa.array([r[2] for r in results], pa.string())})
    with wh.staged("batch_results", table):
        wh.execute(f"""insert into {SCHEMA}.delivery_log
                       select p.run_id, p.sync_name, p.record_key, p.operation,
                              case when b.ok then '{ok_status}' else 'failed' end, b.error, p.attempt,
                              p.idempotency_key,
                              p.payload_hash, {wh.now_utc()}
                       from {SCHEMA}.sync_plans as p
                       inner join batch_results as b on p.idempotency_key = b.idempotency_key
                       where p.run_id = ?""", [run_id])


def add_resends(wh, spec, run_id: str) -> int:
    """A replace destination swaps its audience for what one run uploads, so a run that sends
    anything must send every current row: add the rows the diff left out (delivered and
    unchanged) to the plan as `resend`. Returns how many."""
    key = wh.sha256("$sync || '|' || record_key || '|' || payload_hash || '|' || 'upsert' || '|' || replaces")
    return wh.count(f"""
        insert into {SCHEMA}.sync_plans
        with unchanged as (
            select
                c.record_key,
                c.payload_hash,
                c.payload,
                s.payload_hash || '@' || cast(s.delivered_at as varchar) || '@resend:' || $run as replaces
            from current_rows as c
            inner join {SCHEMA}.delivered_state as s
                on s.sync_name = $sync and c.record_key = s.record_key and c.payload_hash = s.payload_hash
        )
        select $run, $sync, record_key, 'upsert', 'resend', payload_hash, payload, {key}, 1
        from unchanged
    """, {"sync": spec.name, "run": run_id})


def unsettled_changes(wh, run_id: str) -> int:
    """The plan's adds, changes and removes, less rows whose same payload a finished run already
    had refused for good: a replace destination is not re-uploaded whole every run for a row it
    will refuse again (the row still goes up with the next real change)."""
    return wh.rows(f"""
        select count(*) from {SCHEMA}.sync_plans as p
        where p.run_id = ? and p.change != 'resend' and not exists (
            select 1 from {SCHEMA}.delivery_log as l
            inner join {SCHEMA}.sync_runs as r on l.run_id = r.run_id
            where l.sync_name = p.sync_name and l.record_key = p.record_key and l.operation = p.operation
              and coalesce(l.payload_hash, '') = coalesce(p.payload_hash, '') and l.status = 'failed'
              and r.status in ('succeeded', 'partial'))""", [run_id])[0][0]


def forget_replaced(wh, sync_name: str, run_id: str) -> None:
    """After a finished replace (and fold): the destination holds exactly what the run uploaded,
    so a record the run did not deliver (its row refused) is no longer delivered."""
    wh.execute(f"""delete from {SCHEMA}.delivered_state
                   where sync_name = ? and record_key not in (
                       select record_key from {SCHEMA}.delivery_log
                       where run_id = ? and status = 'sent' and operation != 'delete')""", [sync_name, run_id])


def confirm_staged(wh, run_id: str) -> None:
    """The replace session finished: its staged rows are delivered."""
    wh.execute(f"""insert into {SCHEMA}.delivery_log
                   select run_id, sync_name, record_key, operation, 'sent', null, attempt, idempotency_key,
                          payload_hash, {wh.now_utc()}
                   from {SCHEMA}.delivery_log where run_id = ? and status = 'staged'""", [run_id])


def log_delivered(wh, run_id: str) -> None:
    """Every operation of the run, delivered at once (file destinations)."""
    wh.execute(f"""insert into {SCHEMA}.delivery_log
                   select run_id, sync_name, record_key, operation, 'sent', null, attempt, idempotency_key,
                          payload_hash, {wh.now_utc()}
                   from {SCHEMA}.sync_plans where run_id = ?""", [run_id])


def fold(wh, sync_name: str) -> None:
    """Bring delivered_state up to date with every row the log says was sent by runs not yet
    folded (this one, or one that died): the newest delivery of each record wins; a delivered
    delete removes the record. The rows to fold are gathered first (a table is created outside
    the transaction: on Snowflake DDL would commit it), then one transaction applies them;
    running it twice changes nothing."""
    try:
        wh.execute(f"""
            create or replace temporary table folding as
            select p.record_key, p.operation, p.payload_hash, p.payload, p.run_id, l.logged_at
            from {SCHEMA}.sync_plans as p
            inner join {SCHEMA}.delivery_log as l
                on l.run_id = p.run_id and l.idempotency_key = p.idempotency_key and l.status = 'sent'
            where p.sync_name = $sync and l.sync_name = $sync and p.run_id in (
                select run_id from {SCHEMA}.sync_runs where sync_name = $sync and folded_at is null)
            qualify row_number() over (partition by p.record_key order by l.logged_at desc, p.run_id desc) = 1
        """, {"sync": sync_name})
        with wh.transaction():
            wh.execute(f"""delete from {SCHEMA}.delivered_state
                           where sync_name = ? and record_key in (select record_key from folding)""", [sync_name])
            wh.execute(f"""insert into {SCHEMA}.delivered_state
                           select ?, record_key, payload_hash, payload, logged_at, run_id
                           from folding where operation != 'delete'""", [sync_name])
            wh.execute(f"""update {SCHEMA}.sync_runs set folded_at = {wh.now_utc()}
                           where sync_name = ? and folded_at is null and status not in ('planning', 'applying')""",
                       [sync_name])
    finally:
        wh.execute("drop table if exists folding")


def payload_of(text: str | None) -> dict:
    return json.loads(text) if text else {}
