with

source as (

    select * from {{ source('shopify', 'order_line_refund') }}

),

latest as (

    select * from source
    {{ cdp.latest_per_key('id', '_fivetran_synced') }}

),

renamed as (

    select
        cast(id as {{ dbt.type_bigint() }}) as order_line_refund_id,
        cast(refund_id as {{ dbt.type_bigint() }}) as refund_id,
        cast(order_line_id as {{ dbt.type_bigint() }}) as order_line_id,
        cast(location_id as {{ dbt.type_bigint() }}) as location_id,
        cast(quantity as {{ dbt.type_int() }}) as quantity,
        cast(subtotal as {{ dbt.type_numeric() }}) as subtotal,
        cast(total_tax as {{ dbt.type_numeric() }}) as total_tax,
        restock_type,
        cast(_fivetran_synced as {{ dbt.type_timestamp() }}) as synced_at

    from latest

)

select * from renamed
