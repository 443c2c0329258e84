"""The segment compiler outside dbt, for `cdp segment size`.

The compiler is the dbt macro library in macros/segments/. Starting dbt costs seconds,
so this module renders those same macro files with Jinja and a small context holding
what they use (return, exceptions.raise_compiler_error, adapter.dispatch, modules.re,
var, env_var and the few dbt macros they call, read from the installed dbt packages).
The catalog (columns and their contract types, the event catalog, the other segments)
comes from dbt's manifest. python_tests/test_segments.py checks that this renders the
same SQL as dbt does for every built-in segment.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import jinja2
import yaml

PROJECT_MACROS = ("macros/segments/compiler.sql", "macros/segments/catalog.sql", "macros/utils/as_of.sql",
                  "macros/identity/normalize.sql")
DBT_MACROS = ("global_project/macros/utils/dateadd.sql", "global_project/macros/utils/safe_cast.sql",
              "global_project/macros/utils/position.sql", "global_project/macros/utils/data_types.sql",
              "duckdb/macros/utils/dateadd.sql")
# The models segments compare columns of, in lookup order (macro segment_models), and the events.
SEGMENT_MODELS = ("profiles", "profile_traits", "profile_rfm", "stg_predictions__profile_scores", "profile_events")
# dbt's Column.translate_type (base Column.TYPE_LABELS; dbt-duckdb adds none): the macros in data_types.sql call it.
TYPE_LABELS = {"STRING": "TEXT"}


class SegmentDefinitionError(ValueError):
    """A segment definition the compiler refuses; the message names the file, the rule path and the fix."""


class _MacroReturn(Exception):
    def __init__(self, value):
        super().__init__()
        self.value = value


def _return(value):
    raise _MacroReturn(value)


def _raise_compiler_error(message):
    raise SegmentDefinitionError(message)


class _Macros:
    """A dbt-like macro namespace: `cdp.name(...)` calls a macro and honours return()."""

    def __init__(self):
        self._macros: dict[str, Any] = {}

    def add(self, name, macro):
        self._macros[name] = macro

    def has(self, name):
        return name in self._macros

    def __getattr__(self, name):
        try:
            macro = self._macros[name]
        except KeyError:
            raise AttributeError(f"no macro named {name}") from None

        def call(*args, **kwargs):
            try:
                return str(macro(*args, **kwargs))
            except _MacroReturn as returned:
                return returned.value
        return call


class _Adapter:
    def __init__(self, engine, namespaces):
        self.engine = engine
        self.namespaces = namespaces

    def dispatch(self, name, namespace):
        macros = self.namespaces[namespace]
        for prefix in (self.engine, "default"):
            if macros.has(f"{prefix}__{name}"):
                return getattr(macros, f"{prefix}__{name}")
        raise SegmentDefinitionError(f"no {self.engine}__ or default__ implementation of {namespace}.{name}")


class _Column:
    @staticmethod
    def translate_type(dtype):
        return TYPE_LABELS.get(dtype.upper(), dtype)


@dataclass
class Compiler:
    project_dir: Path
    variables: dict[str, Any]
    engine: str = "duckdb"

    def __post_init__(self):
        self.cdp = _Macros()
        self.dbt = _Macros()
        self.environment = jinja2.Environment(extensions=["jinja2.ext.do", "jinja2.ext.loopcontrols"])
        self.globals = {
            "return": _return,
            "exceptions": type("exceptions", (), {"raise_compiler_error": staticmethod(_raise_compiler_error)}),
            "modules": type("modules", (), {"re": re}),
            "adapter": _Adapter(self.engine, {"cdp": self.cdp, "dbt": self.dbt}),
            "api": type("api", (), {"Column": _Column}),
            "var": lambda name, default=None: self.variables.get(name, default),
            "env_var": lambda name, default=None: os.environ.get(name, default),
            "cdp": self.cdp,
            "dbt": self.dbt,
            "tojson": json.dumps,
            "fromjson": json.loads,
        }
        dbt_include = Path(find_spec("dbt.include").submodule_search_locations[0])
        for relative in DBT_MACROS:
            self._load((dbt_include / relative).read_text(), self.dbt)
        if self.engine == "snowflake":
            for path in sorted((dbt_include / "snowflake" / "macros" / "utils").glob("*.sql")):
                self._load(path.read_text(), self.dbt)
        for relative in PROJECT_MACROS:
            self._load((self.project_dir / relative).read_text(), self.cdp)

    def _load(self, source: str, namespace: _Macros) -> None:
        for match in re.finditer(r"{%-?\s*macro\s+(\w+)\s*\(.*?{%-?\s*endmacro\s*-?%}", source, flags=re.S):
            module = self.environment.from_string(match.group(0), globals=self.globals).module
            namespace.add(match.group(1), getattr(module, match.group(1)))

    def catalog(self, segments: dict, columns: dict, events: dict, origin: str) -> dict:
        """The checked catalog, as dbt's segment_catalog builds it (macro segment_catalog_from)."""
        return self.cdp.segment_catalog_from(segments, columns, events, origin)

    def membership_sql(self, names: list[str], catalog: dict, relations: dict[str, str]) -> str:
        """(segment_name, profile_id) for every member of the segments `names`."""
        return self.cdp.segment_membership_sql(names, catalog, relations)


def manifest_catalog(manifest: dict) -> tuple[dict, dict[str, str]]:
    """(segments, columns, events) and relation names from a dbt manifest, as dbt's macro
    segment_catalog reads them from the graph."""
    segments, columns, events, relations = {}, {}, {}, {}
    for exposure in manifest.get("exposures", {}).values():
        meta = (exposure.get("config") or {}).get("meta") or exposure.get("meta") or {}
        if "segment" in meta and isinstance(meta["segment"], dict):
            segments[exposure["name"]] = {"rule": meta["segment"].get("rule"), "file": exposure["original_file_path"]}
    models = {n["name"]: n for n in manifest["nodes"].values()
              if n["resource_type"] == "model" and n["package_name"] == "cdp" and n["name"] in SEGMENT_MODELS}
    missing = [m for m in SEGMENT_MODELS if m not in models]
    if missing:
        raise SegmentDefinitionError(f"the dbt manifest has no model(s) {', '.join(missing)}; run `cdp build` first")
    for name in SEGMENT_MODELS[:-1]:
        for column_name, column in models[name]["columns"].items():
            columns.setdefault(column_name, {"model": name, "data_type": column.get("data_type")})
    properties = models["profile_events"]["columns"].get("properties", {})
    events = ((properties.get("config") or {}).get("meta") or properties.get("meta") or {}).get("events") or {}
    for name, node in models.items():
        relations[name] = f'"{node["schema"]}"."{node["alias"]}"'
    return {"segments": segments, "columns": columns, "events": events}, relations


def read_definition_file(path: Path) -> dict[str, dict]:
    """The segments a YAML file declares (exposures with config.meta.segment), by name."""
    if not path.is_file():
        raise SegmentDefinitionError(f"{path}: no such file; give a segment YAML file (see segments/*.yml)")
    try:
        document = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise SegmentDefinitionError(f"{path}: not valid YAML ({exc})") from exc
    found = {}
    for exposure in (document or {}).get("exposures") or []:
        meta = ((exposure.get("config") or {}).get("meta") or exposure.get("meta") or {}) if isinstance(exposure, dict) else {}
        if isinstance(meta.get("segment"), dict) and exposure.get("name"):
            found[exposure["name"]] = {"rule": meta["segment"].get("rule"), "file": str(path)}
    if not found:
        raise SegmentDefinitionError(f"{path}: declares no segment; a segment is an exposure with "
                                     f"config: {{meta: {{segment: {{rule: ...}}}}}} (see segments/vip_customers.yml)")
    return found


@dataclass
class SegmentSize:
    name: str
    file: str
    members: int
    profiles: int
    sample: list[str]
    as_of: str
    sql: str


def size_definitions(path: Path, warehouse: Path, sample: int = 5) -> list[SegmentSize]:
    """Compile the segments a draft file declares against the built warehouse and count
    their members now, without a dbt build. Other segments it names (in_segment) come
    from the project; a draft with the name of a project segment replaces it."""
    import duckdb

    from orchestration import settings
    from orchestration.dbt.project import ensure_manifest

    drafts = read_definition_file(path)
    manifest = json.loads(ensure_manifest().read_text())
    raw, relations = manifest_catalog(manifest)
    raw["segments"].update(drafts)
    try:
        connection = duckdb.connect(str(warehouse), read_only=True)
    except duckdb.IOException as exc:
        raise SegmentDefinitionError(f"cannot read the warehouse {warehouse} ({str(exc).splitlines()[0]}); "
                                     f"if a build is running, size the segment when it has finished") from exc
    try:
        simulated = connection.execute("select count(*) from information_schema.tables where "
                                       "table_schema = '_cdp_meta' and table_name = 'simulation'").fetchone()[0]
        clock = connection.execute("select clock from _cdp_meta.simulation").fetchone() if simulated else None
        # The same moment dbt builds as of (orchestration/dbt/project.py sets CDP_AS_OF to it).
        variables = {"as_of": clock[0].isoformat(sep=" ")} if clock else {}
        compiler = Compiler(settings.PROJECT_DIR, variables)
        catalog = compiler.catalog(raw["segments"], raw["columns"], raw["events"], "the dbt manifest")
        sql = compiler.membership_sql(sorted(drafts), catalog, relations)
        connection.execute(f"create temporary table draft_members as {sql}")
        profiles = connection.execute(f"select count(*) from {relations['profiles']}").fetchone()[0]
        moment = connection.execute(f"select cast({compiler.cdp.as_of()} as varchar)").fetchone()[0]
        sizes = []
        for name in sorted(drafts):
            members = connection.execute("select count(*) from draft_members where segment_name = ?", [name]).fetchone()[0]
            rows = connection.execute("select profile_id from draft_members where segment_name = ? "
                                      "order by profile_id limit ?", [name, sample]).fetchall()
            sizes.append(SegmentSize(name, drafts[name]["file"], members, profiles, [r[0] for r in rows], moment, sql))
    finally:
        connection.close()
    return sizes
