with

source as (

    select * from {{ source('stripe', 'subscription_history') }}

),

-- History mode: the current version of each subscription.
current_versions as (

    select * from source
    where coalesce(_fivetran_active, true)
    {{ cdp.latest_per_key('id', '_fivetran_start desc, _fivetran_synced') }}

),

renamed as (

    select
        id as subscription_id,
        customer_id,
        status,
        billing as collection_method,
        cast(quantity as {{ dbt.type_int() }}) as quantity,
        cancel_at_period_end as is_cancel_at_period_end,
        latest_invoice_id,
        default_payment_method_id,
        cast(days_until_due as {{ dbt.type_int() }}) as days_until_due,
        metadata,
        cast(created as {{ dbt.type_timestamp() }}) as created_at,
        cast(start_date as {{ dbt.type_timestamp() }}) as started_at,
        cast(billing_cycle_anchor as {{ dbt.type_timestamp() }}) as billing_cycle_anchor_at,
        cast(current_period_start as {{ dbt.type_timestamp() }}) as current_period_start_at,
        cast(current_period_end as {{ dbt.type_timestamp() }}) as current_period_end_at,
        cast(trial_start as {{ dbt.type_timestamp() }}) as trial_start_at,
        cast(trial_end as {{ dbt.type_timestamp() }}) as trial_end_at,
        cast(cancel_at as {{ dbt.type_timestamp() }}) as cancel_at,
        cast(canceled_at as {{ dbt.type_timestamp() }}) as canceled_at,
        cast(ended_at as {{ dbt.type_timestamp() }}) as ended_at,
        cast(_fivetran_start as {{ dbt.type_timestamp() }}) as version_started_at,
        cast(_fivetran_synced as {{ dbt.type_timestamp() }}) as synced_at

    from current_versions
    where coalesce(livemode, true)

)

select * from renamed
