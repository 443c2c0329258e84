"""What the syncs keep in the warehouse (schema cdp_sync), and the plan of a run.

- sync_runs: one row per run (plan counts, what was sent and failed, status, why);
- sync_plans: the plan of each run, row by row (operation, change, payload, idempotency key);
- delivered_state: per sync and record, the payload last delivered successfully: the next
  run diffs against it, so a failed row (never recorded here) is planned again;
- delivery_log: per run, row and attempt, the operation, status (pending, sent, failed, or
  interrupted when the run died before the answer), error and idempotency key;
- pending_publishes: files written but not yet renamed into place (see files.py).

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

DDL = [
    f"create schema if not exists {SCHEMA}",
    f"""create table if not exists {SCHEMA}.sync_runs (
        run_id varchar primary key, sync_name varchar not null, started_at timestamp not null,
        finished_at timestamp, status varchar not null, mode varchar not null, destination varchar not null,
        is_dry_run boolean not null, source_rows bigint, planned_adds bigint, planned_changes bigint,
        planned_removes bigint, rows_sent bigint, rows_failed bigint, message varchar)""",
    f"""create table if not exists {SCHEMA}.sync_plans (
        run_id varchar not null, sync_name varchar not null, record_key varchar not null, operation varchar not null,
        change varchar not null, payload_hash varchar, payload varchar, idempotency_key varchar not null,
        attempt integer not null)""",
    f"""create table if not exists {SCHEMA}.delivered_state (
        sync_name varchar not null, record_key varchar not null, payload_hash varchar not null, payload varchar,
        delivered_at timestamp not null, run_id varchar not null, primary key (sync_name, record_key))""",
    f"""create table if not exists {SCHEMA}.delivery_log (
        run_id varchar not null, sync_name varchar not null, record_key varchar not null, operation varchar not null,
        status varchar not null, error varchar, attempt integer not null, idempotency_key varchar not null,
        payload_hash varchar, logged_at timestamp not null)""",
    f"""create table if not exists {SCHEMA}.pending_publishes (
        run_id varchar not null, sync_name varchar not null, temp_path varchar not null, final_path varchar not null)""",
]

NOW = "cast(current_timestamp at time zone 'UTC' as timestamp)"


def ensure_schema(con) -> None:
    for statement in DDL:
        con.execute(statement)


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


def build_plan(con, spec, run_id: str) -> Plan:
    """Diff `current_rows` (a temp table: record_key, payload, payload_hash) against the state
    last delivered, and record the plan of run `run_id`."""
    operation = operation_for(spec.mode)
    changes = "" if spec.mode != "insert" else "and false"  # insert mode never re-sends a changed row
    con.execute(f"""
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
            {"" if spec.mode != "mirror" else f'''
            union all
            select
                s.record_key, 'delete', 'remove', null, null,
                s.payload_hash || '@' || cast(s.delivered_at as varchar)
            from state as s
            anti join current_rows as c on s.record_key = c.record_key'''}
        ),
        keyed as (
            select
                *,
                sha256($sync || '|' || record_key || '|' || coalesce(payload_hash, '') || '|' || operation
                       || '|' || replaces) as idempotency_key
            from wanted
        ),
        tried as (
            select idempotency_key, count(*) as attempts
            from {SCHEMA}.delivery_log
            where sync_name = $sync
            group by idempotency_key
        )
        select
            $run, $sync, k.record_key, k.operation, k.change, k.payload_hash, k.payload, k.idempotency_key,
            coalesce(t.attempts, 0) + 1
        from keyed as k
        left join tried as t on k.idempotency_key = t.idempotency_key
    """, {"sync": spec.name, "run": run_id})
    counts = dict(con.execute(f"select change, count(*) from {SCHEMA}.sync_plans where run_id = ? group by 1",
                              [run_id]).fetchall())
    source_rows = con.execute("select count(*) from current_rows").fetchone()[0]
    return Plan(run_id, source_rows, counts.get("add", 0), counts.get("change", 0), counts.get("remove", 0))


def start_run(con, spec, run_id: str, dry_run: bool) -> None:
    # Rows an earlier run left pending were in flight when it died; this run plans them again.
    con.execute(f"""update {SCHEMA}.delivery_log set status = 'interrupted', error = 'the run ended before an answer'
                    where sync_name = ? and status = 'pending'""", [spec.name])
    con.execute(f"""update {SCHEMA}.sync_runs set status = 'interrupted', finished_at = {NOW}
                    where sync_name = ? and status in ('planning', 'applying')""", [spec.name])
    con.execute(f"insert into {SCHEMA}.sync_runs (run_id, sync_name, started_at, status, mode, destination, is_dry_run) "
                f"values (?, ?, {NOW}, 'planning', ?, ?, ?)", [run_id, spec.name, spec.mode, spec.destination_type,
                                                             dry_run])


def finish_run(con, run_id: str, status: str, plan: Plan | None, sent: int = 0, failed: int = 0,
               message: str | None = None) -> None:
    con.execute(f"""update {SCHEMA}.sync_runs set finished_at = {NOW}, status = ?, source_rows = ?, planned_adds = ?,
                    planned_changes = ?, planned_removes = ?, rows_sent = ?, rows_failed = ?, message = ?
                    where run_id = ?""",
                [status, plan.source_rows if plan else None, plan.adds if plan else None,
                 plan.changes if plan else None, plan.removes if plan else None, sent, failed, message, run_id])


def last_source_rows(con, sync_name: str) -> int | None:
    row = con.execute(f"""select source_rows from {SCHEMA}.sync_runs
                          where sync_name = ? and status in ('succeeded', 'partial') and not is_dry_run
                          order by started_at desc limit 1""", [sync_name]).fetchone()
    return row[0] if row else None


def delivered_count(con, sync_name: str) -> int:
    return con.execute(f"select count(*) from {SCHEMA}.delivered_state where sync_name = ?", [sync_name]).fetchone()[0]


def sample(con, run_id: str, limit: int = 5) -> list[tuple]:
    return con.execute(f"""select change, operation, record_key, payload from {SCHEMA}.sync_plans
                           where run_id = ? order by change, record_key limit ?""", [run_id, limit]).fetchall()


def log_pending(con, rows: list[tuple]) -> None:
    """rows: (run_id, sync, record_key, operation, attempt, idempotency_key, payload_hash)."""
    con.executemany(f"""insert into {SCHEMA}.delivery_log (run_id, sync_name, record_key, operation, status, error,
                        attempt, idempotency_key, payload_hash, logged_at)
                        values (?, ?, ?, ?, 'pending', null, ?, ?, ?, {NOW})""", rows)


def record_results(con, run_id: str, sync_name: str, results: list[tuple]) -> None:
    """results: (record_key, idempotency_key, ok, error) for rows logged pending in this run. In
    one transaction: the log rows get their status, and delivered rows their state."""
    import pyarrow as pa

    table = pa.table({"record_key": [r[0] for r in results], "idempotency_key": [r[1] for r in results],
                      "ok": [bool(r[2]) for r in results], "error": [r[3] for r in results]})
    con.register("batch_results", table)
    try:
        con.execute("begin transaction")
        con.execute(f"""update {SCHEMA}.delivery_log as l
                        set status = case when b.ok then 'sent' else 'failed' end, error = b.error, logged_at = {NOW}
                        from batch_results as b
                        where l.run_id = ? and l.idempotency_key = b.idempotency_key and l.status = 'pending'""",
                    [run_id])
        apply_state(con, run_id, sync_name, "select idempotency_key from batch_results where ok")
        con.execute("commit")
    except Exception:
        con.execute("rollback")
        raise
    finally:
        con.unregister("batch_results")


def apply_state(con, run_id: str, sync_name: str, delivered_keys_sql: str) -> None:
    """Record as delivered the plan rows of run_id whose idempotency keys `delivered_keys_sql` selects."""
    con.execute(f"""delete from {SCHEMA}.delivered_state
                    where sync_name = $sync and record_key in (
                        select p.record_key from {SCHEMA}.sync_plans as p
                        where p.run_id = $run and p.idempotency_key in ({delivered_keys_sql}))""",
                {"sync": sync_name, "run": run_id})
    con.execute(f"""insert into {SCHEMA}.delivered_state
                    select p.sync_name, p.record_key, p.payload_hash, p.payload, {NOW}, p.run_id
                    from {SCHEMA}.sync_plans as p
                    where p.run_id = $run and p.operation != 'delete'
                      and p.idempotency_key in ({delivered_keys_sql})""", {"run": run_id})


def payload_of(text: str | None) -> dict:
    return json.loads(text) if text else {}
