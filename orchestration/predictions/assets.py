"""Predictive scores as a Dagster asset, after the traits: churn risk and predicted
12-month value per profile (orchestration/predictions/clv.py), written back to the
warehouse dbt builds on (the DuckDB file, or Snowflake on the ``snowflake`` target) as
marts.profile_predictions, with each run's parameters and evaluation in
marts.profile_prediction_runs. dbt reads the table back as the source
``predictions.profile_predictions`` (models/staging/predictions)."""


import dagster as dg
from dagster_dbt import DbtCliResource

from orchestration import settings
from orchestration.loads.resources import WarehouseResource

from .clv import score_warehouse


@dg.asset(key=["profile_predictions"], deps=[dg.AssetKey(["profile_traits"])], group_name="marts",
          pool="duckdb_warehouse", automation_condition=dg.AutomationCondition.eager(),
          kinds={"python", "snowflake" if settings.dbt_target() == "snowflake" else "duckdb"},
          description="Churn risk (0-100) and predicted 12-month value per profile: BG/NBD + Gamma-Gamma, "
                      "fitted on the warehouse's orders; marts.profile_predictions.")
def profile_predictions(context: dg.AssetExecutionContext, warehouse: WarehouseResource,
                        dbt: DbtCliResource) -> dg.MaterializeResult:
    # The engine is the dbt asset's: both resources follow CDP_TARGET unless configured.
    target = warehouse.target_with(dbt.target)
    figures = score_warehouse(warehouse.path, target=target)
    if "unscored" in figures:
        context.log.warning(f"profile_predictions not scored: {figures['unscored']}")
        return dg.MaterializeResult(metadata={"scored": False, "target": target, "reason": figures["unscored"]})
    evaluation = figures.get("evaluation", {})
    return dg.MaterializeResult(metadata={
        "scored": True, "target": target, "customers": figures["customers"], "as_of": figures["as_of"],
        "churn_auc": evaluation.get("churn_auc"), "churn_auc_baseline_recency": evaluation.get("churn_auc_baseline_recency"),
        "value_mae": evaluation.get("value_mae"), "value_mae_baseline_last_year": evaluation.get("value_mae_baseline_last_year"),
        "parameters": figures["parameters"],
        # Set when this run scored with an earlier run's fit (CDP_PREDICTIONS_REFIT_HOURS).
        "reused_fit_of": figures.get("reused_fit_of"),
    })
