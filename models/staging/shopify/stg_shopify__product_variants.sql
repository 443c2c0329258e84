with

source as (

    select * from {{ source('shopify', 'product_variant') }}

),

latest as (

    select * from source
    {{ cdp.latest_per_key('id', '_fivetran_synced') }}

),

renamed as (

    select
        cast(id as {{ dbt.type_bigint() }}) as variant_id,
        cast(product_id as {{ dbt.type_bigint() }}) as product_id,
        title as variant_title,
        display_name,
        sku,
        cast(price as {{ dbt.type_numeric() }}) as price,
        cast(compare_at_price as {{ dbt.type_numeric() }}) as compare_at_price,
        cast(position as {{ dbt.type_int() }}) as variant_position,
        cast(inventory_quantity as {{ dbt.type_int() }}) as inventory_quantity,
        cast(inventory_item_id as {{ dbt.type_bigint() }}) as inventory_item_id,
        inventory_policy,
        inventory_management,
        fulfillment_service,
        taxable as is_taxable,
        available_for_sale as is_available_for_sale,
        cast(grams as {{ dbt.type_float() }}) as grams,
        cast(weight as {{ dbt.type_float() }}) as weight,
        weight_unit,
        option_1,
        option_2,
        option_3,
        cast(created_at as {{ dbt.type_timestamp() }}) as created_at,
        cast(updated_at as {{ dbt.type_timestamp() }}) as updated_at,
        cast(_fivetran_synced as {{ dbt.type_timestamp() }}) as synced_at

    from latest

)

select * from renamed
