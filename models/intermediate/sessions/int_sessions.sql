{#
    Web and app sessions: one row per session, a run of one device's Segment calls by one
    profile with no gap longer than var('session_timeout_minutes', 30) (the usual
    convention). A device that changes hands starts a new session. Calls without a profile
    (a device nobody ever logged in on) form sessions too, with profile_id null. Traits and
    the analytics marts read sessions from here.

    Where a session came from (landing path, referrer, UTM, device) is read from its landing
    page view, or from its first call when it has no page view (an app session). Only those
    calls' properties are parsed: parsing every call's JSON is most of the cost at scale.
#}
{%- set timeout = var('session_timeout_minutes', 30) -%}

with

-- One import per use: DuckDB materialises a CTE read more than once, and this one is every
-- event with its properties.
segment_calls as (

    select * from {{ ref('profile_events') }}
    where source = 'segment' and anonymous_id is not null

),

order_events as (

    select * from {{ ref('profile_events') }}
    where source = 'segment' and event_name = 'Order Completed'

),

landing_candidates as (

    select * from {{ ref('profile_events') }}
    where source = 'segment' and anonymous_id is not null

),

calls as (

    select
        event_id,
        profile_id,
        anonymous_id,
        occurred_at,
        event_name,
        lag(occurred_at) over (
            partition by anonymous_id, profile_id order by occurred_at, event_id
        ) as previous_at
    from segment_calls

),

marked as (

    select
        *,
        case
            when previous_at is null or occurred_at > {{ dbt.dateadd('minute', timeout, 'previous_at') }} then 1
            else 0
        end as is_session_start
    from calls

),

numbered as (

    select
        *,
        sum(is_session_start) over (
            partition by anonymous_id, profile_id
            order by occurred_at, event_id rows between unbounded preceding and current row
        ) as session_number
    from marked

),

sessions as (

    select
        anonymous_id,
        profile_id,
        session_number,
        min(occurred_at) as started_at,
        max(occurred_at) as ended_at,
        count(*) as event_count,
        count(case when event_name = 'Page Viewed' then 1 end) as page_views,
        count(case when event_name = 'Screen Viewed' then 1 end) as screen_views,
        count(case when event_name = 'Order Completed' then 1 end) as orders,
        -- (event ids are never null, so MIN_BY means the same on every engine)
        coalesce(
            min_by(event_id, case when event_name = 'Page Viewed' then occurred_at end),
            min_by(event_id, occurred_at)
        ) as landing_event_id
    from numbered
    group by anonymous_id, profile_id, session_number

),

order_revenue as (

    select
        n.anonymous_id,
        n.profile_id,
        n.session_number,
        sum({{ dbt.safe_cast(cdp.json_get_string('e.properties', 'revenue'), dbt.type_float()) }}) as revenue
    from numbered as n
    inner join order_events as e on n.event_id = e.event_id
    where n.event_name = 'Order Completed'
    group by n.anonymous_id, n.profile_id, n.session_number

),

landings as (

    select
        s.anonymous_id,
        s.profile_id,
        s.session_number,
        {{ cdp.json_get_string('e.properties', 'path') }} as landing_path,
        {{ cdp.json_get_string('e.properties', 'referrer') }} as referrer,
        {{ cdp.json_get_string('e.properties', 'utm_source') }} as utm_source,
        {{ cdp.json_get_string('e.properties', 'utm_medium') }} as utm_medium,
        {{ cdp.json_get_string('e.properties', 'utm_campaign') }} as utm_campaign,
        {{ cdp.json_get_string('e.properties', 'device') }} as device_type
    from sessions as s
    inner join landing_candidates as e on s.landing_event_id = e.event_id

),

final as (

    select
        {{ cdp.surrogate_key(['s.anonymous_id', 's.profile_id', 's.session_number']) }} as session_id,
        s.profile_id,
        s.anonymous_id,
        s.session_number,
        s.started_at,
        s.ended_at,
        s.event_count,
        s.page_views,
        s.screen_views,
        l.landing_path,
        l.referrer,
        l.utm_source,
        l.utm_medium,
        l.utm_campaign,
        l.device_type,
        {{ cdp.marketing_channel('l.utm_source', 'l.utm_medium', 'l.referrer') }} as channel,
        s.orders > 0 as is_converted,
        coalesce(r.revenue, 0) as revenue
    from sessions as s
    left join landings as l
        on
            s.anonymous_id = l.anonymous_id
            and s.profile_id is not distinct from l.profile_id
            and s.session_number = l.session_number
    left join order_revenue as r
        on
            s.anonymous_id = r.anonymous_id
            and s.profile_id is not distinct from r.profile_id
            and s.session_number = r.session_number

)

select * from final
