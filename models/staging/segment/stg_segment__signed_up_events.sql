with

source as (

    select * from {{ source('segment', 'signed_up') }}

),

-- Segment can deliver a message twice; the message id identifies it.
deduplicated as (

    select * from source
    {{ cdp.latest_per_key('id', 'uuid_ts') }}

),

renamed as (

    select
        {{ cdp.segment_event_columns('event_id') }},
        method as signup_method

    from deduplicated

)

select * from renamed
