with

source as (

    select * from {{ source('segment', 'tracks') }}

),

-- Segment can deliver a message twice; the message id identifies it.
deduplicated as (

    select * from source
    {{ cdp.latest_per_key('id', 'uuid_ts') }}

),

renamed as (

    select
        {{ cdp.segment_event_columns('event_id') }},
        event as event_name,
        event_text

    from deduplicated

)

select * from renamed
