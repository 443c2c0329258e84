with

source as (

    select * from {{ source('shopify', 'order_line') }}

),

latest as (

    select * from source
    {{ cdp.latest_per_key('id', '_fivetran_synced') }}

),

renamed as (

    select
        cast(id as {{ dbt.type_bigint() }}) as order_line_id,
        cast(order_id as {{ dbt.type_bigint() }}) as order_id,
        cast({{ cdp.source_column('index') }} as {{ dbt.type_int() }}) as line_number,
        cast(product_id as {{ dbt.type_bigint() }}) as product_id,
        cast(variant_id as {{ dbt.type_bigint() }}) as variant_id,
        title as product_title,
        variant_title,
        name as line_name,
        sku,
        vendor,
        cast(quantity as {{ dbt.type_int() }}) as quantity,
        cast(price as {{ dbt.type_numeric() }}) as price,
        cast(pre_tax_price as {{ dbt.type_numeric() }}) as pre_tax_price,
        cast(total_discount as {{ dbt.type_numeric() }}) as total_discount,
        cast(fulfillable_quantity as {{ dbt.type_int() }}) as fulfillable_quantity,
        fulfillment_status,
        gift_card as is_gift_card,
        requires_shipping as is_shipping_required,
        taxable as is_taxable,
        cast(grams as {{ dbt.type_int() }}) as grams,
        cast(_fivetran_synced as {{ dbt.type_timestamp() }}) as synced_at

    from latest

)

select * from renamed
