-- Scores are probabilities and non-negative amounts: a row outside that is a scoring bug.
select
    profile_id,
    churn_risk,
    p_alive,
    expected_orders_12m,
    expected_order_value,
    predicted_value_12m
from {{ ref('stg_predictions__profile_scores') }}
where
    churn_risk not between 0 and 100
    or p_alive not between 0 and 1
    or expected_orders_12m < 0
    or expected_order_value < 0
    or predicted_value_12m < 0
    or is_scored and (p_alive is null or predicted_value_12m is null)
