with

source as (

    select * from {{ source('stripe', 'price') }}

),

latest as (

    select * from source
    {{ cdp.latest_per_key('id', '_fivetran_synced') }}

),

renamed as (

    select
        id as price_id,
        product_id,
        nickname as price_name,
        {{ cdp.cents_to_dollars('unit_amount') }} as unit_amount,
        currency,
        billing_scheme,
        recurring_interval,
        cast(recurring_interval_count as {{ dbt.type_int() }}) as recurring_interval_count,
        recurring_usage_type,
        active as is_active,
        metadata,
        cast(created as {{ dbt.type_timestamp() }}) as created_at,
        cast(_fivetran_synced as {{ dbt.type_timestamp() }}) as synced_at

    from latest
    where
        not coalesce(is_deleted, false)
        and coalesce(livemode, true)

)

select * from renamed
