with

source as (

    select * from {{ source('stripe', 'subscription_item') }}

),

latest as (

    select * from source
    {{ cdp.latest_per_key('id', '_fivetran_synced') }}

),

renamed as (

    select
        id as subscription_item_id,
        subscription_id,
        plan_id as price_id,
        cast(quantity as {{ dbt.type_int() }}) as quantity,
        metadata,
        cast(created as {{ dbt.type_timestamp() }}) as created_at,
        cast(current_period_start as {{ dbt.type_timestamp() }}) as current_period_start_at,
        cast(current_period_end as {{ dbt.type_timestamp() }}) as current_period_end_at,
        cast(_fivetran_synced as {{ dbt.type_timestamp() }}) as synced_at

    from latest

)

select * from renamed
