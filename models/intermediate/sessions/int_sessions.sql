{#
    Web and app sessions: one row per session, a run of one device's Segment calls by one
    profile with no gap longer than var('session_timeout_minutes', 30) (the usual
    convention). A device that changes hands starts a new session. Calls without a profile
    (a device nobody ever logged in on) form sessions too, with profile_id null. Traits and
    the analytics marts read sessions from here.
#}
{%- set timeout = var('session_timeout_minutes', 30) -%}

with

events as (

    select * from {{ ref('profile_events') }}

),

calls as (

    select
        event_id,
        profile_id,
        anonymous_id,
        occurred_at,
        event_name,
        properties,
        lag(occurred_at) over (
            partition by anonymous_id, profile_id order by occurred_at, event_id
        ) as previous_at
    from events
    where source = 'segment' and anonymous_id is not null

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

final as (

    select
        {{ cdp.surrogate_key(['anonymous_id', 'profile_id', 'session_number']) }} as session_id,
        profile_id,
        anonymous_id,
        session_number,
        min(occurred_at) as started_at,
        max(occurred_at) as ended_at,
        count(*) as event_count,
        count(case when event_name = 'Page Viewed' then 1 end) as page_views,
        count(case when event_name = 'Screen Viewed' then 1 end) as screen_views,
        -- The session's first call says where it came from.
        min_by(
            {{ cdp.json_get_string('properties', 'path') }}, case when event_name = 'Page Viewed' then occurred_at end
        ) as landing_path,
        min_by(
            {{ cdp.json_get_string('properties', 'referrer') }},
            case when event_name = 'Page Viewed' then occurred_at end
        ) as referrer,
        min_by({{ cdp.json_get_string('properties', 'utm_source') }}, occurred_at) as utm_source,
        min_by({{ cdp.json_get_string('properties', 'utm_medium') }}, occurred_at) as utm_medium,
        min_by({{ cdp.json_get_string('properties', 'utm_campaign') }}, occurred_at) as utm_campaign,
        min_by(
            {{ cdp.json_get_string('properties', 'device') }}, case when event_name = 'Page Viewed' then occurred_at end
        ) as device_type,
        count(case when event_name = 'Order Completed' then 1 end) > 0 as is_converted,
        coalesce(sum(case
            when event_name = 'Order Completed'
                then {{ dbt.safe_cast(cdp.json_get_string('properties', 'revenue'), dbt.type_float()) }}
        end), 0) as revenue
    from numbered
    group by anonymous_id, profile_id, session_number

)

select * from final
