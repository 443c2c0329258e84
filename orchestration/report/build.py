"""Render the report from the warehouse of a dbt target and write it to one file."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from orchestration import settings

from .data import Section, collect
from .render import render


@dataclass(frozen=True)
class ReportResult:
    path: Path
    sections: list[Section]
    charts: int

    @property
    def missing(self) -> list[Section]:
        return [s for s in self.sections if not s.built]


def _connect(target: str, path: Path | None):
    """The warehouse dbt builds on for ``target``, opened as the other commands open it: the
    DuckDB file (read-only, with the loader's errors for a missing or locked file) on dev,
    Snowflake with profiles.yml's settings otherwise."""
    if target == "dev":
        from orchestration.loads.warehouse import connect

        path = path or settings.duckdb_path()
        return connect(path, read_only=True, must_exist=True), f"DuckDB warehouse {path}"
    from orchestration.lib.snowflake import connect, profile_output

    output = profile_output(target)
    return connect(target), f"Snowflake database {output.get('database')} (dbt target {target})"


def write_report(output: Path, target: str | None = None, path: Path | None = None) -> ReportResult:
    """Read the marts, render the page and write it to ``output`` (folders created)."""
    target = target or settings.dbt_target()
    con, source = _connect(target, path)
    try:
        sections = collect(con)
    finally:
        con.close()
    page = render(sections, source)
    output = Path(output)
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(page, encoding="utf-8")
    except OSError as exc:
        raise ValueError(f"cannot write the report to {output} ({exc.strerror or exc}); "
                         f"pass --output with a writable file path") from exc
    return ReportResult(output, sections, page.count('<figure class="chart"'))
