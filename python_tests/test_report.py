"""`cdp report` rendered from the session warehouse and opened in headless Chromium (Debian's
package): every chart of a built section draws, the numbers on the page are the marts', and
a section whose mart is missing says so. Also the semantic layer queried with MetricFlow,
and the exposures of the syncs."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import duckdb
import pytest

from orchestration import settings

CDP = [sys.executable, "-m", "orchestration.cli"]

# The charts each section draws when its marts hold rows (sections: orchestration/report/data.py).
CHARTS = {
    "health": {"health_status", "health_signals"},
    "segments": {"segment_sizes", "segment_overlap"},
    "rfm": {"rfm_grid"},
    "identity": {"identity_records_per_profile", "identity_quarantine"},
    "quality": {"quality_trend"},
    "funnel": {"funnel"},
    "cohorts": {"cohort_heatmap"},
    "attribution": {"attribution_by_model"},
    "journeys": set(),
}


def chromium() -> str:
    found = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
    assert found, "headless Chromium is needed: apt-get install chromium (.ci/run installs it)"
    return found


def dump_dom(page: Path) -> str:
    """The page as Chromium leaves it after its scripts ran."""
    proc = subprocess.run([chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=5000",
                           "--dump-dom", page.resolve().as_uri()], check=False, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert 'data-charts-done="true"' in proc.stdout, "the chart script did not finish"
    return proc.stdout


class Page(HTMLParser):
    """Sections, figures (with their marks) and key-number tiles of a rendered report."""

    def __init__(self, text: str):
        super().__init__()
        self.sections: dict[str, dict] = {}
        self.figures: dict[str, dict] = {}
        self.kpis: dict[str, str] = {}
        self._section = self._figure = self._kpi = None
        self._in_kpi_value = False
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "section" and "data-section" in a:
            self._section = a["data-section"]
            self.sections[self._section] = {"state": a.get("data-state"), "text": ""}
        elif tag == "figure" and "data-chart" in a:
            self._figure = a["data-chart"]
            self.figures[self._figure] = {**a, "section": self._section, "marks": []}
        elif "class" in a and a["class"] == "mark" and self._figure:
            self.figures[self._figure]["marks"].append(a)
        elif "data-kpi" in a:
            self._kpi = a["data-kpi"]
        elif self._kpi and a.get("class") == "kpi-value":
            self._in_kpi_value = True

    def handle_endtag(self, tag):
        if tag == "figure":
            self._figure = None
        elif tag == "section":
            self._section = None
        elif tag == "span" and self._in_kpi_value:
            self._in_kpi_value, self._kpi = False, None

    def handle_data(self, data):
        if self._section:
            self.sections[self._section]["text"] += data
        if self._in_kpi_value:
            self.kpis[self._kpi] = self.kpis.get(self._kpi, "") + data.strip()


def render(warehouse: Path, output: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "CDP_DUCKDB_PATH": str(warehouse), "CDP_TARGET": "dev"}
    return subprocess.run(CDP + ["report", "--output", str(output)], check=False, capture_output=True, text=True, env=env,
                          timeout=300, cwd=settings.PROJECT_DIR)


def assert_self_contained(text: str) -> None:
    lowered = text.lower()
    for needle in ("<link", "@import", " src=", "url(", "fetch(", "xmlhttprequest"):
        assert needle not in lowered, f"the report loads something ({needle})"


def assert_charts_drew(page: Page, marts: set[str]) -> list[str]:
    """Every chart drew with marks; a section's charts exist exactly when its marts do."""
    from orchestration.report.data import SECTIONS

    built = []
    for key, (_, needs) in SECTIONS.items():
        section = page.sections[key]
        if all(m in marts for m in needs):
            assert section["state"] == "built", (key, section)
            built.append(key)
            drawn = {name for name, f in page.figures.items() if f["section"] == key}
            assert CHARTS[key] <= drawn, (key, drawn)
        else:
            assert section["state"] == "missing", (key, section)
            missing = [m for m in needs if m not in marts]
            assert f"mart {', '.join(missing)} not built" in " ".join(section["text"].split()), section["text"]
    for name, figure in page.figures.items():
        assert figure["data-drawn"] == "true", (name, figure.get("data-error"))
        assert int(figure["data-marks"]) == len(figure["marks"]) > 0, name
    return built


@pytest.fixture(scope="module")
def rendered(dbt_build, warehouse, tmp_path_factory):
    """The report of a copy of the session warehouse (a subprocess cannot open the file this
    process's dbt holds), its DOM after the scripts ran, and a read-only connection to the copy."""
    assert dbt_build.success, dbt_build.failures
    folder = tmp_path_factory.mktemp("report")
    copy = folder / "warehouse.duckdb"
    for suffix in ("", ".wal"):
        if Path(str(warehouse["path"]) + suffix).exists():
            shutil.copy(str(warehouse["path"]) + suffix, str(copy) + suffix)
    output = folder / "out" / "report.html"
    proc = render(copy, output)
    assert proc.returncode == 0, proc.stderr
    con = duckdb.connect(str(copy), read_only=True)
    yield {"proc": proc, "html": output.read_text(), "page": Page(dump_dom(output)), "con": con, "path": copy}
    con.close()


def test_report_draws_every_chart_of_the_marts_that_exist(rendered):
    con = rendered["con"]
    marts = {r[0] for r in con.execute("select table_name from information_schema.tables where table_schema = 'marts'"
                                       ).fetchall()}
    built = assert_charts_drew(rendered["page"], marts)
    # What this project always builds draws whatever else is merged.
    assert {"health", "segments", "rfm", "identity", "quality"} <= set(built)
    assert_self_contained(rendered["html"])
    for key in set(CHARTS) - set(built):
        assert "not built" in rendered["proc"].stdout


def test_report_numbers_are_the_marts(rendered):
    con, page = rendered["con"], rendered["page"]

    def one(sql):
        return con.execute(sql).fetchone()[0]

    # Health tiles and bars.
    for status in ("healthy", "warning", "critical"):
        n = one(f"select count(*) from marts.customer_health where is_customer and health_status = '{status}'")
        assert page.kpis[f"customers_{status}"] == f"{n:,}"
        bar = [m for m in page.figures["health_status"]["marks"]
               if m["data-category"] == "customers" and m["data-series"] == status]
        assert [float(m["data-value"]) for m in bar] == ([n] if n else [])
    assert sum(float(m["data-value"]) for m in page.figures["health_status"]["marks"]) == one(
        "select count(*) from marts.customer_health")
    # Every RFM cell is the count of its (recency, frequency) scores.
    cells = {(m["data-row"], m["data-col"]): float(m["data-value"]) for m in page.figures["rfm_grid"]["marks"]}
    expected = {(f"R{r}", f"F{f}"): n for r, f, n in con.execute(
        "select recency_score, frequency_score, count(*) from marts.profile_rfm group by 1, 2").fetchall()}
    assert cells == expected
    # Identity statistics.
    profiles, records = con.execute("select count(*), sum(record_count) from marts.profiles").fetchone()
    assert page.kpis["profiles"] == f"{profiles:,}" and page.kpis["records"] == f"{records:,}"
    assert page.kpis["merge_rate"] == f"{1 - profiles / records:.1%}"
    assert page.kpis["quarantined_values"] == f"{one('select count(*) from marts.identity_quarantine'):,}"
    # Segment sizes at the latest build.
    sizes = {m["data-category"]: float(m["data-value"]) for m in page.figures["segment_sizes"]["marks"]}
    latest = dict(con.execute("""
        select segment_name, member_count from marts.segment_sizes
        qualify row_number() over (partition by segment_name order by built_at desc) = 1""").fetchall())
    assert sizes == {name: n for name, n in latest.items() if n}


def test_sections_of_the_analytics_marts_draw_from_their_interface(tmp_path):
    """The funnel, cohort, attribution and journey sections, on marts with exactly the agreed
    columns (built in other folders), hand-made here; every other mart is missing, which must
    give a 'not built' section, not an error."""
    path = tmp_path / "analytics.duckdb"
    con = duckdb.connect(str(path))
    con.execute("create schema marts")
    con.execute("""create table marts.funnel_steps_daily as select * from (values
        ('checkout', date '2026-05-01', 'email', 1, 'Product Viewed', 100, null, 1.0, null),
        ('checkout', date '2026-05-01', 'email', 2, 'Product Added', 40, 0.4, 0.4, 600.0),
        ('checkout', date '2026-05-02', 'direct', 1, 'Product Viewed', 50, null, 1.0, null),
        ('checkout', date '2026-05-02', 'direct', 2, 'Product Added', 10, 0.2, 0.2, 300.0)
        ) as t(funnel_name, activity_date, channel, step_number, step_name, profiles, conversion_rate_from_previous,
               conversion_rate_from_start, median_seconds_from_previous)""")
    con.execute("""create table marts.cohort_retention as select * from (values
        (date '2026-01-01', 0, 10, 10, 10, 500.0, 1.0, 1.0, 50.0),
        (date '2026-01-01', 1, 10, 4, 2, 90.0, 0.4, 0.2, 9.0),
        (date '2026-02-01', 0, 20, 20, 20, 800.0, 1.0, 1.0, 40.0)
        ) as t(cohort_month, months_since_acquisition, cohort_size, active_profiles, purchasing_profiles, revenue,
               active_rate, purchasing_rate, revenue_per_profile)""")
    con.execute("""create table marts.attribution_by_channel as select * from (values
        ('first_touch', 'email', 3.0, 300.0, 0.75), ('first_touch', 'direct', 1.0, 100.0, 0.25),
        ('markov', 'email', 2.5, 250.0, 0.625), ('markov', 'direct', 1.5, 150.0, 0.375)
        ) as t(attribution_model, channel, attributed_orders, attributed_revenue, revenue_share)""")
    con.execute("""create table marts.journey_paths as select * from (values
        ('email > direct', 2, 3, 0.75, 4.5), ('direct', 1, 1, 0.25, 0.0)
        ) as t(path, touch_count, converted_profiles, share_of_converters, median_days_to_first_purchase)""")
    con.close()
    output = tmp_path / "report.html"
    proc = render(path, output)
    assert proc.returncode == 0, proc.stderr
    page = Page(dump_dom(output))
    built = assert_charts_drew(page, {"funnel_steps_daily", "cohort_retention", "attribution_by_channel",
                                      "journey_paths"})
    assert set(built) == {"funnel", "cohorts", "attribution", "journeys"}
    assert "mart customer_health not built" in proc.stdout
    # The funnel adds up its days and channels: 150 viewed, 50 added.
    assert [float(m["data-value"]) for m in page.figures["funnel"]["marks"]] == [150, 50]
    assert {(m["data-series"], m["data-category"]): float(m["data-value"])
            for m in page.figures["attribution_by_model"]["marks"]} == {
        ("first_touch", "email"): 300, ("first_touch", "direct"): 100, ("markov", "email"): 250,
        ("markov", "direct"): 150}
    assert len(page.figures["cohort_heatmap"]["marks"]) == 3


def test_report_refuses_bad_input_in_one_line(tmp_path):
    env = {**os.environ, "CDP_DUCKDB_PATH": str(tmp_path / "none.duckdb"), "CDP_TARGET": "dev"}
    proc = subprocess.run(CDP + ["report"], check=False, capture_output=True, text=True, env=env, timeout=120,
                          cwd=settings.PROJECT_DIR)
    assert proc.returncode == 2 and proc.stderr.startswith("error: warehouse ") and "does not exist" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_every_sync_is_an_exposure_of_the_model_it_reads(dbt_build, dbt_build_target):
    from orchestration.exports.config import load_syncs

    manifest = json.loads((dbt_build_target / "manifest.json").read_text())
    exposures = {e["name"]: e for e in manifest["exposures"].values()}
    for name, spec in load_syncs().items():
        exposure = exposures.get(f"sync_{name}")
        assert exposure, f"sync {name} ({spec.file}) has no exposure sync_{name} in models/exposures/_exposures.yml"
        assert exposure["depends_on"]["nodes"] == [f"model.cdp.{spec.source_model}"], name
    report = exposures["cdp_report"]
    from orchestration.report.data import SECTIONS

    read = {m for _, marts in SECTIONS.values() for m in marts}
    declared = {node.split(".")[-1] for node in report["depends_on"]["nodes"]}
    in_project = {n["name"] for n in manifest["nodes"].values() if n["resource_type"] == "model"}
    # Every mart the report reads that this project builds is declared.
    assert read & in_project <= declared, (read & in_project) - declared


def test_metricflow_answers_revenue_by_month_from_the_marts(built_copy, tmp_path):
    """`mf query` (dbt-metricflow, installed beside the pinned dbt-core) on a copy of the
    session warehouse, against the same sums in SQL."""
    mf = Path(sys.executable).parent / "mf"
    assert mf.exists(), "dbt-metricflow is in the test extra (requirements.lock); run make setup"
    env = {**os.environ, "CDP_DUCKDB_PATH": str(built_copy), "DBT_PROFILES_DIR": str(settings.profiles_dir()),
           "CDP_TARGET": "dev"}
    # mf reads target/semantic_manifest.json, which names tables with their database (on DuckDB
    # the file's stem) as the last dbt command saw them; another test may have run dbt on
    # another warehouse since the session build.
    env.pop("DBT_TARGET_PATH", None)
    parse = subprocess.run([str(Path(sys.executable).parent / "dbt"), "parse", "--quiet"], check=False,
                           capture_output=True, text=True, env=env, timeout=300, cwd=settings.PROJECT_DIR)
    assert parse.returncode == 0, parse.stdout[-3000:] + parse.stderr[-3000:]
    out = tmp_path / "revenue.csv"
    proc = subprocess.run([str(mf), "query", "--metrics", "revenue,orders,average_order_value,conversion_rate",
                           "--group-by", "metric_time__month", "--csv", str(out)],
                          check=False, capture_output=True, text=True, env=env, timeout=300, cwd=settings.PROJECT_DIR)
    assert proc.returncode == 0 and out.exists(), proc.stdout[-3000:] + proc.stderr[-3000:]
    import csv

    rows = {r["metric_time__month"][:7]: r for r in csv.DictReader(out.open())}
    semantic = json.loads((settings.PROJECT_DIR / "target" / "semantic_manifest.json").read_text())
    sessions_relation = next(f"{m['node_relation']['schema_name']}.{m['node_relation']['alias']}"
                             for m in semantic["semantic_models"] if m["name"] == "sessions")
    con = duckdb.connect(str(built_copy), read_only=True)
    try:
        revenue = con.execute("""
            select strftime(order_date, '%Y-%m'), sum(order_revenue), count(*) from marts.profile_orders group by 1
            """).fetchall()
        sessions = dict(con.execute(f"""
            select strftime(started_at, '%Y-%m'), avg(case when is_converted then 1.0 else 0.0 end)
            from {sessions_relation} group by 1""").fetchall())
    finally:
        con.close()
    assert revenue and {month for month, _, _ in revenue} <= set(rows)
    for month, total, orders in revenue:
        row = rows[month]
        assert float(row["revenue"]) == pytest.approx(float(total), abs=0.01), month
        assert int(float(row["orders"])) == orders
        assert float(row["average_order_value"]) == pytest.approx(float(total) / orders, rel=1e-6)
    for month, rate in sessions.items():
        assert float(rows[month]["conversion_rate"]) == pytest.approx(rate, rel=1e-6), month
