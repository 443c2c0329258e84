with

source as (

    select * from {{ source('segment', 'order_completed') }}

),

-- Segment can deliver a message twice; the message id identifies it.
deduplicated as (

    select * from source
    {{ cdp.latest_per_key('id', 'uuid_ts') }}

),

renamed as (

    select
        {{ cdp.segment_event_columns('event_id') }},
        order_id,
        checkout_id,
        currency,
        cast(subtotal as {{ dbt.type_numeric() }}) as subtotal,
        cast(total as {{ dbt.type_numeric() }}) as total,
        cast(revenue as {{ dbt.type_numeric() }}) as revenue,
        cast(shipping as {{ dbt.type_numeric() }}) as shipping,
        cast(tax as {{ dbt.type_numeric() }}) as tax,
        cast(discount as {{ dbt.type_numeric() }}) as discount,
        coupon,
        products as products_json

    from deduplicated

)

select * from renamed
