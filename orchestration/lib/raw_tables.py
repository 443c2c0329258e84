"""The raw tables, as the dbt source YAML files declare them.

``models/staging/<source>/_<source>__sources.yml`` is the one place where a raw table's
columns, types, primary key and load mode are written down. dbt reads it to build the
staging models; the simulator reads it to shape what it generates; the loader reads it
to create and merge the tables. A column added there reaches all three.

Sources with ``loader: cdp`` are tables this project writes back itself (the Dagster
asset profile_predictions): no connector lands them and the simulator does not make
them, so they are not raw tables.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import yaml

from orchestration.settings import PROJECT_DIR

LOAD_MODES = ("upsert", "history", "append")
OWN_LOADER = "cdp"

_ARROW = {
    "varchar": pa.string(),
    "bigint": pa.int64(),
    "integer": pa.int32(),
    "double": pa.float64(),
    "boolean": pa.bool_(),
    "timestamp": pa.timestamp("us"),
    "date": pa.date32(),
}
_VAR_DEFAULT = re.compile(r"var\('[^']+',\s*'([^']+)'\)")


@dataclass(frozen=True)
class RawTable:
    source: str
    name: str
    schema: str
    columns: tuple[tuple[str, str], ...]
    primary_key: tuple[str, ...]
    load_mode: str

    @property
    def column_names(self) -> list[str]:
        return [c for c, _ in self.columns]

    @property
    def arrow_schema(self) -> pa.Schema:
        return pa.schema([(c, _ARROW[t]) for c, t in self.columns])

    @property
    def qualified(self) -> str:
        return f'"{self.schema}"."{self.name}"'


def _default_of(template: str, fallback: str) -> str:
    """The default in ``{{ var('x', 'default') }}``: where the loader writes unless told."""
    match = _VAR_DEFAULT.search(template or "")
    return match.group(1) if match else fallback


@functools.lru_cache(maxsize=4)
def raw_tables(project_dir: Path = PROJECT_DIR) -> dict[str, dict[str, RawTable]]:
    """``{source: {table: RawTable}}`` for every source YAML under ``models/staging``
    (except the project's own write-backs, ``loader: cdp``)."""
    out: dict[str, dict[str, RawTable]] = {}
    for path in sorted((project_dir / "models" / "staging").glob("*/_*__sources.yml")):
        doc = yaml.load(path.read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
        for source in doc.get("sources", []):
            if source.get("loader") == OWN_LOADER:
                continue
            schema = _default_of(source.get("schema"), source["name"])
            tables = {}
            for table in source["tables"]:
                meta = (table.get("config") or {}).get("meta") or {}
                mode = meta.get("load_mode")
                if mode not in LOAD_MODES:
                    raise ValueError(f"{path}: table {table['name']} needs config.meta.load_mode in {LOAD_MODES}")
                columns = tuple((c["name"], c["data_type"]) for c in table["columns"])
                unknown = [c for c, t in columns if t not in _ARROW]
                if unknown:
                    raise ValueError(f"{path}: table {table['name']}: unsupported data_type on {unknown}")
                tables[table["name"]] = RawTable(
                    source=source["name"], name=table["name"], schema=schema, columns=columns,
                    primary_key=tuple(meta["primary_key"]), load_mode=mode,
                )
            out[source["name"]] = tables
    return out
