"""Predictive scores: the likelihoods recover known parameters from data drawn from the
models themselves, and scoring the session warehouse writes sane scores for every profile."""

from __future__ import annotations

import json

import duckdb
import numpy as np
import pytest

from orchestration.predictions import clv


def test_bgnbd_recovers_the_parameters_it_was_drawn_from():
    rng = np.random.default_rng(11)
    r, alpha, a, b = 0.6, 6.0, 1.2, 4.0
    n = 6000
    rate = rng.gamma(r, 1 / alpha, n)
    dropout = rng.beta(a, b, n)
    T = rng.uniform(20, 90, n)  # weeks since each customer's first purchase
    x = np.zeros(n)
    t_x = np.zeros(n)
    for i in range(n):
        t = 0.0
        while True:
            t += rng.exponential(1 / rate[i])
            if t > T[i]:
                break
            x[i] += 1
            t_x[i] = t
            if rng.random() < dropout[i]:
                break
    orders = (x + 1).astype(int)
    summary = clv.Summary(profile_id=np.arange(n).astype(str), orders=orders, x=x, t_x=t_x, T=T,
                          mean_value=rng.gamma(4.0, 10.0, n))
    fitted = clv.fit(summary)
    assert fitted.r == pytest.approx(r, rel=0.2)
    assert fitted.alpha == pytest.approx(alpha, rel=0.25)
    # a and b trade off against each other; the mean dropout probability is what is identified.
    assert fitted.a / (fitted.a + fitted.b) == pytest.approx(a / (a + b), rel=0.2)
    # P(alive) is 1 without repeat purchases and falls the longer a repeat buyer has been silent.
    alive = clv.p_alive(fitted, summary)
    assert np.all(alive[x == 0] == 1.0)
    recent = (x >= 3) & (T - t_x < 2)
    silent = (x >= 3) & (T - t_x > 30)
    assert alive[recent].mean() > alive[silent].mean() + 0.3


def test_gamma_gamma_recovers_the_parameters_it_was_drawn_from():
    rng = np.random.default_rng(5)
    p, q, gamma = 6.0, 4.0, 15.0
    n = 5000
    nu = rng.gamma(q, 1 / gamma, n)
    counts = rng.integers(2, 12, n)
    means = np.array([rng.gamma(p, 1 / nu[i], counts[i]).mean() for i in range(n)])
    x = counts - 1.0
    summary = clv.Summary(profile_id=np.arange(n).astype(str), orders=counts, x=x, t_x=x, T=x + 5,
                          mean_value=means)
    fitted = clv.fit(summary)
    assert fitted.p == pytest.approx(p, rel=0.2)
    assert fitted.q == pytest.approx(q, rel=0.25)
    assert fitted.gamma == pytest.approx(gamma, rel=0.3)
    # The expected order value shrinks a customer's own average towards the population's,
    # the less so the more orders they have.
    expected = clv.expected_order_value(fitted, summary)
    population = fitted.p * fitted.gamma / (fitted.q - 1)
    assert np.all(expected >= np.minimum(means, population) - 1e-6)
    assert np.all(expected <= np.maximum(means, population) + 1e-6)
    weight = (expected - population) / (means - population)
    assert weight[counts == 11].mean() > weight[counts == 2].mean()


def test_auc_is_the_probability_a_positive_outranks_a_negative():
    assert clv.auc(np.array([0.9, 0.8, 0.2, 0.1]), np.array([1, 1, 0, 0])) == 1.0
    assert clv.auc(np.array([0.1, 0.2, 0.8, 0.9]), np.array([1, 1, 0, 0])) == 0.0
    assert clv.auc(np.array([0.5, 0.5]), np.array([1, 0])) == 0.5


def test_scoring_the_warehouse_writes_every_profile(dbt_build, warehouse):
    assert dbt_build.success, dbt_build.failures
    con = duckdb.connect(str(warehouse["path"]))
    try:
        clock = con.execute("select clock from _cdp_meta.simulation").fetchone()[0]
        figures = clv.score(con, clock)
        profiles, scored, bad_risk, bad_alive, negative = con.execute("""
            select count(*), count(churn_risk),
                   count(*) filter (where churn_risk not between 0 and 100),
                   count(*) filter (where p_alive not between 0 and 1),
                   count(*) filter (where predicted_value_12m < 0)
            from marts.profile_predictions""").fetchone()
        customers = con.execute("select count(*) from marts.profile_traits where order_count > 0").fetchone()[0]
        logged = con.execute("select figures from marts.profile_prediction_runs order by scored_at desc limit 1"
                             ).fetchone()[0]
    finally:
        con.close()
    assert profiles == con_count(warehouse, "marts.profiles")
    assert scored == customers == figures["customers"]
    assert bad_risk == bad_alive == negative == 0
    assert json.loads(logged)["parameters"] == figures["parameters"]
    evaluation = figures["evaluation"]
    assert "skipped" not in evaluation, evaluation
    # Better than chance, and reported next to the naive baseline.
    assert evaluation["churn_auc"] > 0.6, evaluation
    assert 0 < evaluation["churn_auc_baseline_recency"] < 1


def con_count(warehouse, table: str) -> int:
    con = duckdb.connect(str(warehouse["path"]))
    try:
        return con.execute(f"select count(*) from {table}").fetchone()[0]
    finally:
        con.close()


def test_too_little_history_is_refused_with_the_reason():
    ids = np.array(["a", "b"], dtype=object)
    at = np.array(["2026-01-01T00:00:00", "2026-02-01T00:00:00"], dtype="datetime64[s]")
    summary = clv.summarise(ids, at, np.array([10.0, 20.0]), __import__("datetime").datetime(2026, 3, 1))
    with pytest.raises(clv.PredictionError, match="no customer has a repeat order"):
        clv.fit(summary)
