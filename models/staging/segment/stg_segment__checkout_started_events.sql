with

source as (

    select * from {{ source('segment', 'checkout_started') }}

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
        currency,
        cast(value as {{ dbt.type_numeric() }}) as checkout_value,
        cast(revenue as {{ dbt.type_numeric() }}) as revenue,
        cast(shipping as {{ dbt.type_numeric() }}) as shipping,
        cast(tax as {{ dbt.type_numeric() }}) as tax,
        cast(discount as {{ dbt.type_numeric() }}) as discount,
        coupon,
        products as products_json

    from deduplicated

)

select * from renamed
