"""What the report shows, read from the marts of the current dbt target's warehouse.

Each section names the marts it needs. A section whose mart is not built (a warehouse from
before the analytics marts, or a branch without them) is returned as missing, and the
page says so instead of failing. Every query is plain SQL that DuckDB and Snowflake both
run, against the schema ``marts`` of the connection's database."""

from __future__ import annotations

import datetime as dt
import decimal
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

# section -> (title, marts it reads, what it shows); the order is the page's order.
SECTIONS: dict[str, tuple[str, tuple[str, ...]]] = {
    "health": ("Customer health", ("customer_health",)),
    "segments": ("Segment sizes and overlap", ("segment_sizes", "segment_overlap")),
    "rfm": ("RFM grid", ("profile_rfm",)),
    "identity": ("Identity resolution", ("profiles", "identity_quarantine", "identity_merge_events")),
    "quality": ("Data-quality score trend", ("data_quality_scores",)),
    "funnel": ("Funnel", ("funnel_steps_daily",)),
    "cohorts": ("Cohort retention", ("cohort_retention",)),
    "attribution": ("Attribution by model", ("attribution_by_channel",)),
    "journeys": ("Journeys to first purchase", ("journey_paths",)),
}


@dataclass
class Section:
    key: str
    title: str
    marts: tuple[str, ...]
    missing: list[str] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)
    error: str | None = None

    @property
    def built(self) -> bool:
        return not self.missing


def _plain(value):
    """A value JSON can carry: decimals as floats, dates and times as ISO text."""
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    return value


class Reader:
    """Runs a query on a DuckDB or Snowflake connection and returns rows as dicts with
    lower-case keys (Snowflake returns upper-case names)."""

    def __init__(self, con):
        self.con = con
        import duckdb

        self.is_duckdb = isinstance(con, duckdb.DuckDBPyConnection)

    def rows(self, sql: str) -> list[dict[str, Any]]:
        if self.is_duckdb:
            cursor = self.con.execute(sql)
            names = [d[0].lower() for d in cursor.description]
            return [dict(zip(names, map(_plain, row))) for row in cursor.fetchall()]
        with self.con.cursor() as cursor:
            cursor.execute(sql)
            names = [d[0].lower() for d in cursor.description]
            return [dict(zip(names, map(_plain, row))) for row in cursor.fetchall()]

    def marts(self) -> set[str]:
        found = self.rows("select table_name from information_schema.tables where lower(table_schema) = 'marts'")
        return {row["table_name"].lower() for row in found}


def _health(r: Reader) -> dict:
    by_status = r.rows("""
        select health_status, is_customer, count(*) as profiles
        from marts.customer_health
        group by health_status, is_customer""")
    signals = r.rows("""
        select
            sum(case when churn_level = 1 then 1 else 0 end) as churn_warning,
            sum(case when churn_level = 2 then 1 else 0 end) as churn_critical,
            sum(case when recency_level = 1 then 1 else 0 end) as recency_warning,
            sum(case when recency_level = 2 then 1 else 0 end) as recency_critical,
            sum(case when support_level = 1 then 1 else 0 end) as support_warning,
            sum(case when support_level = 2 then 1 else 0 end) as support_critical,
            sum(case when payment_level = 1 then 1 else 0 end) as payment_warning,
            sum(case when payment_level = 2 then 1 else 0 end) as payment_critical,
            count(churn_risk) as scored_profiles
        from marts.customer_health""")[0]
    return {"by_status": by_status, "signals": {k: int(v or 0) for k, v in signals.items()}}


def _segments(r: Reader) -> dict:
    sizes = r.rows("""
        select segment_name, member_count, share_of_profiles, measured_at
        from (
            select
                segment_name, member_count, share_of_profiles, measured_at,
                row_number() over (partition by segment_name order by built_at desc, measured_at desc) as recency_rank
            from marts.segment_sizes
        ) as ranked
        where recency_rank = 1
        order by member_count desc, segment_name""")
    overlap = r.rows("""
        select segment_a, segment_b, size_a, shared_count, share_of_a_in_b, jaccard
        from marts.segment_overlap
        order by segment_a, segment_b""")
    return {"sizes": sizes, "overlap": overlap}


def _rfm(r: Reader) -> dict:
    cells = r.rows("""
        select recency_score, frequency_score, count(*) as customers, avg(monetary) as average_monetary
        from marts.profile_rfm
        group by recency_score, frequency_score
        order by recency_score, frequency_score""")
    return {"cells": cells}


def _identity(r: Reader) -> dict:
    totals = r.rows("""
        select count(*) as profiles, sum(record_count) as records,
            sum(case when record_count > 1 then 1 else 0 end) as merged_profiles
        from marts.profiles""")[0]
    histogram = r.rows("""
        select case when record_count >= 6 then 6 else record_count end as records_per_profile, count(*) as profiles
        from marts.profiles
        group by case when record_count >= 6 then 6 else record_count end
        order by records_per_profile""")
    quarantine = r.rows("""
        select identifier_type, status, count(*) as identifier_values
        from marts.identity_quarantine
        group by identifier_type, status
        order by identifier_type, status""")
    merges = r.rows("""
        select event_type, count(*) as events
        from marts.identity_merge_events
        group by event_type
        order by event_type""")
    records = int(totals["records"] or 0)
    profiles = int(totals["profiles"] or 0)
    return {
        "profiles": profiles,
        "records": records,
        "merged_profiles": int(totals["merged_profiles"] or 0),
        # Share of person records that joined another record's profile.
        "merge_rate": (1 - profiles / records) if records else None,
        "quarantined_values": sum(int(row["identifier_values"]) for row in quarantine),
        "histogram": histogram,
        "quarantine": quarantine,
        "merge_events": merges,
    }


def _quality(r: Reader) -> dict:
    # Several builds at one as-of moment each leave a row: the latest build speaks for it.
    points = r.rows("""
        select source_name, layer, measured_at, quality_score
        from (
            select
                source_name, layer, measured_at, quality_score,
                row_number() over (partition by source_name, measured_at order by built_at desc) as build_rank
            from marts.data_quality_scores
        ) as ranked
        where build_rank = 1
        order by source_name, measured_at""")
    return {"points": points}


def _funnel(r: Reader) -> dict:
    steps = r.rows("""
        select funnel_name, step_number, step_name, sum(profiles) as profiles
        from marts.funnel_steps_daily
        group by funnel_name, step_number, step_name
        order by funnel_name, step_number""")
    return {"steps": steps}


def _cohorts(r: Reader) -> dict:
    cells = r.rows("""
        select cohort_month, months_since_acquisition, cohort_size, active_profiles, active_rate,
            purchasing_rate, revenue_per_profile
        from marts.cohort_retention
        order by cohort_month, months_since_acquisition""")
    return {"cells": cells}


def _attribution(r: Reader) -> dict:
    rows = r.rows("""
        select attribution_model, channel, attributed_orders, attributed_revenue, revenue_share
        from marts.attribution_by_channel
        order by attribution_model, channel""")
    return {"rows": rows}


def _journeys(r: Reader) -> dict:
    paths = r.rows("""
        select path, touch_count, converted_profiles, share_of_converters, median_days_to_first_purchase
        from marts.journey_paths
        order by converted_profiles desc, path""")
    return {"paths": paths[:15]}


READERS: dict[str, Callable[[Reader], dict]] = {
    "health": _health, "segments": _segments, "rfm": _rfm, "identity": _identity, "quality": _quality,
    "funnel": _funnel, "cohorts": _cohorts, "attribution": _attribution, "journeys": _journeys,
}


def collect(con) -> list[Section]:
    """Every section of the page, read from the warehouse behind ``con``."""
    reader = Reader(con)
    present = reader.marts()
    sections = []
    for key, (title, marts) in SECTIONS.items():
        section = Section(key, title, marts, missing=[m for m in marts if m not in present])
        if section.built:
            # A mart of another shape (built by an older version of the project) costs its
            # section, not the page: the section shows the error and the others still draw.
            try:
                section.data = READERS[key](reader)
            except Exception as exc:  # noqa: BLE001 - any database error, reported on the page
                section.error = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
        sections.append(section)
    return sections
