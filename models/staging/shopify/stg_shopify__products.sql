with

source as (

    select * from {{ source('shopify', 'product') }}

),

latest as (

    select * from source
    {{ cdp.latest_per_key('id', '_fivetran_synced') }}

),

renamed as (

    select
        cast(id as {{ dbt.type_bigint() }}) as product_id,
        title as product_title,
        handle,
        product_type,
        vendor,
        status as product_status,
        published_scope,
        cast(created_at as {{ dbt.type_timestamp() }}) as created_at,
        cast(updated_at as {{ dbt.type_timestamp() }}) as updated_at,
        cast(published_at as {{ dbt.type_timestamp() }}) as published_at,
        cast(_fivetran_synced as {{ dbt.type_timestamp() }}) as synced_at

    from latest
    where not coalesce(_fivetran_deleted, false)

)

select * from renamed
