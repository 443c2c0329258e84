"""PII governance rules, read from the one place they are written: the YAML block in
``macros/governance/pii_rules.sql`` (dbt's test reads the same block through the macro).

A column is classified in its YAML properties, ``config: {meta: {classification: <level>}}``;
``unclassified_personal_columns`` lists the source and model columns whose name looks
personal and that carry no valid classification (docs/pii.md).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from orchestration import settings

RULES_MACRO = Path("macros") / "governance" / "pii_rules.sql"
_RULES_BLOCK = re.compile(r"{%-?\s*set rules\s*-?%}(.*?){%-?\s*endset\s*-?%}", re.S)


@functools.lru_cache(maxsize=4)
def rules(project_dir: Path = settings.PROJECT_DIR) -> dict:
    """``{levels: {level: meaning}, personal_column_patterns: {what: regex}, allowed_unclassified: [...]}``."""
    text = (project_dir / RULES_MACRO).read_text()
    match = _RULES_BLOCK.search(text)
    if not match:
        raise ValueError(f"{project_dir / RULES_MACRO}: no `set rules` block")
    return yaml.safe_load(match.group(1))


def levels(project_dir: Path = settings.PROJECT_DIR) -> list[str]:
    """The levels, least to most sensitive."""
    return list(rules(project_dir)["levels"])


def looks_personal(column: str, project_dir: Path = settings.PROJECT_DIR) -> list[str]:
    """What the column's name looks like (empty when it looks like nothing personal)."""
    name = column.lower()
    return [what for what, pattern in rules(project_dir)["personal_column_patterns"].items()
            if re.search(pattern, name)]


def classification(column: dict) -> str | None:
    """A manifest column's level: ``config.meta.classification`` (dbt >= 1.10), else ``meta``."""
    config_meta = (column.get("config") or {}).get("meta") or {}
    return config_meta.get("classification") or (column.get("meta") or {}).get("classification")


@dataclass(frozen=True)
class Problem:
    resource: str  # model name, or source_name.table_name
    column: str
    problem: str

    def __str__(self) -> str:
        return f"{self.resource}.{self.column}: {self.problem}"


def resources(manifest: dict, project: str = "cdp"):
    """``(resource name, node)`` for every source table and model of the project."""
    for node in manifest["sources"].values():
        if node["package_name"] == project:
            yield f"{node['source_name']}.{node['name']}", node
    for node in manifest["nodes"].values():
        if node["resource_type"] == "model" and node["package_name"] == project:
            yield node["name"], node


def unclassified_personal_columns(manifest: dict, project_dir: Path = settings.PROJECT_DIR) -> list[Problem]:
    """Columns that look personal without a classification, and classifications that are
    not a level (what the dbt test assert_personal_columns_are_classified reports)."""
    known = levels(project_dir)
    allowed = {(a["resource"], a["column"]) for a in rules(project_dir)["allowed_unclassified"]}
    found = []
    for resource, node in resources(manifest):
        for column in node["columns"].values():
            level, looks = classification(column), looks_personal(column["name"], project_dir)
            if level and level not in known:
                found.append(Problem(resource, column["name"], f"classification {level} is not one of {', '.join(known)}"))
            elif looks and not level and (resource, column["name"]) not in allowed:
                found.append(Problem(resource, column["name"],
                                     f"looks like {' / '.join(looks)} and has no classification"))
    return found
