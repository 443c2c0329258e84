"""Files: CSV, JSON Lines or Parquet, written so that a reader never sees half a file.

    destination: {type: file, format: parquet, path: exports/vip_customers.parquet}

A relative path is under CDP_EXPORTS_DIR, else the project folder.

Mode mirror keeps one file at `path`: the whole current set, replaced each run that
changes anything. The other modes write each run's changes as a new file in the folder
`path`, named <UTC time>-<run id>.<format>, with `_operation` (upsert, insert, update,
delete) and `_record_key` before the fields.

The file is local whichever warehouse holds the sync's state (that is the destination): on
DuckDB the warehouse writes it itself (COPY); on Snowflake the rows are fetched and the
same COPY runs in a local in-memory DuckDB, so the files have the same formats.

Atomicity, two-phase: DuckDB writes a hidden temporary file next to the final one and it is
flushed to disk; then one warehouse transaction records the delivery (the log, from which
the delivered state is folded) and the pending rename; then the file is renamed into place (atomic on one filesystem) and the
pending rename cleared. A run killed before the transaction leaves only a temporary file,
removed by the next run (nothing was recorded, so the next run plans the rows again); a run
killed after it has its rename finished by the next run (recover), so what the warehouse
says was delivered is always what the files hold.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import ClassVar

from orchestration import settings
from orchestration.exports import state
from orchestration.exports.destinations.base import ConfigurationError, required

FORMATS = {"csv": "(format csv, header true)", "jsonl": "(format json)", "parquet": "(format parquet)"}


def _sql_path(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write(wh, query: str, path: Path, file_format: str) -> None:
    """The query's rows as a file at ``path``, written by DuckDB's COPY: the warehouse's own
    when it is DuckDB, else a local in-memory one given the fetched rows."""
    if wh.engine == "duckdb":
        wh.execute(f"copy ({query}) to {_sql_path(path)} {FORMATS[file_format]}")
        return
    import duckdb

    rows = wh.arrow(query)
    local = duckdb.connect()
    try:
        local.register("rows", rows)
        local.execute(f"copy (select * from rows) to {_sql_path(path)} {FORMATS[file_format]}")
    finally:
        local.close()


class FileDestination:
    kind: ClassVar[str] = "file"
    bulk: ClassVar[bool] = True
    max_batch_rows: ClassVar[int] = 0
    max_batch_bytes: ClassVar[int | None] = None
    supported_operations: ClassVar[tuple[str, ...]] = ("upsert", "insert", "update", "delete")

    def __init__(self, file_format: str, path: Path):
        self.format = file_format
        self.path = path

    @classmethod
    def from_config(cls, spec: dict, sync_name: str) -> FileDestination:
        file_format = required(spec, "format", sync_name, "file", "parquet")
        if file_format not in FORMATS:
            raise ConfigurationError(f"sync '{sync_name}': file format '{file_format}' is not one of "
                                     f"{', '.join(FORMATS)}")
        path = Path(required(spec, "path", sync_name, "file", "exports/audience.parquet"))
        if not path.is_absolute():
            path = settings.exports_dir() / path
        return cls(file_format, path)

    def recover(self, wh, spec) -> None:
        """Finish renames a killed run had committed; remove temporary files it had not."""
        state.ensure_schema(wh)
        for run_id, temp, final in wh.rows(f"""select run_id, temp_path, final_path from {state.SCHEMA}.pending_publishes
                                               where sync_name = ?""", [spec.name]):
            if Path(temp).exists():
                os.replace(temp, final)
            elif not Path(final).exists():
                raise ConfigurationError(f"sync '{spec.name}': run {run_id} was recorded as delivered to {final}, "
                                         f"but neither that file nor its temporary file {temp} exists (removed by "
                                         f"hand?); delete its rows from cdp_sync.delivered_state to send them again")
            wh.execute(f"delete from {state.SCHEMA}.pending_publishes where run_id = ?", [run_id])
        folder = self.path.parent if spec.mode == "mirror" else self.path
        for stray in folder.glob(".*.tmp-*") if folder.is_dir() else []:
            stray.unlink()

    def apply_plan(self, wh, spec, plan: state.Plan) -> tuple[int, int]:
        # Names quoted as written (current_rows holds the fields so): Snowflake would upper-case them.
        fields = ", ".join(f'c."{name}"' for name in spec.fields)
        if spec.mode == "mirror":
            final = self.path
            query = f'select record_key as "_record_key", {fields} from current_rows as c order by record_key'
        else:
            stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
            final = self.path / f"{stamp}-{plan.run_id[:12]}.{self.format}"
            query = f"""select p.operation as "_operation", p.record_key as "_record_key", {fields}
                        from {state.SCHEMA}.sync_plans as p
                        left join current_rows as c on p.record_key = c.record_key
                        where p.run_id = '{plan.run_id}' order by p.record_key"""
        final.parent.mkdir(parents=True, exist_ok=True)
        temp = final.parent / f".{final.name}.tmp-{plan.run_id[:12]}"
        _write(wh, query, temp, self.format)
        _fsync(temp)
        try:
            with wh.transaction():
                wh.execute(f"insert into {state.SCHEMA}.pending_publishes values (?, ?, ?, ?)",
                           [plan.run_id, spec.name, str(temp), str(final)])
                state.log_delivered(wh, plan.run_id)  # delivered_state is folded from it after the run
                wh.execute(f"insert into {state.SCHEMA}.files_written values (?, ?, ?, ?, {wh.now_utc()})",
                           [spec.name, plan.run_id, str(final), self.format])
        except Exception:
            temp.unlink(missing_ok=True)
            raise
        os.replace(temp, final)
        _fsync(final.parent)
        wh.execute(f"delete from {state.SCHEMA}.pending_publishes where run_id = ?", [plan.run_id])
        return plan.total, 0

    def close(self) -> None:
        pass
