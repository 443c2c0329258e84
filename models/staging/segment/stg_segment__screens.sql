with

source as (

    select * from {{ source('segment', 'screens') }}

),

-- Segment can deliver a message twice; the message id identifies it.
deduplicated as (

    select * from source
    {{ cdp.latest_per_key('id', 'uuid_ts') }}

),

renamed as (

    select
        {{ cdp.segment_event_columns('screen_view_id') }},
        name as screen_name

    from deduplicated

)

select * from renamed
