"""GDPR/CCPA requests: forget a person, export what is held on them, and the audit trail.

Everything lives in the schema cdp_privacy of the active dbt target's warehouse (the DuckDB
file, or Snowflake; orchestration/lib/warehouse.py), next to the marts the build reads it with:
- requests: one row per request (forget or export), with who asked, when, why, and the
  SHA-256 of the identifier given; never the identifier itself;
- suppressions: for a forget, the SHA-256 of every identifier the person had (emails,
  phones, also by their last nine digits, device and user ids, source record keys with and
  without their type, profile ids).
  The dbt build reads it (models/staging/privacy): records, events and history rows that
  carry one of these hashes are left out or deleted, so the person disappears from every
  mart and snapshot at the next build, and raw records loaded again later cannot bring them
  back (their identifiers still hash to a suppressed value);
- audit_log: every privacy action and export, with what, when and by whom (CDP_ACTOR, else
  the operating-system user).

A forget also deletes, at once, the raw rows seeds/privacy/raw_purge_policy.csv says to
purge (and keeps those it marks as kept, such as orders and invoices for tax records).

`complete` runs after a build and the syncs: it removes the person from the files earlier
syncs wrote and from tables Python assets write back (the predictions), scrubs their
payloads from the syncs' state, and records each forget request
as completed once none of its hashes is found in any table of the warehouse.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

from orchestration import settings
from orchestration.exports.normalize import InvalidIdentifier, normalize_email, normalize_phone
from orchestration.exports.normalize import sha256_hex as sha256
from orchestration.lib import warehouse as warehouses

SCHEMA = "cdp_privacy"
# {ts}: the engine's timestamp type (Warehouse.timestamp).
DDL = [
    f"create schema if not exists {SCHEMA}",
    f"""create table if not exists {SCHEMA}.requests (
        request_id varchar primary key, kind varchar not null, identifier_type varchar not null,
        subject_sha256 varchar not null, requested_at {{ts}} not null, requested_by varchar not null,
        reason varchar, profiles_found integer not null, completed_at {{ts}}, output_path varchar)""",
    f"""create table if not exists {SCHEMA}.suppressions (
        request_id varchar not null, identifier_type varchar not null, identifier_sha256 varchar not null,
        added_at {{ts}} not null)""",
    f"""create table if not exists {SCHEMA}.audit_log (
        audit_id varchar primary key, action varchar not null, subject_sha256 varchar, actor varchar not null,
        occurred_at {{ts}} not null, details varchar)""",
]
TYPES = ("email", "phone", "profile_id", "anonymous_id", "user_id", "shopify_customer_id", "stripe_customer_id",
         "klaviyo_person_id", "zendesk_user_id", "salesforce_contact_id", "salesforce_lead_id")
RECORD_TYPES = TYPES[4:]  # identifier types that are also a source record's own key ('<type>:<id>')


class PrivacyError(ValueError):
    """A privacy request that cannot be carried out; the message says why and what to do."""


def phone_tail(value: str) -> str:
    """The last nine digits: what the build can compare for raw phones in any format."""
    return re.sub(r"\D", "", value)[-9:]


def actor() -> str:
    from orchestration.exports.state import actor as configured_actor

    return configured_actor()


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


def normalized(identifier: str, identifier_type: str) -> str:
    """The identifier as identity resolution stores it in marts.profile_identifiers."""
    if identifier_type not in TYPES:
        raise PrivacyError(f"identifier type '{identifier_type}' is not one of {', '.join(TYPES)}")
    try:
        if identifier_type == "email":
            value = normalize_email(identifier, fold_gmail_dots=True, strip_plus_tag=True)
            return value.replace("@googlemail.com", "@gmail.com")
        if identifier_type == "phone":
            return normalize_phone(identifier, default_country="US")
    except InvalidIdentifier as exc:
        raise PrivacyError(f"'{identifier}' is not a valid {identifier_type} ({exc}); give it as the person wrote it, "
                           f"or pass --type") from exc
    value = identifier.strip()
    if not value:
        raise PrivacyError("the identifier is empty")
    return value


def guess_type(identifier: str) -> str:
    if "@" in identifier:
        return "email"
    if identifier.startswith("p_"):
        return "profile_id"
    if re.fullmatch(r"[+()\d\s.-]{7,}", identifier):
        return "phone"
    raise PrivacyError(f"cannot tell what kind of identifier '{identifier}' is; pass --type ({', '.join(TYPES)})")


@contextmanager
def _connect(warehouse):
    """The warehouse (a DuckDB file's path, an open Warehouse, or None: the active dbt
    target's), with the cdp_privacy tables."""
    if warehouse is None and warehouses.engine_of(settings.dbt_target()) == "duckdb":
        warehouse = settings.duckdb_path()
    if isinstance(warehouse, (str, Path)) and not Path(warehouse).exists():
        raise PrivacyError(f"warehouse {warehouse} does not exist; set CDP_DUCKDB_PATH")
    with warehouses.opened(warehouse) as wh:
        for statement in DDL:
            wh.execute(statement.replace("{ts}", wh.timestamp))
        yield wh


def _has_table(wh, schema: str, table: str) -> bool:
    return wh.has_table(schema, table)


def _profiles_of(wh, identifier_type: str, value: str) -> list[str]:
    if identifier_type == "profile_id":
        found = wh.rows("select profile_id from marts.profiles where profile_id = ?", [value]) \
            if _has_table(wh, "marts", "profiles") else []
        return [r[0] for r in found] or [value]
    if not _has_table(wh, "marts", "profile_identifiers"):
        return []
    return [r[0] for r in wh.rows("""select distinct profile_id from marts.profile_identifiers
                                     where identifier_type = ? and identifier_value = ?""", [identifier_type, value])]


def _audit(wh, action: str, subject: str | None, details: dict) -> None:
    wh.execute(f"insert into {SCHEMA}.audit_log values (?, ?, ?, ?, ?, ?)",
               [uuid.uuid4().hex, action, subject, actor(), _now(), json.dumps(details, default=str)])


@dataclass
class ForgetResult:
    request_id: str
    profiles: int
    suppressed: int
    raw_rows_purged: int = 0


POLICY = Path(__file__).resolve().parents[2] / "seeds" / "privacy" / "raw_purge_policy.csv"


def raw_purge_policy() -> list[dict]:
    """seeds/privacy/raw_purge_policy.csv: which raw columns identify a person, and whether
    their rows are purged on a forget (false: kept by policy, e.g. tax records)."""
    import csv

    with POLICY.open() as handle:
        return [{**row, "purge": row["purge"].strip().lower() == "true"} for row in csv.DictReader(handle)]


def raw_schemas() -> dict[str, str]:
    """The schema each dbt source reads (its `<source>_schema` var, else the source's name), from
    the parsed project: where a policy row's raw table is."""
    import json

    from orchestration.dbt.project import ensure_manifest

    manifest = json.loads(ensure_manifest().read_text())
    return {node["source_name"]: node["schema"] for node in manifest["sources"].values()}


def _located_policy() -> list[dict]:
    """raw_purge_policy() with each row's raw schema (``schema``): where its dbt source reads."""
    schemas = raw_schemas()
    return [{**rule, "schema": schemas.get(rule["source"], rule["source"])} for rule in raw_purge_policy()]


def _purge_raw(wh, request_id: str) -> dict[str, int]:
    """Delete the raw rows the policy purges: rows whose identifying column hashes to one of the
    request's suppressed identifiers. Returns rows deleted per table."""
    purged: dict[str, int] = {}
    for rule in _located_policy():
        if not rule["purge"] or not _has_table(wh, rule["schema"], rule["table_name"]):
            continue
        name = wh.relation(rule["schema"], rule["table_name"])
        hashed = wh.sha256(f"cast({wh.quote(rule['column_name'])} as varchar)")
        deleted = wh.count(f"""delete from {name} where {hashed} in (
                                   select identifier_sha256 from {SCHEMA}.suppressions
                                   where request_id = ? and identifier_type = ?)""",
                           [request_id, rule["identifier_type"]])
        if deleted:
            purged[f"{rule['source']}.{rule['table_name']}"] = purged.get(f"{rule['source']}.{rule['table_name']}", 0) \
                + deleted
    return purged


def forget(warehouse: Path | None, identifier: str, identifier_type: str | None = None,
           reason: str | None = None) -> ForgetResult:
    """Record a deletion request and the hashed suppression of everything that identifies the
    person; the next build removes them (run `cdp build`, then `cdp privacy complete`)."""
    identifier_type = identifier_type or guess_type(identifier)
    value = normalized(identifier, identifier_type)
    with _connect(warehouse) as wh:
        profiles = _profiles_of(wh, identifier_type, value)
        hashes = {(identifier_type, sha256(value))}
        if identifier_type == "phone":
            hashes.add(("phone_tail", sha256(phone_tail(value))))
        if identifier_type in RECORD_TYPES:
            hashes.add(("record_key", sha256(f"{identifier_type}:{value}")))
        for profile_id in profiles:
            hashes.add(("profile_id", sha256(profile_id)))
        if profiles and _has_table(wh, "marts", "profile_identifiers"):
            placeholders = ", ".join("?" for _ in profiles)
            for kind, held in wh.rows(f"""select identifier_type, identifier_value from marts.profile_identifiers
                                         where profile_id in ({placeholders})""", profiles):
                if kind == "email":
                    hashes.add(("email", sha256(held)))
                elif kind == "phone":
                    hashes.update({("phone", sha256(held)), ("phone_tail", sha256(phone_tail(held)))})
                elif kind == "anonymous_id":
                    hashes.add(("anonymous_id", sha256(held)))
                else:
                    # A source record's own key: as the build writes it, and bare (as columns hold it).
                    hashes.update({("record_key", sha256(f"{kind}:{held}")), ("record_id", sha256(held))})
                    if kind == "user_id":
                        hashes.add(("user_id", sha256(held)))
        request_id = uuid.uuid4().hex
        subject = sha256(value)
        now = _now()
        with wh.transaction():
            wh.execute(f"insert into {SCHEMA}.requests values (?, 'forget', ?, ?, ?, ?, ?, ?, null, null)",
                       [request_id, identifier_type, subject, now, actor(), reason, len(profiles)])
            wh.executemany(f"insert into {SCHEMA}.suppressions values (?, ?, ?, ?)",
                           [(request_id, kind, digest, now) for kind, digest in sorted(hashes)])
            purged = _purge_raw(wh, request_id)
            _audit(wh, "privacy.forget.requested", subject, {"request_id": request_id,
                                                             "identifier_type": identifier_type,
                                                             "profiles": len(profiles), "suppressed": len(hashes),
                                                             "raw_rows_purged": purged})
        return ForgetResult(request_id, len(profiles), len(hashes), sum(purged.values()))


def _rows(wh, sql: str, params: list) -> list[dict]:
    return wh.dicts(sql, params)


EXPORT_TABLES = [
    ("golden_record", "marts", "profiles", "profile_id"),
    ("field_provenance", "marts", "profile_field_provenance", "profile_id"),
    ("identifiers", "marts", "profile_identifiers", "profile_id"),
    ("traits", "marts", "profile_traits", "profile_id"),
    ("rfm", "marts", "profile_rfm", "profile_id"),
    ("predictions", "staging", "stg_predictions__profile_scores", "profile_id"),
    ("consent", "marts", "profile_consent", "profile_id"),
    ("segments", "marts", "segment_memberships", "profile_id"),
    ("segment_history", "marts", "segment_membership_history", "profile_id"),
    ("audiences", "marts", "audience_members", "profile_id"),
    ("events", "marts", "profile_events", "profile_id"),
]


def export(warehouse: Path | None, identifier: str, identifier_type: str | None, output: Path) -> tuple[str, int]:
    """Everything held on the person as one JSON document at `output` (written atomically)."""
    identifier_type = identifier_type or guess_type(identifier)
    value = normalized(identifier, identifier_type)
    with _connect(warehouse) as wh:
        profiles = _profiles_of(wh, identifier_type, value)
        if not profiles or not _has_table(wh, "marts", "profiles"):
            raise PrivacyError(f"no profile holds that {identifier_type}; nothing to export")
        placeholders = ", ".join("?" for _ in profiles)
        document = {"generated_at": _now().isoformat(), "identifier_type": identifier_type, "profiles": profiles}
        for section, schema, table, column in EXPORT_TABLES:
            if _has_table(wh, schema, table):
                document[section] = _rows(wh, f"select * from {wh.relation(schema, table)} "
                                              f"where {column} in ({placeholders})", profiles)
        if _has_table(wh, "cdp_sync", "delivery_log"):
            document["syncs"] = _rows(wh, f"""
                select l.sync_name, l.operation, l.status, l.logged_at, p.payload
                from cdp_sync.delivery_log as l
                left join cdp_sync.sync_plans as p on l.run_id = p.run_id and l.idempotency_key = p.idempotency_key
                where l.record_key in ({placeholders}) and l.status in ('sent', 'failed')
                order by l.logged_at""", profiles)
        output.parent.mkdir(parents=True, exist_ok=True)
        temp = output.with_name(f".{output.name}.tmp")
        temp.write_text(json.dumps(document, indent=2, default=str))
        os.replace(temp, output)
        request_id, subject, now = uuid.uuid4().hex, sha256(value), _now()
        wh.execute(f"insert into {SCHEMA}.requests values (?, 'export', ?, ?, ?, ?, null, ?, ?, ?)",
                   [request_id, identifier_type, subject, now, actor(), len(profiles), now, str(output)])
        _audit(wh, "privacy.export", subject, {"request_id": request_id, "output": str(output),
                                               "sections": [k for k in document if k not in ("generated_at",)]})
        return request_id, sum(len(v) for v in document.values() if isinstance(v, list))


def _suppressed(wh) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for kind, digest in wh.rows(f"select identifier_type, identifier_sha256 from {SCHEMA}.suppressions"):
        found.setdefault(kind, set()).add(digest)
    return found


def _scrub_sync_state(wh, profile_hashes: set[str]) -> int:
    """Payloads of forgotten profiles out of the syncs' state (kept: what a mirror still has to remove)."""
    if not profile_hashes or not _has_table(wh, "cdp_sync", "sync_plans"):
        return 0
    with wh.staged("forgotten", pa.table({"digest": pa.array(sorted(profile_hashes), pa.string())})):
        pending = """(select s.record_key from cdp_sync.delivered_state as s
                      inner join cdp_sync.sync_runs as r on r.sync_name = s.sync_name and r.mode = 'mirror')"""
        changed = 0
        for table, column in (("sync_plans", "record_key"), ("delivery_log", "record_key"),
                              ("delivered_state", "record_key")):
            changed += wh.count(f"""update cdp_sync.{table}
                set {column} = 'forgotten:' || {wh.sha256(column)}
                    {", payload = null" if table != "delivery_log" else ""}
                where {wh.sha256(column)} in (select digest from forgotten)
                  and {column} not in {pending}""")
        return changed


def _scrub_files(wh, profile_hashes: set[str]) -> int:
    """Rows of forgotten profiles out of every file a file sync published (cdp_sync.files_written),
    each rewritten atomically. The files are local whichever warehouse records them: a local
    in-memory DuckDB reads and rewrites them."""
    import duckdb

    from orchestration.exports.destinations.files import FORMATS

    if not profile_hashes or not _has_table(wh, "cdp_sync", "files_written"):
        return 0
    rewritten = 0
    files = wh.rows("select distinct path, format from cdp_sync.files_written")
    con = duckdb.connect()
    con.register("forgotten", pa.table({"digest": sorted(profile_hashes)}))
    try:
        for path_text, file_format in files:
            path = Path(path_text)
            if not path.exists():
                continue
            reader = {"csv": "read_csv_auto", "jsonl": "read_json_auto", "parquet": "read_parquet"}[file_format]
            source = "'" + str(path).replace("'", "''") + "'"
            where = "sha256(cast(_record_key as varchar)) in (select digest from forgotten)"
            if not con.execute(f"select count(*) from {reader}({source}) where {where}").fetchall()[0][0]:
                continue
            temp = path.with_name(f".{path.name}.tmp-forget")
            target = "'" + str(temp).replace("'", "''") + "'"
            con.execute(f"copy (select * from {reader}({source}) where not ({where})) to {target} "
                        f"{FORMATS[file_format]}").fetchall()
            os.replace(temp, path)
            rewritten += 1
    finally:
        con.close()
    return rewritten


# Tables written back by Python assets rather than built by dbt: the build cannot drop the person
# from them, so `complete` does (the next scoring would leave them out anyway).
WRITTEN_BACK = [("marts", "profile_predictions", "profile_id")]


def _scrub_written_back(wh, profile_hashes: set[str]) -> int:
    deleted = 0
    for schema, table, column in WRITTEN_BACK:
        if profile_hashes and _has_table(wh, schema, table):
            placeholders = ", ".join("?" for _ in profile_hashes)
            deleted += wh.count(f"delete from {wh.relation(schema, table)} "
                                f"where {wh.sha256(wh.quote(column))} in ({placeholders})", sorted(profile_hashes))
    return deleted


def find_traces(wh, suppressed: dict[str, set[str]]) -> list[str]:
    """Tables where a forgotten person's identifier (or profile id) still appears: every text
    column of every table outside cdp_privacy, hashed and compared with the suppressions."""
    digests = set().union(*suppressed.values()) if suppressed else set()
    if not digests:
        return []
    with wh.staged("digests", pa.table({"digest": pa.array(sorted(digests), pa.string())})):
        by_table: dict[tuple[str, str], list[str]] = {}
        for schema, table, column in wh.text_columns():
            by_table.setdefault((schema, table), []).append(column)
        traces = []
        raw = {rule["schema"] for rule in _located_policy()}
        for (schema, table), names in by_table.items():
            name = f"{wh.column_name(schema)}.{wh.column_name(table)}"
            schema_name = wh.column_name(schema)
            # The digests themselves: on Snowflake a temporary table in the catalog.
            if schema_name == SCHEMA or wh.column_name(table) == "digests":
                continue
            if schema_name.startswith("_truth") or schema_name in raw | {"staging", "_cdp_meta"}:
                continue  # raw tables (and the staging views over them) follow the purge policy
            checks = " or ".join(f"{wh.sha256(wh.quote_exact(c))} in (select digest from digests)" for c in names)
            relation = f"{wh.quote_exact(schema)}.{wh.quote_exact(table)}"
            if wh.rows(f"select count(*) from {relation} where {checks}")[0][0]:
                traces.append(name)
        return traces


def complete(warehouse: Path | None) -> dict:
    """After a build and the syncs: scrub sync files and state, then mark forget requests done
    when no trace of them is left. Returns what it did."""
    with _connect(warehouse) as wh:
        suppressed = _suppressed(wh)
        profile_hashes = suppressed.get("profile_id", set())
        files = _scrub_files(wh, profile_hashes)
        state_rows = _scrub_sync_state(wh, profile_hashes) + _scrub_written_back(wh, profile_hashes)
        traces = find_traces(wh, suppressed)
        open_requests = wh.rows(f"select request_id from {SCHEMA}.requests where kind = 'forget' "
                                f"and completed_at is null")
        completed = 0
        if not traces:
            for (request_id,) in open_requests:
                wh.execute(f"update {SCHEMA}.requests set completed_at = ? where request_id = ?", [_now(), request_id])
                _audit(wh, "privacy.forget.completed", None, {"request_id": request_id, "files_rewritten": files,
                                                               "sync_state_rows_scrubbed": state_rows})
                completed += 1
        return {"files_rewritten": files, "sync_state_rows_scrubbed": state_rows, "traces": traces,
                "completed": completed, "open": len(open_requests) - completed}
