with

source as (

    select * from {{ source('segment', 'pages') }}

),

-- Segment can deliver a message twice; the message id identifies it.
deduplicated as (

    select * from source
    {{ cdp.latest_per_key('id', 'uuid_ts') }}

),

renamed as (

    select
        {{ cdp.segment_event_columns('page_view_id', page_context=false) }},
        name as page_name,
        category as page_category,
        path as page_path,
        url as page_url,
        title as page_title,
        referrer as page_referrer,
        search as page_search

    from deduplicated

)

select * from renamed
