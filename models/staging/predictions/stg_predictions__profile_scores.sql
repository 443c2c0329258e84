{#
    Predictive scores per profile as the Dagster asset profile_predictions last wrote them.

    That asset runs after the dbt build (it fits on the traits' orders), so on a new
    warehouse's first build the table does not exist yet. Rather than fail every first
    build on a table dbt cannot make, the view is then an empty relation with the same
    columns and types; the next build after scoring (in the Dagster job, the step right
    after the asset) points it at the table. source() is called either way, so the
    lineage and the Dagster graph always show the dependency.
#}
{%- set columns = [
    'profile_id', 'churn_risk', 'p_alive', 'expected_orders_12m', 'expected_order_value',
    'predicted_value_12m', 'model_name', 'as_of', 'scored_at',
] %}

with

source as (

    {{ cdp.source_or_empty(source('predictions', 'profile_predictions'), columns) }}

),

renamed as (

    select
        cast(profile_id as {{ dbt.type_string() }}) as profile_id,
        cast(churn_risk as integer) as churn_risk,
        cast(p_alive as double) as p_alive,
        cast(expected_orders_12m as double) as expected_orders_12m,
        cast(expected_order_value as decimal(18, 2)) as expected_order_value,
        cast(predicted_value_12m as decimal(18, 2)) as predicted_value_12m,
        churn_risk is not null as is_scored,
        cast(model_name as {{ dbt.type_string() }}) as model_name,
        cast(as_of as {{ dbt.type_timestamp() }}) as orders_through_at,
        cast(scored_at as {{ dbt.type_timestamp() }}) as scored_at

    from source

)

select * from renamed
