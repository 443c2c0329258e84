"""The suites in quality/expectations.yml, parsed and checked: a typo in a threshold file
fails when the code location loads, with the file, the suite and the fix."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from orchestration import settings

KINDS = {
    "unique": ("column|columns",),
    "not_null": ("column",),
    "null_rate": ("column", "max"),
    "valid": ("column", "pattern", "min_rate"),
    "between": ("column", "min", "max"),
    "accepted_values": ("column", "values"),
    "row_count_change": ("max_drop", "max_growth"),
}
OPTIONAL = {"between": ("min_rate",), "accepted_values": ("min_rate",)}
SEVERITIES = ("error", "warn")


class QualityConfigError(ValueError):
    """quality/expectations.yml cannot be used; the message names the suite and the fix."""


@dataclass(frozen=True)
class Expectation:
    check: str
    severity: str
    args: dict

    @property
    def columns(self) -> list[str]:
        if "columns" in self.args:
            return list(self.args["columns"])
        return [self.args["column"]] if "column" in self.args else []

    @property
    def label(self) -> str:
        target = ",".join(self.columns) or "table"
        return f"{self.check}({target})"


@dataclass(frozen=True)
class Suite:
    name: str
    asset_key: tuple[str, ...]
    relation: str
    where: str | None
    expectations: tuple[Expectation, ...]
    patterns: dict = field(default_factory=dict, compare=False, hash=False)
    # A column that says when a row was written (a load time, a build time): an hourly check
    # validates the rows written since the last check; a full check (the daily job) all rows.
    new_rows_by: str | None = None

    @property
    def columns(self) -> list[str]:
        """The columns any expectation reads: the only ones fetched."""
        seen: list[str] = []
        for e in self.expectations:
            seen += [c for c in e.columns if c not in seen]
        return seen

    def by_severity(self, severity: str) -> list[Expectation]:
        return [e for e in self.expectations if e.severity == severity]


def config_path() -> Path:
    return settings.PROJECT_DIR / "quality" / "expectations.yml"


def _expectation(raw: dict, suite: str, patterns: dict, where: str) -> Expectation:
    raw = dict(raw)
    kind = raw.pop("check", None)
    if kind not in KINDS:
        raise QualityConfigError(f"{where}: suite '{suite}': unknown check {kind!r}; use one of {', '.join(KINDS)}")
    severity = raw.pop("severity", "warn")
    if severity not in SEVERITIES:
        raise QualityConfigError(f"{where}: suite '{suite}', {kind}: severity {severity!r}; use error or warn")
    for needed in KINDS[kind]:
        if not any(n in raw for n in needed.split("|")):
            raise QualityConfigError(f"{where}: suite '{suite}', {kind}: missing '{needed}'")
    allowed = {n for k in KINDS[kind] for n in k.split("|")} | set(OPTIONAL.get(kind, ()))
    extra = set(raw) - allowed
    if extra:
        raise QualityConfigError(f"{where}: suite '{suite}', {kind}: unknown key(s) {', '.join(sorted(extra))}; "
                                 f"it takes {', '.join(sorted(allowed))}")
    if kind == "valid" and raw["pattern"] not in patterns:
        raise QualityConfigError(f"{where}: suite '{suite}': pattern {raw['pattern']!r} is not under patterns: "
                                 f"({', '.join(patterns)})")
    for rate in ("min_rate", "max", "max_drop"):
        if kind in ("valid", "null_rate", "row_count_change") and rate in raw and not 0 <= float(raw[rate]) <= 1:
            raise QualityConfigError(f"{where}: suite '{suite}', {kind}: {rate} is a share between 0 and 1, "
                                     f"got {raw[rate]}")
    return Expectation(kind, severity, raw)


def parse(doc: dict, where: str = "quality/expectations.yml") -> dict[str, Suite]:
    patterns = doc.get("patterns") or {}
    suites: dict[str, Suite] = {}
    for raw in doc.get("suites") or []:
        name = raw.get("name")
        for key in ("name", "asset", "relation", "expectations"):
            if not raw.get(key):
                raise QualityConfigError(f"{where}: a suite ({name or 'unnamed'}) has no '{key}'")
        if name in suites:
            raise QualityConfigError(f"{where}: suite '{name}' is declared twice")
        asset = raw["asset"]
        new_rows_by = raw.get("new_rows_by")
        if new_rows_by is not None and (not isinstance(new_rows_by, str) or not new_rows_by.strip()):
            raise QualityConfigError(f"{where}: suite '{name}': new_rows_by is the name of one column that says "
                                     f"when a row was written (a load or build time), got {new_rows_by!r}")
        unknown = set(raw) - {"name", "asset", "relation", "where", "expectations", "new_rows_by"}
        if unknown:
            raise QualityConfigError(f"{where}: suite '{name}': unknown key(s) {', '.join(sorted(unknown))}; a suite "
                                     "takes name, asset, relation, where, new_rows_by and expectations")
        suites[name] = Suite(
            name=name, asset_key=tuple(asset if isinstance(asset, list) else str(asset).split("/")),
            relation=raw["relation"], where=raw.get("where"),
            expectations=tuple(_expectation(e, name, patterns, where) for e in raw["expectations"]),
            patterns=patterns, new_rows_by=new_rows_by)
    return suites


@functools.lru_cache(maxsize=2)
def load_suites(path: Path | None = None) -> dict[str, Suite]:
    path = path or config_path()
    return parse(yaml.safe_load(path.read_text()) or {}, str(path.relative_to(settings.PROJECT_DIR))
                 if path.is_relative_to(settings.PROJECT_DIR) else str(path))
