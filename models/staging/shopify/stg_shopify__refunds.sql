with

source as (

    select * from {{ source('shopify', 'refund') }}

),

latest as (

    select * from source
    {{ cdp.latest_per_key('id', '_fivetran_synced') }}

),

renamed as (

    select
        cast(id as {{ dbt.type_bigint() }}) as refund_id,
        cast(order_id as {{ dbt.type_bigint() }}) as order_id,
        cast(user_id as {{ dbt.type_bigint() }}) as staff_user_id,
        note,
        restock as is_restocked,
        cast(created_at as {{ dbt.type_timestamp() }}) as created_at,
        cast(processed_at as {{ dbt.type_timestamp() }}) as processed_at,
        cast(_fivetran_synced as {{ dbt.type_timestamp() }}) as synced_at

    from latest

)

select * from renamed
