"""Predictive scores: the likelihoods recover known parameters from data drawn from the
models themselves, and scoring the session warehouse writes sane scores for every profile."""

from __future__ import annotations

import datetime as dt
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
        figures = clv.score(con, clock, refit_after_hours=0)  # fit now, whatever ran before
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


def test_dbt_reads_the_scores_back_through_the_predictions_source(dbt_build, warehouse, monkeypatch):
    """The build before any scoring made the staging view an empty stub (the table did not
    exist); once scored, the next build reads the table: every profile, the tests passing."""
    from orchestration.dbt.runner import run_dbt

    con = duckdb.connect(str(warehouse["path"]))
    try:
        clock = con.execute("select clock from _cdp_meta.simulation").fetchone()[0]
        clv.score(con, clock, evaluation=False)
        customers = con.execute("select count(*) from marts.profile_traits where order_count > 0").fetchone()[0]
    finally:
        con.close()
    monkeypatch.setenv("CDP_DUCKDB_PATH", str(warehouse["path"]))
    outcome = run_dbt(["build", "--select", "stg_predictions__profile_scores"], target="dev")  # with its tests
    assert outcome.success, outcome.failures
    assert outcome.count("test", "pass") >= 3  # unique, not_null, the range test
    con = duckdb.connect(str(warehouse["path"]))
    try:
        rows, scored, in_range = con.execute("""
            select count(*), count(*) filter (where is_scored),
                   count(*) filter (where churn_risk between 0 and 100)
            from staging.stg_predictions__profile_scores""").fetchone()
    finally:
        con.close()
    assert rows == con_count(warehouse, "marts.profiles")
    assert scored == in_range == customers > 0


def test_a_fit_is_reused_for_a_day_of_data_time_then_refitted(dbt_build, warehouse, monkeypatch):
    """Scoring fits the model at most once per CDP_PREDICTIONS_REFIT_HOURS of the data's
    clock: an hour later it scores with the same parameters (no new fit, no evaluation),
    a day and more later it fits again."""
    con = duckdb.connect(str(warehouse["path"]))
    try:
        clock = con.execute("select clock from _cdp_meta.simulation").fetchone()[0]
        fitted = clv.score(con, clock - dt.timedelta(hours=30), evaluation=False, refit_after_hours=0)
        reused = clv.score(con, clock - dt.timedelta(hours=29), evaluation=False)
        refitted = clv.score(con, clock - dt.timedelta(hours=2), evaluation=False)
        monkeypatch.setenv("CDP_PREDICTIONS_REFIT_HOURS", "0")
        always = clv.score(con, clock - dt.timedelta(hours=1), evaluation=False)
        runs = con.execute("""select scored_at, as_of from marts.profile_prediction_runs
                              where as_of < ? order by as_of desc limit 4""", [clock]).fetchall()
        monkeypatch.setenv("CDP_PREDICTIONS_REFIT_HOURS", "a day")
        with pytest.raises(clv.PredictionError, match="CDP_PREDICTIONS_REFIT_HOURS='a day'"):
            clv.score(con, clock, evaluation=False)
    finally:
        con.close()
    assert "reused_fit_of" not in fitted
    assert reused["reused_fit_of"] == {"as_of": fitted["as_of"], "fitted_at": fitted["fitted_at"]}
    assert reused["parameters"] == fitted["parameters"]
    assert reused["customers"] >= fitted["customers"]  # scored on the later orders
    assert "reused_fit_of" not in refitted and refitted["parameters"] != fitted["parameters"]
    assert "reused_fit_of" not in always
    # Each run is logged with its own scoring time and clock.
    assert [r[1] for r in runs] == [clock - dt.timedelta(hours=h) for h in (1, 2, 29, 30)]
    assert runs[2][0] > runs[3][0]


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


# --- The Snowflake path, against the fakesnow emulator --------------------------------------

CLOCK = __import__("datetime").datetime(2026, 6, 1)


def _orders_input(seed: int = 3, profiles: int = 150):
    """marts.profiles and marts.profile_events as a dbt build would leave them, small: two
    years of Shopify orders for most profiles (some refunded or voided, which do not count),
    page views, and an order nobody could be attributed."""
    import pandas as pd

    rng = np.random.default_rng(seed)
    start = np.datetime64(CLOCK, "s") - np.timedelta64(730, "D")
    rows = []
    ids = [f"p_{i:04d}" for i in range(profiles)]
    for i, pid in enumerate(ids[: int(profiles * 0.8)]):
        rate, spend, dropout = rng.gamma(1.5, 1 / 60), rng.gamma(4, 20), rng.beta(1, 4)
        t = rng.uniform(0, 700)
        while t < 730:
            status = "refunded" if rng.random() < 0.05 else ("voided" if rng.random() < 0.02 else "paid")
            at = start + np.timedelta64(int(t * 86400), "s")
            rows.append((f"shopify:{len(rows)}", pid, "Order Placed", at, "shopify",
                         json.dumps({"total_price": round(float(rng.gamma(6, spend / 6)), 2), "financial_status": status})))
            rows.append((f"segment:{len(rows)}", pid, "Page Viewed", at, "segment", json.dumps({"path": "/"})))
            if rng.random() < dropout:
                break
            t += rng.exponential(1 / rate)
    rows.append(("shopify:orphan", None, "Order Placed", start, "shopify",
                 json.dumps({"total_price": 99.0, "financial_status": "paid"})))
    events = pd.DataFrame(rows, columns=["event_id", "profile_id", "event_name", "occurred_at", "source", "properties"])
    events["occurred_at"] = events["occurred_at"].astype("datetime64[us]")
    return pd.DataFrame({"profile_id": ids}), events


EVENTS_DDL = ("create table marts.profile_events (event_id varchar, profile_id varchar, event_name varchar, "
              "occurred_at {timestamp}, source varchar, properties varchar)")


def _seed_snowflake(con, profiles_frame, events_frame) -> None:
    from snowflake.connector import pandas_tools

    with con.cursor() as cur:
        cur.execute("create schema if not exists marts")
        cur.execute("create table marts.profiles (profile_id varchar)")
        cur.execute(EVENTS_DDL.format(timestamp="timestamp_ntz"))
    for frame, table in ((profiles_frame, "PROFILES"), (events_frame, "PROFILE_EVENTS")):
        upper = frame.copy()
        upper.columns = [c.upper() for c in upper.columns]
        ok, _, rows, _ = pandas_tools.write_pandas(con, upper, table, schema="MARTS", quote_identifiers=False,
                                                   use_logical_type=True)
        assert ok and rows == len(frame)


def _predictions(fetch) -> list[tuple]:
    return fetch("select profile_id, churn_risk, p_alive, expected_orders_12m, expected_order_value, "
                 "predicted_value_12m from marts.profile_predictions order by profile_id")


@pytest.fixture
def snowflake_env(monkeypatch):
    """profiles.yml's snowflake target, pointed at nothing real: fakesnow answers in-process."""
    for name, value in {"SNOWFLAKE_ACCOUNT": "cdp_test", "SNOWFLAKE_USER": "cdp", "SNOWFLAKE_PASSWORD": "emulated",
                        "SNOWFLAKE_DATABASE": "ANALYTICS", "CDP_AS_OF": CLOCK.isoformat(sep=" ")}.items():
        monkeypatch.setenv(name, value)
    for name in ("SNOWFLAKE_PRIVATE_KEY_PATH", "SNOWFLAKE_HOST", "SNOWFLAKE_PORT", "SNOWFLAKE_PROTOCOL"):
        monkeypatch.delenv(name, raising=False)


def test_snowflake_connection_takes_the_dbt_profile_settings(snowflake_env, monkeypatch):
    from orchestration.lib.snowflake import connect_args

    monkeypatch.setenv("SNOWFLAKE_HOST", "localhost")
    monkeypatch.setenv("SNOWFLAKE_PORT", "8085")
    monkeypatch.setenv("SNOWFLAKE_ROLE", "REPORTER")
    args = connect_args("snowflake")
    assert args["account"] == "cdp-test"  # dbt-snowflake's own normalisation of the account
    assert (args["user"], args["password"], args["role"], args["database"]) == ("cdp", "emulated", "REPORTER",
                                                                                "ANALYTICS")
    assert (args["host"], args["port"]) == ("localhost", 8085)
    assert args["session_parameters"] == {"QUERY_TAG": "cdp"}
    monkeypatch.delenv("SNOWFLAKE_PASSWORD")
    with pytest.raises(Exception, match="SNOWFLAKE_PASSWORD or SNOWFLAKE_PRIVATE_KEY_PATH"):
        connect_args("snowflake")


def test_scoring_on_snowflake_writes_back_what_duckdb_would(snowflake_env, monkeypatch):
    """The snowflake target end to end on the emulator: orders read there, the model fitted,
    marts.profile_predictions replaced there and the run logged; the same input scored
    through DuckDB gives the same table. Every statement sent parses as Snowflake SQL and
    calls no function Snowflake's grammar does not know (the emulator runs on DuckDB and
    would accept DuckDB's own functions)."""
    import fakesnow
    import sqlglot
    from sqlglot import exp

    from orchestration.lib import snowflake as snowflake_lib
    from orchestration.lib import warehouse as wh

    profiles_frame, events_frame = _orders_input()
    wrapped = []
    real_wrap = clv.for_connection
    monkeypatch.setattr(clv, "for_connection", lambda con: wrapped.append(real_wrap(con)) or wrapped[-1])

    with fakesnow.patch():
        con = snowflake_lib.connect("snowflake")
        try:
            _seed_snowflake(con, profiles_frame, events_frame)
        finally:
            con.close()
        figures = clv.score_warehouse(target="snowflake")
        con = snowflake_lib.connect("snowflake")
        try:
            with con.cursor() as cur:
                cur.execute("select * from marts.profile_predictions limit 0")
                columns = [d[0].lower() for d in cur.description]

            def fetch(sql):
                with con.cursor() as cur:
                    cur.execute(sql)
                    return cur.fetchall()

            on_snowflake = _predictions(fetch)
            runs = fetch("select customers, figures from marts.profile_prediction_runs")
            leftover = fetch("select count(*) from information_schema.tables "
                             "where lower(table_name) = 'scored'")[0][0]
        finally:
            con.close()

    assert "unscored" not in figures, figures
    assert figures["engine"] == "snowflake"
    assert columns == ["profile_id", "churn_risk", "p_alive", "expected_orders_12m", "expected_order_value",
                       "predicted_value_12m", "model_name", "as_of", "scored_at"]
    paid = events_frame[(events_frame.event_name == "Order Placed") & events_frame.profile_id.notna()
                        & ~events_frame.properties.str.contains('"(?:refunded|voided)"')]
    customers = paid.profile_id.nunique()
    assert len(on_snowflake) == len(profiles_frame)  # every profile, scored or not
    scored = [r for r in on_snowflake if r[1] is not None]
    assert len(scored) == customers == figures["customers"]
    assert all(0 <= r[1] <= 100 and 0 <= r[2] <= 1 and r[3] >= 0 and r[5] >= 0 for r in scored)
    assert all(r[1:] == (None,) * 5 for r in on_snowflake if r[0] not in set(paid.profile_id))
    assert leftover == 0  # the staged scores are dropped
    assert runs[0][0] == customers and json.loads(runs[0][1])["parameters"] == figures["parameters"]
    assert "churn_auc" in figures["evaluation"], figures["evaluation"]

    sent = [sql for w in {id(w): w for w in wrapped}.values() for sql in w.sent]
    assert any("profile_events" in sql for sql in sent) and any("create or replace table marts.profile_predictions copy grants" in sql for sql in sent)
    for sql in sent:
        tree = sqlglot.parse_one(sql, read="snowflake")
        unknown = [f.name for f in tree.find_all(exp.Anonymous)]
        assert not unknown, (unknown, sql)

    duck = duckdb.connect()
    try:
        duck.execute("create schema marts")
        duck.execute("create table marts.profiles as select * from profiles_frame")
        duck.execute(EVENTS_DDL.format(timestamp="timestamp"))
        duck.execute("insert into marts.profile_events select * from events_frame")
        on_duckdb_figures = clv.score(wh.DuckDBWarehouse(duck), CLOCK)
        on_duckdb = _predictions(lambda sql: duck.execute(sql).fetchall())
    finally:
        duck.close()
    assert on_duckdb_figures["parameters"] == figures["parameters"]
    assert on_duckdb == on_snowflake


def test_too_little_history_on_snowflake_writes_null_scores_and_the_reason(snowflake_env):
    import fakesnow

    from orchestration.lib import snowflake as snowflake_lib

    profiles_frame, events_frame = _orders_input(profiles=5)
    with fakesnow.patch():
        con = snowflake_lib.connect("snowflake")
        try:
            _seed_snowflake(con, profiles_frame, events_frame.iloc[:0])
            figures = clv.score_warehouse(target="snowflake")
            with con.cursor() as cur:
                cur.execute("select count(*), count(churn_risk) from marts.profile_predictions")
                written = cur.fetchone()
                cur.execute("select figures from marts.profile_prediction_runs")
                logged = json.loads(cur.fetchone()[0])
        finally:
            con.close()
    assert "no orders" in figures["unscored"]
    assert written == (5, 0)
    assert logged["unscored"] == figures["unscored"]
