{#
    Web and app sessions: one row per session, a run of one device's Segment calls by one
    profile with no gap longer than var('session_timeout_minutes', 30) (the usual
    convention). A device that changes hands starts a new session. Calls without a profile
    (a device nobody ever logged in on) form sessions too, with profile_id null. Traits and
    the analytics marts read sessions from here.
#}
{%- set timeout = var('session_timeout_minutes', 30) -%}
{%- set attribution = {} -%}
{%- for key in ['path', 'referrer', 'utm_source', 'utm_medium', 'utm_campaign', 'device'] -%}
    {%- do attribution.update({key: cdp.json_get_string('properties', key)}) -%}
{%- endfor -%}

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
        -- Where the session came from: the first call (page view) that carries each value. The
        -- order is null where the value is, because Snowflake's MIN_BY returns the first row's
        -- value even when that is null, where DuckDB's skips rows with a null value.
        min_by(
            {{ attribution.path }},
            case when event_name = 'Page Viewed' and {{ attribution.path }} is not null then occurred_at end
        ) as landing_path,
        min_by(
            {{ attribution.referrer }},
            case when event_name = 'Page Viewed' and {{ attribution.referrer }} is not null then occurred_at end
        ) as referrer,
        min_by(
            {{ attribution.utm_source }}, case when {{ attribution.utm_source }} is not null then occurred_at end
        ) as utm_source,
        min_by(
            {{ attribution.utm_medium }}, case when {{ attribution.utm_medium }} is not null then occurred_at end
        ) as utm_medium,
        min_by(
            {{ attribution.utm_campaign }}, case when {{ attribution.utm_campaign }} is not null then occurred_at end
        ) as utm_campaign,
        min_by(
            {{ attribution.device }},
            case when event_name = 'Page Viewed' and {{ attribution.device }} is not null then occurred_at end
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
