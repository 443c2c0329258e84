"""Multi-touch attribution and journey paths, recomputed independently in Python.

From the session warehouse the shared `dbt build` made (fixtures in conftest.py), this file
reads only the inputs: sessions (marts.sessions) and events (marts.profile_events:
Shopify orders with their JSON properties, Segment "Signed Up" calls). From those it
recomputes every model of docs/attribution.md in plain Python (touch windows, positions,
time decay, the lead touch) and the Markov chain with numpy (the absorbing chain's
fundamental matrix, not the SQL's matrix squaring), then compares with the marts:
order_attribution row by row, markov_removal_effects, the chain's transition counts,
attribution_by_channel and journey_paths. The credit-sum invariant is checked on the
recomputation too, so the SQL and Python agree on something that is true.

A third test cuts the compiled Markov model to one squaring, so that it has not converged,
and checks that the query fails loudly with the figure rather than publishing wrong credits.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections import Counter, defaultdict
from decimal import Decimal

import numpy as np
import pytest

LOOKBACK = dt.timedelta(days=30)   # dbt_project.yml defaults, which the shared build uses
HALF_LIFE_DAYS = 7.0
UNTOUCHED = "unknown"
MODELS = ("first_touch", "last_touch", "linear", "time_decay", "u_shaped", "w_shaped", "markov")
START, CONVERSION, NULL = "(start)", "(conversion)", "(null)"


@pytest.fixture(scope="module")
def inputs(dbt_build, warehouse):
    import duckdb

    assert dbt_build.success, dbt_build.failures
    con = duckdb.connect(str(warehouse["path"]), read_only=False)
    try:
        sessions = con.execute(
            "select session_id, profile_id, anonymous_id, started_at, ended_at, channel "
            "from marts.sessions").fetchall()
        orders = []
        for order_id, profile_id, ordered_at, properties in con.execute(
                "select source_event_id, profile_id, occurred_at, properties from marts.profile_events "
                "where source = 'shopify' and event_name = 'Order Placed'").fetchall():
            props = json.loads(properties)
            if props.get("financial_status") in ("refunded", "voided"):
                continue
            revenue = Decimal(str(props["total_price"])) if props.get("total_price") is not None else Decimal(0)
            orders.append((order_id, profile_id, ordered_at, float(revenue)))
        signups = con.execute(
            "select event_id, profile_id, anonymous_id, occurred_at from marts.profile_events "
            "where source = 'segment' and event_name = 'Signed Up' and profile_id is not null").fetchall()
        marts = {
            "order_attribution": con.execute(
                "select order_id, attribution_model, touch_number, touch_count, session_id, channel, "
                "credit_share, attributed_revenue, order_revenue from marts.order_attribution").fetchall(),
            "removal_effects": con.execute(
                "select channel, removal_effect, normalized_effect, unabsorbed_mass "
                "from marts.markov_removal_effects").fetchall(),
            "transitions": con.execute(
                "select from_state, to_state, transitions from intermediate.int_attribution_markov_transitions"
            ).fetchall(),
            "by_channel": con.execute(
                "select attribution_model, channel, attributed_orders, attributed_revenue, revenue_share "
                "from marts.attribution_by_channel").fetchall(),
            "journey_paths": con.execute(
                "select path, touch_count, converted_profiles, share_of_converters, median_days_to_first_purchase "
                "from marts.journey_paths").fetchall(),
        }
    finally:
        con.close()
    return {"sessions": sessions, "orders": orders, "signups": signups, "marts": marts}


def _touches(inputs) -> dict:
    """order_id -> (profile_id, ordered_at, revenue, [session rows in time order], lead touch number)."""
    by_profile = defaultdict(list)
    for s in inputs["sessions"]:
        if s[1] is not None:
            by_profile[s[1]].append(s)
    first_signup = {}
    for event_id, profile_id, anonymous_id, at in sorted(inputs["signups"], key=lambda e: (e[1], e[3], e[0])):
        first_signup.setdefault(profile_id, (anonymous_id, at))
    lead_session = {}
    for profile_id, (anonymous_id, at) in first_signup.items():
        for s in by_profile.get(profile_id, []):
            if s[2] == anonymous_id and s[3] <= at <= s[4]:
                lead_session[profile_id] = s[0]
    out = {}
    for order_id, profile_id, ordered_at, revenue in inputs["orders"]:
        window = sorted((s for s in by_profile.get(profile_id, [])
                         if ordered_at - LOOKBACK <= s[3] <= ordered_at), key=lambda s: (s[3], s[0]))
        lead = next((i for i, s in enumerate(window, 1) if s[0] == lead_session.get(profile_id)), None)
        if lead is None and len(window) >= 3:
            lead = (len(window) + 1) // 2
        out[order_id] = (profile_id, ordered_at, revenue, window, lead)
    return out


def _markov(inputs, touches) -> tuple[Counter, dict]:
    """Transition counts of the journeys and each channel's removal effect, by linear algebra."""
    steps = Counter()

    def walk(channels, outcome):
        previous = START
        for channel in channels:
            if channel != previous:
                steps[(previous, channel)] += 1
            previous = channel
        steps[(previous, outcome)] += 1

    touch_sessions = set()
    for _, _, _, window, _ in touches.values():
        if window:
            walk([s[5] for s in window], CONVERSION)
            touch_sessions.update(s[0] for s in window)
    by_visitor = defaultdict(list)
    for s in inputs["sessions"]:
        by_visitor[f"profile:{s[1]}" if s[1] is not None else f"device:{s[2]}"].append(s)
    for sessions in by_visitor.values():
        journey, previous_at = [], None
        for s in sorted(sessions, key=lambda s: (s[3], s[0])):
            if s[0] in touch_sessions:          # a touch ends the journey before it
                if journey:
                    walk(journey, NULL)
                journey, previous_at = [], None
                continue
            if previous_at is not None and s[3] > previous_at + LOOKBACK:
                walk(journey, NULL)
                journey = []
            journey.append(s[5])
            previous_at = s[3]
        if journey:
            walk(journey, NULL)

    channels = sorted({f for f, _ in steps if f != START})
    leaving = Counter()
    for (f, _), n in steps.items():
        leaving[f] += n

    def conversion_probability(removed=None) -> float:
        states = [START] + [c for c in channels if c != removed]
        index = {s: i for i, s in enumerate(states)}
        q, r = np.zeros((len(states), len(states))), np.zeros(len(states))
        for (f, t), n in steps.items():
            if f not in index:
                continue
            if t == CONVERSION:
                r[index[f]] += n / leaving[f]
            elif t in index:                   # a step into the removed channel is lost (null)
                q[index[f], index[t]] += n / leaving[f]
        return float(np.linalg.solve(np.eye(len(states)) - q, r)[index[START]])

    base = conversion_probability()
    effects = {c: (1 - conversion_probability(c) / base) if base > 0 else 0.0 for c in channels}
    return steps, effects


def _credits(touches, effects) -> dict:
    """(order_id, model, touch_number) -> (session_id, channel, credit_share)."""
    out = {}
    for order_id, (_, ordered_at, _, window, lead) in touches.items():
        rows = [(s[0], s[5], (ordered_at - s[3]).total_seconds() / 86400) for s in window] \
            or [(None, UNTOUCHED, 0.0)]
        n = len(rows)
        milestones = {1, n} | ({lead} if lead else set())
        per_channel = Counter(channel for _, channel, _ in rows)
        weights = {m: [] for m in MODELS}
        for i, (_, channel, age) in enumerate(rows, 1):
            weights["first_touch"].append(1.0 if i == 1 else 0.0)
            weights["last_touch"].append(1.0 if i == n else 0.0)
            weights["linear"].append(1.0)
            weights["time_decay"].append(2 ** (-age / HALF_LIFE_DAYS))
            weights["u_shaped"].append(0.4 if i in (1, n) else 0.2 / (n - 2))
            share = 0.3 * ((i == 1) + (i == lead) + (i == n))
            weights["w_shaped"].append(share if i in milestones else 0.1 / (n - len(milestones)))
            weights["markov"].append(effects.get(channel, 0.0) / per_channel[channel])
        for model in MODELS:
            total = sum(weights[model])
            shares = [w / total for w in weights[model]] if total > 0 else [1 / n] * n
            for i, ((session_id, channel, _), share) in enumerate(zip(rows, shares), 1):
                out[(order_id, model, i)] = (session_id, channel, share)
    return out


def test_every_model_matches_an_independent_recomputation(inputs):
    touches = _touches(inputs)
    steps, effects = _markov(inputs, touches)
    expected = _credits(touches, effects)
    marts = inputs["marts"]
    revenue = {o[0]: o[3] for o in inputs["orders"]}
    assert len(revenue) > 1000 and sum(1 for t in touches.values() if len(t[3]) >= 3) > 100

    # The chain: the same journeys step by step, and the same removal effects.
    assert dict(steps) == {(f, t): n for f, t, n in marts["transitions"]}
    got_effects = {c: (re, ne, left) for c, re, ne, left in marts["removal_effects"]}
    assert set(got_effects) == set(effects) and len(effects) >= 5
    total_effect = sum(effects.values())
    for channel, effect in effects.items():
        removal_effect, normalized_effect, unabsorbed = got_effects[channel]
        assert removal_effect == pytest.approx(effect, abs=1e-9), channel
        assert normalized_effect == pytest.approx(effect / total_effect, abs=1e-9), channel
        assert unabsorbed <= 1e-9

    # Every order, model and touch: the same session, channel and share.
    got = {(o, m, t): (s, c, share) for o, m, t, _, s, c, share, _, _ in marts["order_attribution"]}
    assert set(got) == set(expected)
    wrong = [(key, got[key], value) for key, value in expected.items()
             if got[key][:2] != value[:2] or abs(got[key][2] - value[2]) > 1e-9]
    assert not wrong, wrong[:5]

    # The invariant, on the recomputation and on the mart: each order's revenue, in full, per model.
    for model in MODELS:
        sums, mart_sums = defaultdict(float), defaultdict(float)
        for (order_id, m, _), (_, _, share) in expected.items():
            if m == model:
                sums[order_id] += share
        for order_id, m, _, _, _, _, _, attributed, order_revenue in marts["order_attribution"]:
            if m == model:
                mart_sums[order_id] += attributed
                assert float(order_revenue) == pytest.approx(revenue[order_id], abs=0.005)
        assert all(abs(s - 1) < 1e-9 for s in sums.values()), model
        assert all(abs(mart_sums[o] - r) < 0.005 for o, r in revenue.items()), model

    # The channel comparison adds the same credits up.
    by_channel = defaultdict(lambda: [0.0, 0.0])
    for (order_id, model, _), (_, channel, share) in expected.items():
        by_channel[(model, channel)][0] += share
        by_channel[(model, channel)][1] += share * revenue[order_id]
    total_revenue = sum(revenue.values())
    assert {(m, c) for m, c, *_ in marts["by_channel"]} == set(by_channel)
    for model, channel, orders, attributed, share in marts["by_channel"]:
        assert orders == pytest.approx(by_channel[(model, channel)][0], abs=1e-6)
        assert attributed == pytest.approx(by_channel[(model, channel)][1], abs=0.01)
        assert share == pytest.approx(by_channel[(model, channel)][1] / total_revenue, abs=1e-9)
    # Models disagree where they should: first and last touch credit different channels.
    first = {c: o for m, c, o, *_ in marts["by_channel"] if m == "first_touch"}
    last = {c: o for m, c, o, *_ in marts["by_channel"] if m == "last_touch"}
    assert first != last


def test_journey_paths_match_an_independent_recomputation(inputs):
    first_orders = {}
    for order_id, profile_id, ordered_at, _ in sorted(inputs["orders"], key=lambda o: (o[2], o[0])):
        if profile_id is not None:
            first_orders.setdefault(profile_id, ordered_at)
    by_profile = defaultdict(list)
    for s in inputs["sessions"]:
        if s[1] in first_orders and s[3] <= first_orders[s[1]]:
            by_profile[s[1]].append(s)
    paths = defaultdict(list)
    for profile_id, ordered_at in first_orders.items():
        sessions = sorted(by_profile.get(profile_id, []), key=lambda s: (s[3], s[0]))
        channels = [c for i, c in enumerate(s[5] for s in sessions) if i == 0 or c != sessions[i - 1][5]]
        if channels:
            days = (ordered_at - sessions[0][3]).total_seconds() / 86400
            paths[(" > ".join(channels), len(channels))].append(days)
        else:
            paths[(UNTOUCHED, 0)].append(None)
    got = {(p, n): (count, share, median) for p, n, count, share, median in inputs["marts"]["journey_paths"]}
    assert set(got) == set(paths)
    for key, days in paths.items():
        count, share, median = got[key]
        assert count == len(days) and share == pytest.approx(len(days) / len(first_orders), abs=1e-12)
        if key[1] == 0:
            assert median is None
        else:
            assert median == pytest.approx(float(np.median(days)), abs=1e-9), key
    assert max(got.values())[0] == max(len(d) for d in paths.values())


def test_an_unconverged_markov_chain_fails_the_build(sql, dbt_build, dbt_build_target):
    """The model as compiled by the shared build, cut to one squaring: that follows journeys for
    two steps only, most of the probability is still in channel states, and the query must
    fail with the figure rather than publish credits from it. (The compiled SQL, not a dbt
    run with other vars: that would make dbt parse the project again.)"""
    import duckdb

    assert dbt_build.success, dbt_build.failures
    compiled = (dbt_build_target / "compiled" / "cdp" / "models" / "marts" / "attribution"
                / "markov_removal_effects.sql").read_text()
    last = re.compile(r"from matrix_(\d+)(\s+where from_state = '\(start\)')")
    assert last.search(compiled), compiled[-2000:]
    assert len(sql(compiled)) == len(sql("select * from marts.markov_removal_effects"))
    with pytest.raises(duckdb.Error, match="Markov attribution did not converge: .* after 24 squarings"):
        sql(last.sub(r"from matrix_1\2", compiled))
