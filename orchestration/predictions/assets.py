"""Predictive scores as a Dagster asset, after the traits: churn risk and predicted
12-month value per profile (orchestration/predictions/clv.py), written back to the
warehouse as marts.profile_predictions, with each run's parameters and evaluation in
marts.profile_prediction_runs."""


import datetime as dt

import dagster as dg
import duckdb

from orchestration.dbt.project import simulation_clock
from orchestration.loads.resources import WarehouseResource

from .clv import PredictionError, score, write_unscored


@dg.asset(key=["profile_predictions"], deps=[dg.AssetKey(["profile_traits"])], group_name="marts",
          pool="duckdb_warehouse", kinds={"python", "duckdb"},
          description="Churn risk (0-100) and predicted 12-month value per profile: BG/NBD + Gamma-Gamma, "
                      "fitted on the warehouse's orders; marts.profile_predictions.")
def profile_predictions(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    clock = simulation_clock(warehouse.path) or dt.datetime.now(dt.UTC).replace(tzinfo=None)
    con = duckdb.connect(str(warehouse.path))
    try:
        try:
            figures = score(con, clock)
        except PredictionError as exc:
            # Too little history (a new or tiny warehouse): every profile gets null scores
            # rather than made-up ones, and the run says why.
            context.log.warning(f"profile_predictions not scored: {exc}")
            write_unscored(con, clock, str(exc))
            return dg.MaterializeResult(metadata={"scored": False, "reason": str(exc)})
    finally:
        con.close()
    evaluation = figures.get("evaluation", {})
    return dg.MaterializeResult(metadata={
        "scored": True, "customers": figures["customers"], "as_of": figures["as_of"],
        "churn_auc": evaluation.get("churn_auc"), "churn_auc_baseline_recency": evaluation.get("churn_auc_baseline_recency"),
        "value_mae": evaluation.get("value_mae"), "value_mae_baseline_last_year": evaluation.get("value_mae_baseline_last_year"),
        "parameters": figures["parameters"],
    })
