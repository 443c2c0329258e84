"""Funnels and cohorts on the session warehouse, recomputed independently in Python from
profile_events (and, for the channel of a funnel entry, the sessions mart), and the
funnel compiler's errors for bad definitions (file, path in the file, fix)."""

from __future__ import annotations

import bisect
import datetime as dt
import json
import statistics
from collections import defaultdict

import pytest

from orchestration import settings
from orchestration.dbt.project import ensure_manifest, simulation_clock
from orchestration.segments.compiler import (
    Compiler,
    SegmentDefinitionError,
    manifest_catalog,
)

PURCHASE_STEPS = ["Product Viewed", "Product Added", "Checkout Started", "Order Completed"]
WINDOW = dt.timedelta(days=7)


def _python_funnel(events, sessions):
    """{(activity_date, channel, step): [seconds from previous step, ...]} by brute force: each
    profile enters on the first Product Viewed of each day; each next step is its earliest event
    strictly after the previous step and at most 7 days after the first."""
    by_profile = defaultdict(lambda: defaultdict(list))
    for profile_id, event_name, occurred_at, anonymous_id in events:
        by_profile[profile_id][event_name].append((occurred_at, anonymous_id))
    sessions_of = defaultdict(list)
    for anonymous_id, profile_id, started_at, ended_at, channel in sessions:
        sessions_of[(anonymous_id, profile_id)].append((started_at, ended_at, channel))
    reached = defaultdict(list)
    for profile_id, steps in by_profile.items():
        first_of_day = {}
        for occurred_at, anonymous_id in sorted(steps[PURCHASE_STEPS[0]]):
            first_of_day.setdefault(occurred_at.date(), (occurred_at, anonymous_id))
        times = {name: sorted(t for t, _ in steps[name]) for name in PURCHASE_STEPS[1:]}
        for day, (entered_at, anonymous_id) in first_of_day.items():
            channel = next((c for s, e, c in sessions_of[(anonymous_id, profile_id)] if s <= entered_at <= e),
                           "no_session")
            reached[(day, channel, 1)].append(None)
            previous = entered_at
            for number, name in enumerate(PURCHASE_STEPS[1:], start=2):
                candidates = times[name]
                i = bisect.bisect_right(candidates, previous)
                if i == len(candidates) or candidates[i] > entered_at + WINDOW:
                    break
                reached[(day, channel, number)].append((candidates[i] - previous).total_seconds())
                previous = candidates[i]
    return reached


def test_funnel_counts_agree_with_a_brute_force_computation(dbt_build, sql, warehouse):
    assert dbt_build.success, dbt_build.failures
    clock = simulation_clock(warehouse["path"])
    events = sql("""select profile_id, event_name, occurred_at, anonymous_id from marts.profile_events
                    where profile_id is not null and occurred_at <= ? and event_name in (?, ?, ?, ?)""",
                 [clock, *PURCHASE_STEPS])
    sessions = sql("""select anonymous_id, profile_id, started_at, ended_at, channel from marts.sessions
                      where profile_id is not null""")
    expected = _python_funnel(events, sessions)
    rows = sql("""select activity_date, channel, step_number, step_name, profiles, entered_profiles,
                         conversion_rate_from_previous, conversion_rate_from_start, median_seconds_from_previous
                  from marts.funnel_steps_daily where funnel_name = 'purchase_funnel'""")
    entries = {(d, c): len(v) for (d, c, n), v in expected.items() if n == 1}
    assert sum(entries.values()) > 1000, "too few funnel entries to say anything"
    assert sum(len(v) for (_, _, n), v in expected.items() if n == 4) > 100
    # Every (day, channel) with an entry has one row per step, zero counts included.
    assert len(rows) == 4 * len(entries)
    names = ["product_viewed", "product_added", "checkout_started", "order_completed"]
    for day, channel, number, name, profiles, entered, from_previous, from_start, median in rows:
        assert name == names[number - 1]
        seconds = expected.get((day, channel, number), [])
        assert profiles == len(seconds), (day, channel, number)
        assert entered == entries[(day, channel)]
        assert from_start == pytest.approx(profiles / entered)
        if number == 1:
            assert from_previous is None and median is None
        else:
            previous = len(expected.get((day, channel, number - 1), []))
            assert from_previous == (pytest.approx(profiles / previous) if previous else None)
            assert median == (pytest.approx(statistics.median(seconds)) if seconds else None)


def test_cohort_retention_agrees_with_a_python_computation(dbt_build, sql, warehouse):
    clock = simulation_clock(warehouse["path"])
    events = sql("""select profile_id, source, event_name, occurred_at,
                           json_extract_string(properties, '$.financial_status'),
                           json_extract_string(properties, '$.total_price')
                    from marts.profile_events
                    where profile_id is not null and occurred_at <= ? and source in ('segment', 'shopify')""",
                 [clock])

    def month(t):
        return dt.date(t.year, t.month, 1)

    def months_between(a, b):
        return (b.year - a.year) * 12 + b.month - a.month

    active, purchases = defaultdict(set), defaultdict(lambda: defaultdict(float))
    first_order = {}
    for profile_id, source, event_name, occurred_at, status, total in events:
        active[profile_id].add(month(occurred_at))
        if source == "shopify" and event_name == "Order Placed" and (status or "") not in ("refunded", "voided"):
            purchases[profile_id][month(occurred_at)] += float(total)
            first_order[profile_id] = min(first_order.get(profile_id, occurred_at), occurred_at)
    cohorts = defaultdict(list)
    for profile_id, first in first_order.items():
        cohorts[month(first)].append(profile_id)
    expected = {}
    for cohort, members in cohorts.items():
        for offset in range(months_between(cohort, month(clock)) + 1):
            target = dt.date(cohort.year + (cohort.month - 1 + offset) // 12, (cohort.month - 1 + offset) % 12 + 1, 1)
            expected[(cohort, offset)] = (
                len(members),
                sum(1 for p in members if target in active[p]),
                sum(1 for p in members if target in purchases[p]),
                round(sum(purchases[p].get(target, 0.0) for p in members), 2))
    rows = sql("""select cohort_month, months_since_acquisition, cohort_size, active_profiles, purchasing_profiles,
                         revenue, active_rate, purchasing_rate, revenue_per_profile from marts.cohort_retention""")
    assert len(expected) > 12 and sum(len(m) for m in cohorts.values()) > 500
    assert {(r[0], r[1]) for r in rows} == set(expected)
    for cohort, offset, size, active_n, buying, revenue, active_rate, purchasing_rate, per_profile in rows:
        e_size, e_active, e_buying, e_revenue = expected[(cohort, offset)]
        assert (size, active_n, buying) == (e_size, e_active, e_buying), (cohort, offset)
        assert float(revenue) == pytest.approx(e_revenue, abs=0.011), (cohort, offset)
        assert active_rate == pytest.approx(e_active / e_size) and purchasing_rate == pytest.approx(e_buying / e_size)
        assert float(per_profile) == pytest.approx(e_revenue / e_size, abs=0.006)
        if offset == 0:  # acquired by a purchase that month
            assert buying == size == active_n


# -- the funnel compiler's errors -----------------------------------------------------------------

@pytest.fixture(scope="module")
def compile_funnel():
    manifest = json.loads(ensure_manifest().read_text())
    raw, _ = manifest_catalog(manifest)
    compiler = Compiler(settings.PROJECT_DIR, {"as_of": "2026-06-01 00:00:00"})
    compiler._load((settings.PROJECT_DIR / "macros/analytics/funnels.sql").read_text(), compiler.cdp)

    def run(funnel, name="draft"):
        return compiler.cdp.funnel_compile(name, {"file": "funnels/draft.yml", "funnel": funnel}, raw["events"])
    return run


GOOD_STEPS = [{"event": "Product Viewed"}, {"event": "Order Completed"}]


def test_the_example_funnel_compiles(compile_funnel):
    compiled = compile_funnel({"window_hours": 48, "steps": [
        {"event": "Product Viewed", "where": [{"property": "category", "op": "=", "value": "O'Brien's"}]},
        {"event": "Order Completed", "name": "bought"}]})
    assert [s["name"] for s in compiled["steps"]] == ["product_viewed", "bought"]
    assert compiled["window"] == {"part": "hour", "amount": 48}
    assert "'O''Brien''s'" in compiled["steps"][0]["filter"]


@pytest.mark.parametrize("funnel, where, says", [
    ({"steps": [{"event": "Product Viewed"}], "window_days": 7}, "funnel.steps", "two or more steps"),
    ({"steps": GOOD_STEPS}, "funnel", "window_days or window_hours"),
    ({"steps": GOOD_STEPS, "window_days": 7, "window_hours": 2}, "funnel", "(one of them)"),
    ({"steps": GOOD_STEPS, "window_days": "7"}, "funnel.window_days", "whole number above 0"),
    ({"steps": GOOD_STEPS, "window_days": 0}, "funnel.window_days", "whole number above 0"),
    ({"steps": GOOD_STEPS, "within_days": 7}, "funnel.within_days", "unknown key 'within_days'"),
    ({"steps": [{"event": "Product Viewed"}, {"event": "Prodcut Added"}], "window_days": 7},
     "funnel.steps[1].event", "unknown event 'Prodcut Added'; known events:"),
    ({"steps": [{"event": "Product Viewed", "within_days": 1}, {"event": "Product Added"}], "window_days": 7},
     "funnel.steps[0].within_days", "the window belongs to the funnel"),
    ({"steps": [{"event": "Product Viewed", "where": [{"property": "colour", "op": "=", "value": "red"}]},
                {"event": "Product Added"}], "window_days": 7},
     "funnel.steps[0].where[0].property", "has no property 'colour'; its properties:"),
    ({"steps": [{"event": "Product Viewed", "name": "x"}, {"event": "Product Added", "name": "x"}], "window_days": 7},
     "funnel.steps[1].name", "used twice"),
    ({"steps": ["Product Viewed", "Product Added"], "window_days": 7}, "funnel.steps[0]", "a step is {event: <name>}"),
])
def test_a_bad_funnel_names_its_file_path_and_fix(compile_funnel, funnel, where, says):
    with pytest.raises(SegmentDefinitionError) as error:
        compile_funnel(funnel)
    message = str(error.value)
    assert message.startswith(f"funnels/draft.yml: funnel 'draft', at {where}: "), message
    assert says in message, message
