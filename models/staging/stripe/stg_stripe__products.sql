with

source as (

    select * from {{ source('stripe', 'product') }}

),

latest as (

    select * from source
    {{ cdp.latest_per_key('id', '_fivetran_synced') }}

),

renamed as (

    select
        id as product_id,
        name as product_name,
        description,
        type as product_type,
        active as is_active,
        shippable as is_shippable,
        statement_descriptor,
        unit_label,
        url,
        cast(created as {{ dbt.type_timestamp() }}) as created_at,
        cast(updated as {{ dbt.type_timestamp() }}) as updated_at,
        cast(_fivetran_synced as {{ dbt.type_timestamp() }}) as synced_at

    from latest
    where
        not coalesce(is_deleted, false)
        and coalesce(livemode, true)

)

select * from renamed
