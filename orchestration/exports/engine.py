"""Plan, then apply: one run of one sync.

1. Read the source (an audience's members, or a mart) into `current_rows`: the record key,
   the payload (destination fields, as JSON) and its hash. Rows without consent for the
   sync's purpose are left out here (audiences already applied consent).
2. Plan: diff against the state last delivered (state.build_plan): adds, changes and, in
   mirror mode, removes (only of rows this sync delivered). The plan is recorded.
3. Gates: mirror refuses to remove more than its max_remove_share of what it delivered
   (unless allow_large_removal); a sync with gate.max_size_change_share refuses when the
   source moved more than that since its last successful run. A refused run sends nothing
   and says why.
4. Apply: file destinations write one file, atomically (files.py). API destinations get
   batches within their limits; each batch is logged `pending` before it is sent, then its
   per-row results and the delivered state are recorded in one transaction. Rate limits
   are waited out (Retry-After), transient failures retried with exponential backoff and
   jitter, a rejected batch split in halves down to the row that fails alone.

A destination in replace mode (Meta's replace session, Google's removeAll job) swaps its whole
audience for one run's upload: when anything changed, every current row is sent, logged
`staged` until the session is closed, and the session is closed only when every row the
vendor would take got there (docs/destinations.md, "Replace mode").

A failed row is not in delivered_state, so the next run plans it again; a run killed
mid-way leaves pending rows whose next attempt carries the same idempotency key.
"""

from __future__ import annotations

import json
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from orchestration.exports import state
from orchestration.exports.config import SyncConfigError, SyncSpec
from orchestration.exports.destinations import registry
from orchestration.exports.destinations.base import (BatchRejected, Operation, RateLimited, RowResult,
                                                     TransientError)
from orchestration.lib import warehouse as warehouses

MAX_ATTEMPTS = 5          # per batch, for transient failures
MAX_RATE_LIMIT_WAIT = 300  # seconds of Retry-After one batch may wait in all
CONSENT_COLUMNS = {"email": "can_email", "sms": "can_sms"}


@dataclass
class RunResult:
    sync: str
    run_id: str
    status: str                 # succeeded | partial | failed | refused | dry_run | nothing_to_do
    plan: state.Plan | None
    sent: int = 0
    failed: int = 0
    message: str | None = None
    sample: list[tuple] = field(default_factory=list)


class SyncRefused(RuntimeError):
    """A gate stopped the run; nothing was sent."""


def _relation(wh, manifest: dict, model: str) -> str:
    for node in manifest["nodes"].values():
        if node["resource_type"] in ("model", "seed", "snapshot") and node["name"] == model \
                and node["package_name"] == "cdp":
            return wh.relation(node["schema"], node["alias"])
    raise SyncConfigError(f"source model '{model}' is not in the dbt project; name a model (e.g. profiles, "
                          f"audience_members)")


def load_current_rows(wh, spec: SyncSpec, manifest: dict) -> None:
    """current_rows(record_key, payload, payload_hash) plus each field as a typed column,
    named exactly as the sync names it (quoted: Snowflake would upper-case it)."""
    relation = _relation(wh, manifest, spec.source_model)
    columns = set(wh.columns(f"select * from {relation} limit 0"))
    wanted = [spec.primary_key, *spec.fields.values()]
    missing = [c for c in wanted if c not in columns]
    if missing:
        raise SyncConfigError(f"{spec.file}: sync '{spec.name}': {spec.source_model} has no column(s) "
                              f"{', '.join(missing)}; its columns: {', '.join(sorted(columns))}")
    where, params, joins = [f"src.{spec.primary_key} is not null"], [], ""
    if spec.audience:
        audiences = {e["name"] for e in manifest.get("exposures", {}).values()
                     if "audience" in ((e.get("config") or {}).get("meta") or {})}
        if spec.audience not in audiences:
            raise SyncConfigError(f"{spec.file}: sync '{spec.name}': no audience '{spec.audience}'; audiences: "
                                  f"{', '.join(sorted(audiences)) or 'none'} (segments/audiences/)")
        where.append("src.audience_name = ?")
        params.append(spec.audience)
    elif spec.purpose in CONSENT_COLUMNS:
        if spec.primary_key != "profile_id":
            raise SyncConfigError(f"{spec.file}: sync '{spec.name}': purpose {spec.purpose} needs consent per "
                                  f"profile, so the primary key must be profile_id (or read an audience)")
        profiles = _relation(wh, manifest, "profiles")
        joins = f"inner join {profiles} as consent on src.profile_id = consent.profile_id"
        where.append(f"consent.{CONSENT_COLUMNS[spec.purpose]}")
    elif spec.purpose == "ads":
        raise SyncConfigError(f"{spec.file}: sync '{spec.name}': ads syncs read an audience (source: {{audience: "
                              f"...}}), where ads consent is applied")
    payload = wh.json_object({target: f"src.{column}" for target, column in spec.fields.items()})
    typed = ", ".join(f"src.{column} as {wh.quote_exact(target)}" for target, column in spec.fields.items())
    wh.execute(f"""
        create or replace temporary table current_rows as
        select
            cast(src.{spec.primary_key} as varchar) as record_key,
            {payload} as payload,
            md5({payload}) as payload_hash,
            {typed}
        from {relation} as src
        {joins}
        where {' and '.join(where)}""", params)
    duplicates = wh.rows("select record_key, count(*) from current_rows group by 1 having count(*) > 1 limit 3")
    if duplicates:
        raise SyncConfigError(f"{spec.file}: sync '{spec.name}': primary_key {spec.primary_key} is not unique in "
                              f"{spec.source_model} (e.g. {duplicates[0][0]!r} x{duplicates[0][1]}); pick a unique key")


def _gate(wh, spec: SyncSpec, plan: state.Plan, allow_large_removal: bool, allow_size_change: bool) -> str | None:
    if plan.removes:
        delivered = state.delivered_count(wh, spec.name)
        share = plan.removes / delivered if delivered else 0.0
        if share > spec.max_remove_share and not allow_large_removal:
            return (f"mirror would remove {plan.removes:,} of the {delivered:,} rows this sync delivered "
                    f"({share:.0%} > max_remove_share {spec.max_remove_share:.0%}); check the source, then run "
                    f"again with --allow-large-removal if it is intended")
    if spec.max_size_change_share is not None and not allow_size_change:
        last = state.last_source_rows(wh, spec.name)
        if last:
            moved = abs(plan.source_rows - last) / last
            if moved > spec.max_size_change_share:
                return (f"the source has {plan.source_rows:,} rows against {last:,} at the last successful run "
                        f"({moved:.0%} > gate.max_size_change_share {spec.max_size_change_share:.0%}); check it, "
                        f"then raise the gate or run with --allow-size-change")
    return None


def _send_with_discipline(destination, batch: list[Operation], sleep: Callable[[float], None],
                          log: Callable[[str], None]) -> list[RowResult]:
    """Send one batch: wait out rate limits, retry transient failures with exponential
    backoff and jitter, split a rejected batch until the bad rows fail alone."""
    waited, attempt = 0.0, 0
    while True:
        try:
            results = destination.send(batch)
            by_key = {r.key: r for r in results}
            return [by_key.get(op.key) or RowResult(op.key, False, "the destination reported nothing for this row",
                                                    retryable=True) for op in batch]
        except RateLimited as limited:
            waited += limited.retry_after
            if waited > MAX_RATE_LIMIT_WAIT:
                return [RowResult(op.key, False, f"rate limited for over {MAX_RATE_LIMIT_WAIT} s", True) for op in batch]
            log(f"rate limited: waiting {limited.retry_after:g} s (Retry-After)")
            sleep(limited.retry_after)
        except TransientError as error:
            attempt += 1
            if attempt >= MAX_ATTEMPTS:
                return [RowResult(op.key, False, f"{error} (after {attempt} attempts)", True) for op in batch]
            delay = min(30.0, 0.5 * 2 ** (attempt - 1)) * (0.5 + random.random())
            log(f"transient failure ({error}); retrying in {delay:.1f} s")
            sleep(delay)
        except BatchRejected as rejected:
            if len(batch) == 1:
                return [RowResult(batch[0].key, False, str(rejected), retryable=False)]
            middle = len(batch) // 2
            return (_send_with_discipline(destination, batch[:middle], sleep, log)
                    + _send_with_discipline(destination, batch[middle:], sleep, log))


def _batches(rows: list[tuple], max_rows: int, max_bytes: int | None):
    batch, size = [], 0
    for row in rows:
        row_bytes = len(row[3] or "") + 64
        if batch and (len(batch) >= max_rows or (max_bytes and size + row_bytes > max_bytes)):
            yield batch
            batch, size = [], 0
        batch.append(row)
        size += row_bytes
    if batch:
        yield batch


def _apply_api(wh, spec: SyncSpec, plan: state.Plan, destination, sleep, log) -> tuple[int, int, int]:
    """Send the plan in batches. Returns rows sent, rows failed, and of those the failures
    worth retrying (throttling, timeouts) as opposed to rows the destination refused."""
    rows = wh.rows(f"""select record_key, operation, idempotency_key, payload, payload_hash, attempt
                       from {state.SCHEMA}.sync_plans where run_id = ? order by record_key""", [plan.run_id])
    ok_status = "staged" if spec.replaces_audience else "sent"
    sent = failed = retryable = 0
    for batch in _batches(rows, destination.max_batch_rows, destination.max_batch_bytes):
        state.log_pending(wh, plan.run_id, [r[2] for r in batch])
        operations = [Operation(r[1], r[0], state.payload_of(r[3]), r[2]) for r in batch]
        results = _send_with_discipline(destination, operations, sleep, log)
        state.record_outcomes(wh, plan.run_id,
                              [(op.idempotency_key, result.ok, result.error) for op, result in zip(operations, results)],
                              ok_status=ok_status)
        sent += sum(1 for r in results if r.ok)
        failed += sum(1 for r in results if not r.ok)
        retryable += sum(1 for r in results if not r.ok and r.retryable)
    return sent, failed, retryable


def run_sync(spec: SyncSpec, warehouse: Path | None, manifest: dict, dry_run: bool = False,
             allow_large_removal: bool = False, allow_size_change: bool = False,
             failed_upstream_tests: list[str] | None = None,
             log: Callable[[str], None] = lambda message: None, sleep: Callable[[float], None] = time.sleep,
             destination=None) -> RunResult:
    """One run of one sync. Its state lives in ``warehouse``: a DuckDB file's path, an open
    Warehouse (lib/warehouse.py), or None for the active dbt target's warehouse."""
    with warehouses.opened(warehouse) as wh:
        try:
            state.ensure_schema(wh)
            run_id = state.new_run_id()
            if destination is None and not dry_run:
                destination = registry.create(spec)
            if destination is not None and hasattr(destination, "recover"):
                destination.recover(wh, spec)
            state.start_run(wh, spec, run_id, dry_run)
            state.fold(wh, spec.name)  # rows a run that died had delivered
            load_current_rows(wh, spec, manifest)
            plan = state.build_plan(wh, spec, run_id)
            preview = state.sample(wh, run_id)
            if destination is not None and plan.removes and "delete" not in destination.supported_operations:
                raise SyncConfigError(f"{spec.file}: sync '{spec.name}': mode mirror removes rows, and destination "
                                      f"{spec.destination_type} cannot delete; use mode upsert")
            refusal = _gate(wh, spec, plan, allow_large_removal, allow_size_change)
            if failed_upstream_tests:
                refusal = (f"dbt test(s) upstream of {spec.source_model} failed in the last build: "
                           f"{', '.join(failed_upstream_tests[:5])}; fix the data, build again, then sync")
            if dry_run:
                state.finish_run(wh, run_id, "dry_run", plan, message=refusal)
                return RunResult(spec.name, run_id, "dry_run", plan, message=refusal, sample=preview)
            if refusal:
                state.finish_run(wh, run_id, "refused", plan, message=refusal)
                return RunResult(spec.name, run_id, "refused", plan, message=refusal, sample=preview)
            replace = spec.replaces_audience
            if plan.total == 0 or (replace and state.unsettled_changes(wh, run_id) == 0):
                state.finish_run(wh, run_id, "succeeded", plan, message="nothing changed")
                return RunResult(spec.name, run_id, "nothing_to_do", plan, sample=preview)
            if replace:
                resent = state.add_resends(wh, spec, run_id)
                log(f"replace: the destination swaps its audience for this run's rows, so the {resent:,} "
                    f"delivered, unchanged rows are sent again with the plan")
            state.finish_run(wh, run_id, "applying", plan)
            retryable = 0
            try:
                if getattr(destination, "bulk", False):
                    sent, failed = destination.apply_plan(wh, spec, plan)
                else:
                    sent, failed, retryable = _apply_api(wh, spec, plan, destination, sleep, log)
            except Exception as exc:
                # What was delivered before the failure is recorded; the rest is planned again next run.
                state.finish_run(wh, run_id, "failed", plan, message=f"{exc.__class__.__name__}: {exc}"[:1000])
                raise
            status = "succeeded" if not failed else ("partial" if sent else "failed")
            unfinished = None
            if replace:
                # Finishing swaps the audience for what was uploaded: only when every row the
                # destination would take got there. Rows it refused for good (an invalid email)
                # cannot be members anyway; a throttled or timed-out row could.
                if retryable:
                    status = "failed"
                    unfinished = (f"replace session left unfinished, so the destination's audience is unchanged: "
                                  f"{retryable:,} row(s) failed for a reason worth retrying; the next run uploads "
                                  f"every row again")
                else:
                    try:
                        destination.finish()
                    except Exception as exc:
                        state.finish_run(wh, run_id, "failed", plan, sent, failed,
                                         f"replace session could not be finished, so the destination's audience is "
                                         f"unchanged and the next run uploads every row again: "
                                         f"{exc.__class__.__name__}: {exc}"[:1000])
                        raise
                    state.confirm_staged(wh, run_id)
            elif hasattr(destination, "finish") and not failed:
                destination.finish()  # a client that commits at the end of a complete run
            state.finish_run(wh, run_id, status, plan, sent, failed)
            state.fold(wh, spec.name)
            if replace and not unfinished:
                state.forget_replaced(wh, spec.name, run_id)
            message = unfinished
            if failed and not unfinished:
                errors = wh.rows(f"""select error, count(*) from {state.SCHEMA}.delivery_log
                                     where run_id = ? and status = 'failed' group by 1 order by 2 desc limit 3""",
                                 [run_id])
                message = "; ".join(f"{n} x {e}" for e, n in errors)
            state.finish_run(wh, run_id, status, plan, sent, failed, message)
            return RunResult(spec.name, run_id, status, plan, sent, failed, message, preview)
        finally:
            if destination is not None:
                destination.close()


def describe(result: RunResult) -> str:
    plan = result.plan
    counts = (f"{plan.source_rows:,} source rows; plan: {plan.adds:,} adds, {plan.changes:,} changes, "
              f"{plan.removes:,} removes") if plan else "no plan"
    text = f"{result.sync}: {result.status}; {counts}"
    if result.status not in ("dry_run", "refused", "nothing_to_do"):
        text += f"; sent {result.sent:,}, failed {result.failed:,}"
    if result.message:
        text += f" ({result.message})"
    return text


def sample_lines(result: RunResult) -> list[str]:
    return [f"  {change:<6} {operation:<6} {key}  {json.dumps(json.loads(payload)) if payload else ''}"[:200]
            for change, operation, key, payload in result.sample]
