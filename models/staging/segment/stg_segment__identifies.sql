with

source as (

    select * from {{ source('segment', 'identifies') }}

),

-- Segment can deliver a message twice; the message id identifies it.
deduplicated as (

    select * from source
    {{ cdp.latest_per_key('id', 'uuid_ts') }}

),

renamed as (

    select
        {{ cdp.segment_event_columns('identify_id') }},
        email,
        first_name,
        last_name,
        phone,
        address_street,
        address_city,
        address_state,
        address_postal_code,
        address_country,
        cast(created_at as {{ dbt.type_timestamp() }}) as user_created_at

    from deduplicated

)

select * from renamed
