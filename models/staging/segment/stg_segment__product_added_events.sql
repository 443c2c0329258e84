with

source as (

    select * from {{ source('segment', 'product_added') }}

),

-- Segment can deliver a message twice; the message id identifies it.
deduplicated as (

    select * from source
    {{ cdp.latest_per_key('id', 'uuid_ts') }}

),

renamed as (

    select
        {{ cdp.segment_event_columns('event_id') }},
        cart_id,
        product_id,
        sku,
        category as product_category,
        name as product_name,
        brand,
        variant,
        cast(price as {{ dbt.type_numeric() }}) as price,
        cast(quantity as {{ dbt.type_int() }}) as quantity,
        cast(position as {{ dbt.type_int() }}) as list_position,
        url as product_url,
        image_url

    from deduplicated

)

select * from renamed
