"""Churn risk and predicted 12-month value: a BG/NBD model of purchase counts and a
Gamma-Gamma model of order values, fitted by maximum likelihood (scipy) on the warehouse's
orders and written back to it.

- BG/NBD (Fader, Hardie and Lee, 2005): while alive, a customer buys at a Poisson rate
  lambda ~ Gamma(r, alpha); after each purchase they drop out with probability
  p ~ Beta(a, b). From a customer's repeat purchases x, the time of the last one t_x and
  their age T, it gives P(alive) and the expected purchases in the next t days in closed
  form. Churn risk is P(no purchase in the next 90 days) = (1 - P(alive)) + P(alive) *
  ((alpha + T) / (alpha + T + t)) ** (r + x): exact under the model, because a customer
  can only drop out right after a purchase.
- Gamma-Gamma (Fader, Hardie and Lee, 2005, "RFM and CLV"): order values vary around a
  customer's own mean, which varies across customers; it gives the expected order value
  of a customer from their number of orders and average.
- Predicted 12-month value = expected orders in the next 365 days x expected order value.

Orders are Shopify's "Order Placed" events in marts.profile_events, refunded and voided
ones excluded, as in the traits. Time is measured in weeks inside the fit. The orders are
read and the scores written with SQL that runs on DuckDB and Snowflake alike; which one is
the dbt target's (score_warehouse; transport in orchestration/lib/warehouse.py).
"""

from __future__ import annotations

import datetime as dt
import json
import os
from dataclasses import asdict, dataclass

import numpy as np
import pyarrow as pa
from scipy.optimize import minimize
from scipy.special import gammaln, hyp2f1
from scipy.stats import rankdata, spearmanr

from orchestration import settings
from orchestration.dbt.project import simulation_clock
from orchestration.lib import warehouse as warehouses
from orchestration.lib.warehouse import wrap as for_connection

CHURN_DAYS = 90
# The scores' columns and their SQL types while staged (before rounding and casting).
SCORE_COLUMNS = {"profile_id": "varchar", "p_alive": "double", "churn_risk": "integer",
                 "expected_orders_12m": "double", "expected_order_value": "double", "predicted_value_12m": "double"}
VALUE_DAYS = 365

# One query for DuckDB and Snowflake: json_extract_path_text takes a key on both (DuckDB's
# alias of json_extract_string), and profile_events.properties is JSON held as text on both.
ORDERS_SQL = """
    select
        profile_id,
        occurred_at,
        try_cast(json_extract_path_text(properties, 'total_price') as double) as order_value
    from marts.profile_events
    where
        event_name = 'Order Placed'
        and source = 'shopify'
        and profile_id is not null
        and coalesce(json_extract_path_text(properties, 'financial_status'), '') not in ('refunded', 'voided')
"""


class PredictionError(RuntimeError):
    """The model cannot be fitted or scored; the message says why and what to do."""


@dataclass(frozen=True)
class Summary:
    """Per-customer figures as of a moment: the model's inputs."""

    profile_id: np.ndarray
    orders: np.ndarray        # n, all orders up to the moment
    x: np.ndarray             # repeat purchases (n - 1)
    t_x: np.ndarray           # weeks from first to last order
    T: np.ndarray             # weeks from first order to the moment
    mean_value: np.ndarray    # average order value


@dataclass(frozen=True)
class Parameters:
    r: float
    alpha: float
    a: float
    b: float
    p: float
    q: float
    gamma: float


def load_orders(warehouse) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every order (profile, time, value), sorted by profile then time here rather than in
    SQL: summarise needs numpy's order of the ids, which a warehouse collation need not match."""
    rows = for_connection(warehouse).fetch(ORDERS_SQL)
    profile_id = rows["profile_id"].astype(str)
    occurred_at = rows["occurred_at"].astype("datetime64[s]")
    value = np.nan_to_num(rows["order_value"].astype(float))
    order = np.lexsort((occurred_at, profile_id))
    return profile_id[order], occurred_at[order], value[order]


def summarise(profile_id, occurred_at, value, moment: dt.datetime) -> Summary:
    """Customers with at least one order at or before ``moment`` (orders sorted by profile)."""
    keep = occurred_at <= np.datetime64(moment, "s")
    profile_id, occurred_at, value = profile_id[keep], occurred_at[keep], value[keep]
    if len(profile_id) == 0:
        raise PredictionError(f"no orders at or before {moment:%Y-%m-%d}: nothing to fit; load Shopify orders first")
    ids, start, counts = np.unique(profile_id, return_index=True, return_counts=True)
    week = np.timedelta64(7 * 24 * 3600, "s")
    first = occurred_at[start]
    last = occurred_at[start + counts - 1]
    sums = np.add.reduceat(value, start)
    return Summary(profile_id=ids, orders=counts, x=(counts - 1).astype(float),
                   t_x=(last - first) / week, T=(np.datetime64(moment, "s") - first) / week,
                   mean_value=sums / counts)


def _bgnbd_log_likelihood(params, x, t_x, T):
    r, alpha, a, b = params
    a1 = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
    a2 = gammaln(a + b) + gammaln(b + x) - gammaln(b) - gammaln(a + b + x)
    a3 = -(r + x) * np.log(alpha + T)
    with np.errstate(divide="ignore", invalid="ignore"):
        a4 = np.where(x > 0, np.log(a) - np.log(np.maximum(b + x - 1, 1e-12)) - (r + x) * np.log(alpha + t_x), -np.inf)
    return a1 + a2 + np.logaddexp(a3, a4)


def _gamma_gamma_log_likelihood(params, n, m):
    p, q, gamma = params
    return (gammaln(p * n + q) - gammaln(p * n) - gammaln(q) + q * np.log(gamma) + (p * n - 1) * np.log(m)
            + p * n * np.log(n) - (p * n + q) * np.log(gamma + n * m))


# An L2 penalty on the parameters (as lifetimes' penalizer_coef): without it, data with
# little dropout drive a and b of BG/NBD to infinity together (the Beta collapsing to a
# point), where the expected-purchases formula is numerically useless.
PENALTY = 0.001


def _fit(log_likelihood, start, *data) -> np.ndarray:
    def objective(log_params):
        params = np.exp(log_params)
        value = -np.sum(log_likelihood(params, *data)) + PENALTY * np.sum(params ** 2)
        return value if np.isfinite(value) else 1e300

    result = minimize(objective, np.log(start), method="Nelder-Mead",
                      options={"maxiter": 4000, "xatol": 1e-6, "fatol": 1e-6})
    if not np.isfinite(result.fun):
        raise PredictionError(f"maximum likelihood did not converge ({result.message})")
    return np.exp(result.x)


def fit(summary: Summary) -> Parameters:
    if summary.x.sum() == 0:
        raise PredictionError("no customer has a repeat order yet: BG/NBD cannot tell buying rate from dropout; "
                              "wait for more history")
    r, alpha, a, b = _fit(_bgnbd_log_likelihood, [1.0, 10.0, 1.0, 3.0], summary.x, summary.t_x, summary.T)
    repeat = (summary.orders >= 2) & (summary.mean_value > 0)
    if repeat.sum() < 10:
        raise PredictionError(f"only {int(repeat.sum())} customers with two or more paid orders: too few to fit "
                              f"the Gamma-Gamma order-value model")
    p, q, gamma = _fit(_gamma_gamma_log_likelihood, [2.0, 3.0, 50.0],
                       summary.orders[repeat].astype(float), summary.mean_value[repeat])
    return Parameters(float(r), float(alpha), float(a), float(b), float(p), float(q), float(gamma))


def p_alive(par: Parameters, s: Summary) -> np.ndarray:
    with np.errstate(divide="ignore", over="ignore"):
        log_ratio = (np.log(par.a) - np.log(np.maximum(par.b + s.x - 1, 1e-12))
                     + (par.r + s.x) * (np.log(par.alpha + s.T) - np.log(par.alpha + s.t_x)))
    return np.where(s.x > 0, 1.0 / (1.0 + np.exp(log_ratio)), 1.0)


def expected_purchases(par: Parameters, s: Summary, days: float) -> np.ndarray:
    t = days / 7.0
    r, alpha, a, b, x, T = par.r, par.alpha, par.a, par.b, s.x, s.T
    hyp = hyp2f1(r + x, b + x, a + b + x - 1, t / (alpha + T + t))
    first = (a + b + x - 1) / (a - 1)
    second = 1 - ((alpha + T) / (alpha + T + t)) ** (r + x) * hyp
    return np.maximum(first * second * p_alive(par, s), 0.0)


def p_no_purchase(par: Parameters, s: Summary, days: float) -> np.ndarray:
    alive = p_alive(par, s)
    t = days / 7.0
    return (1 - alive) + alive * ((par.alpha + s.T) / (par.alpha + s.T + t)) ** (par.r + s.x)


def expected_order_value(par: Parameters, s: Summary) -> np.ndarray:
    n, m = s.orders.astype(float), np.maximum(s.mean_value, 0.0)
    return (par.p * (par.gamma + n * m)) / (par.p * n + par.q - 1)


def auc(scores: np.ndarray, labels: np.ndarray) -> float:
    """Area under the ROC curve (Mann-Whitney; ties count half)."""
    labels = labels.astype(bool)
    positives, negatives = labels.sum(), (~labels).sum()
    if positives == 0 or negatives == 0:
        return float("nan")
    ranks = rankdata(scores)
    return float((ranks[labels].sum() - positives * (positives + 1) / 2) / (positives * negatives))


def _customer_index(customers: np.ndarray, profile_id: np.ndarray) -> np.ndarray:
    """Position of each of ``profile_id`` in ``customers`` (sorted, unique: Summary.profile_id), -1 where absent."""
    if len(customers) == 0:
        return np.full(len(profile_id), -1)
    position = np.minimum(np.searchsorted(customers, profile_id), len(customers) - 1)
    return np.where(customers[position] == profile_id, position, -1)


def evaluate(profile_id, occurred_at, value, clock: dt.datetime) -> dict:
    """Fit on the orders up to one year before ``clock`` and check against what happened
    next: churn (no order in the next 90 days) by AUC, 12-month value by mean absolute
    error and total, each next to a naive baseline (days since the last order; next year's
    spend = the last year's)."""
    cutoff = clock - dt.timedelta(days=VALUE_DAYS)
    s = summarise(profile_id, occurred_at, value, cutoff)
    par = fit(s)
    after = (occurred_at > np.datetime64(cutoff, "s")) & (occurred_at <= np.datetime64(clock, "s"))
    churn_end = np.datetime64(cutoff + dt.timedelta(days=CHURN_DAYS), "s")
    customers = len(s.profile_id)
    after_idx = _customer_index(s.profile_id, profile_id[after])  # -1: not a customer at the cutoff
    known = after_idx >= 0
    spend_next = np.bincount(after_idx[known], weights=value[after][known], minlength=customers)
    soon = known & (occurred_at[after] <= churn_end)
    bought_soon = np.bincount(after_idx[soon], minlength=customers) > 0
    before = (occurred_at <= np.datetime64(cutoff, "s")) & (
        occurred_at > np.datetime64(cutoff - dt.timedelta(days=VALUE_DAYS), "s"))
    before_idx = _customer_index(s.profile_id, profile_id[before])  # all customers (they ordered by the cutoff)
    spend_last = np.bincount(before_idx, weights=value[before], minlength=customers)
    churn = p_no_purchase(par, s, CHURN_DAYS)
    orders_next = expected_purchases(par, s, VALUE_DAYS)
    predicted = orders_next * expected_order_value(par, s)
    recency_days = (s.T - s.t_x) * 7
    orders_actual = int(known.sum())
    return {
        "cutoff": cutoff.isoformat(sep=" "), "customers": len(s.profile_id),
        "churned_share": float((~bought_soon).mean()),
        "churn_auc": auc(churn, ~bought_soon), "churn_auc_baseline_recency": auc(recency_days, ~bought_soon),
        "value_mae": float(np.abs(predicted - spend_next).mean()),
        "value_mae_baseline_last_year": float(np.abs(spend_last - spend_next).mean()),
        "value_total_predicted": float(predicted.sum()), "value_total_actual": float(spend_next.sum()),
        "value_total_baseline_last_year": float(spend_last.sum()),
        # Spend is mostly zero, so MAE rewards predicting zero (its best constant is the
        # median); the model predicts an expectation, which RMSE rewards, and ranks
        # customers, which Spearman's rho measures. Orders apart from value show whether
        # an error in the total comes from BG/NBD (counts) or Gamma-Gamma (order values).
        "value_mae_baseline_zero": float(spend_next.mean()),
        "value_rmse": float(np.sqrt(np.mean((predicted - spend_next) ** 2))),
        "value_rmse_baseline_last_year": float(np.sqrt(np.mean((spend_last - spend_next) ** 2))),
        "value_spearman": float(spearmanr(predicted, spend_next).statistic),
        "value_spearman_baseline_last_year": float(spearmanr(spend_last, spend_next).statistic),
        "orders_predicted": float(orders_next.sum()), "orders_actual": orders_actual,
        # BG/NBD's mean dropout probability after a purchase, a / (a + b): near zero when the
        # history is too short to show any dropout, and then nobody is predicted to leave.
        "mean_dropout": float(par.a / (par.a + par.b)),
        "parameters": asdict(par),
    }


def refit_hours() -> float:
    """How old (in the warehouse's data time) a fit may be before scoring fits again:
    CDP_PREDICTIONS_REFIT_HOURS, default 24 (0: fit every run)."""
    raw = os.environ.get("CDP_PREDICTIONS_REFIT_HOURS", "24")
    try:
        hours = float(raw)
    except ValueError:
        hours = -1.0
    if not hours >= 0:
        raise PredictionError(f"CDP_PREDICTIONS_REFIT_HOURS={raw!r} is not a number of hours (0 or more); "
                              f"unset it for the default of 24")
    return hours


def recent_fit(warehouse, clock: dt.datetime, hours: float) -> dict | None:
    """The figures of the newest run that fitted the model (rather than reusing a fit) on
    this engine, if it was fitted as of at most ``hours`` before ``clock`` and not after it."""
    if hours <= 0 or not warehouse.has_table("marts", "profile_prediction_runs"):
        return None
    for _, figures in warehouse.rows("select as_of, figures from marts.profile_prediction_runs "
                                     "order by as_of desc, scored_at desc"):
        run = json.loads(figures)
        if "parameters" not in run or run.get("engine") != warehouse.engine or run.get("reused_fit_of"):
            continue
        fitted_as_of = dt.datetime.fromisoformat(run["as_of"])
        if fitted_as_of > clock:  # fitted on orders after this clock: not for scoring as of it
            continue
        return run if clock - fitted_as_of <= dt.timedelta(hours=hours) else None
    return None


def score(con, clock: dt.datetime, evaluation: bool = True, refit_after_hours: float | None = None) -> dict:
    """Score every customer as of ``clock`` with BG/NBD + Gamma-Gamma, write
    marts.profile_predictions (one row per profile; customers get scores, others nulls) and
    append the run to marts.profile_prediction_runs. The parameters are fitted on every order
    up to ``clock`` (and the fit evaluated on a time split) unless a run fitted them as of
    less than ``refit_after_hours`` (default refit_hours(): 24) before ``clock``: then that
    fit's parameters score today's orders, as a model trained daily scores hourly. ``con``:
    a DuckDB or Snowflake connection (or a lib/warehouse.py Warehouse). Returns the run's figures."""
    warehouse = for_connection(con)
    hours = refit_hours() if refit_after_hours is None else refit_after_hours
    profile_id, occurred_at, value = load_orders(warehouse)
    s = summarise(profile_id, occurred_at, value, clock)
    reused = recent_fit(warehouse, clock, hours)
    par = Parameters(**reused["parameters"]) if reused else fit(s)
    alive = p_alive(par, s)
    churn = np.rint(100 * p_no_purchase(par, s, CHURN_DAYS)).astype(int)
    orders_12m = expected_purchases(par, s, VALUE_DAYS)
    order_value = expected_order_value(par, s)
    now = _utc_now().isoformat(sep=" ")
    figures = {"fitted_at": reused["fitted_at"] if reused else now, "scored_at": now,
               "as_of": clock.isoformat(sep=" "), "engine": warehouse.engine, "customers": len(s.profile_id),
               "parameters": asdict(par)}
    if reused:
        # The fit (and its evaluation) is that run's; this one only scored.
        figures["reused_fit_of"] = {"as_of": reused["as_of"], "fitted_at": reused["fitted_at"]}
    elif evaluation:
        try:
            figures["evaluation"] = evaluate(profile_id, occurred_at, value, clock)
        except PredictionError as exc:  # less than a year of history: scores, but no evaluation yet
            figures["evaluation"] = {"skipped": str(exc)}
    scores = pa.table({
        "profile_id": pa.array(s.profile_id, pa.string()), "p_alive": alive, "churn_risk": churn,
        "expected_orders_12m": orders_12m, "expected_order_value": order_value,
        "predicted_value_12m": orders_12m * order_value,
    })
    _write(warehouse, scores, figures["as_of"], figures["scored_at"])
    _log_run(warehouse, figures)
    return figures


# Every profile of marts.profiles, scores where given: one statement that replaces the
# table whole. On Snowflake CREATE OR REPLACE is atomic (readers see the old table or the
# new one, never a half-written one) and COPY GRANTS keeps the readers' privileges on the
# new table; in DuckDB it is one transaction. {scores} is the staged relation, {timestamp}
# the engine's timestamp type, {copy_grants} the clause where the engine has it
# (lib/warehouse.py).
PUBLISH_SQL = """
create or replace table marts.profile_predictions{copy_grants} as
select
    p.profile_id,
    cast(t.churn_risk as integer) as churn_risk,
    cast(round(t.p_alive, 4) as double) as p_alive,
    cast(round(t.expected_orders_12m, 3) as double) as expected_orders_12m,
    cast(round(t.expected_order_value, 2) as decimal(18, 2)) as expected_order_value,
    cast(round(t.predicted_value_12m, 2) as decimal(18, 2)) as predicted_value_12m,
    'bg_nbd+gamma_gamma' as model_name,
    cast(? as {timestamp}) as as_of,
    cast(? as {timestamp}) as scored_at
from marts.profiles as p
left join {scores} as t on p.profile_id = t.profile_id
"""

RUNS_DDL = """
create table if not exists marts.profile_prediction_runs (
    scored_at {timestamp},
    as_of {timestamp},
    customers bigint,
    figures varchar
)
"""

RUNS_INSERT = """
insert into marts.profile_prediction_runs (scored_at, as_of, customers, figures)
select cast(? as {timestamp}), cast(? as {timestamp}), ?, ?
"""


def _write(warehouse, scores: pa.Table, as_of: str, scored_at: str) -> None:
    warehouse.create_schema("marts")
    # Staged with explicit types: a batch's inferred ones could differ (an all-null column).
    with warehouse.staged("scored", scores, SCORE_COLUMNS) as relation:
        warehouse.execute(PUBLISH_SQL.format(scores=relation, timestamp=warehouse.timestamp,
                                             copy_grants=warehouse.copy_grants), [as_of, scored_at])


def write_unscored(con, clock: dt.datetime, reason: str) -> None:
    """Every profile with null scores, and the reason in the run log."""
    warehouse = for_connection(con)
    now = _utc_now().isoformat(sep=" ")
    empty = pa.table({"profile_id": pa.array([], pa.string()), "p_alive": pa.array([], pa.float64()),
                      "churn_risk": pa.array([], pa.int64()), "expected_orders_12m": pa.array([], pa.float64()),
                      "expected_order_value": pa.array([], pa.float64()),
                      "predicted_value_12m": pa.array([], pa.float64())})
    _write(warehouse, empty, clock.isoformat(sep=" "), now)
    _log_run(warehouse, {"fitted_at": now, "scored_at": now, "as_of": clock.isoformat(sep=" "),
                         "engine": warehouse.engine, "customers": 0, "unscored": reason})


def _log_run(warehouse, figures: dict) -> None:
    timestamp = warehouse.timestamp
    warehouse.execute(RUNS_DDL.format(timestamp=timestamp))
    warehouse.execute(RUNS_INSERT.format(timestamp=timestamp),
                      [figures["scored_at"], figures["as_of"], figures["customers"], json.dumps(figures)])


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def as_of_clock(target: str, path=None) -> dt.datetime:
    """The moment to score as of, as the dbt models take it (macro cdp.as_of): a simulated
    DuckDB warehouse's clock, else CDP_AS_OF, else now (UTC)."""
    on_duckdb = path is not None and warehouses.engine_of(target) == "duckdb"
    clock = simulation_clock(path) if on_duckdb else None
    if clock is None and os.environ.get("CDP_AS_OF"):
        clock = dt.datetime.fromisoformat(os.environ["CDP_AS_OF"])
    return clock or _utc_now()


def score_warehouse(path=None, target: str = "dev") -> dict:
    """Score the warehouse of dbt target ``target`` (the DuckDB file at ``path`` for dev,
    else Snowflake) as of its clock (as_of_clock): the figures of ``score``, or, with too
    little history, null scores for every profile and ``{"unscored": reason}`` (a new or
    tiny warehouse gets no made-up scores)."""
    path = path or settings.duckdb_path()
    clock = as_of_clock(target, path)
    with warehouses.connect(target, path) as con:
        try:
            return score(con, clock)
        except PredictionError as exc:
            write_unscored(con, clock, str(exc))
            return {"unscored": str(exc)}
