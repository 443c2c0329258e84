-- Indentation rules off for this model: the incremental branch adds CTEs in Jinja blocks,
-- which the linter's indentation rules cannot lay out.
-- noqa: disable=LT02
{{ config(
    materialized='incremental',
    unique_key='anonymous_id',
    incremental_strategy='delete+insert',
    on_schema_change='fail',
    cluster_by=['to_date(started_at)'],
    pre_hook="{{ cdp.sessions_delete_vanished_devices() }}",
) }}

{#
    Web and app sessions: one row per session, a run of one device's Segment calls by one
    profile with no gap longer than var('session_timeout_minutes', 30) (the usual
    convention). A device that changes hands starts a new session. Calls without a profile
    (a device nobody ever logged in on) form sessions too, with profile_id null. Traits and
    the analytics marts read sessions from here.

    Where a session came from (landing path, referrer, UTM, device) is read from its landing
    page view, or from its first call when it has no page view (an app session). Only those
    calls' properties are parsed: parsing every call's JSON is most of the cost at scale.

    Incremental, by device (docs/analytics.md, "Sessions"): a build re-sessionizes every call
    of the devices whose calls differ from what the stored sessions hold, and replaces those
    devices' sessions (delete+insert on anonymous_id). A device differs when, for one of its
    profiles (or for its calls without one), the number of calls, the first or the last call
    time differs from the stored sessions' sum of event_count, min(started_at) and
    max(ended_at). That catches new calls (which may extend the last session), late calls
    inside the stored history, calls purged by retention or a forget request, and calls
    whose profile changed because identity merged, split or moved a device between builds.
    Devices with no call left are deleted by the pre-hook. A device whose stored channel no
    longer follows var('analytics_channel_rules') is redone too, so a rule change needs no
    full refresh; a new var('session_timeout_minutes') does (`--full-refresh -s sessions`).
#}
{%- set timeout = var('session_timeout_minutes', 30) -%}

with

-- One import per use: DuckDB materialises a CTE read more than once, and this one is every
-- event with its properties.
segment_calls as (

    select * from {{ ref('profile_events') }}
    where source = 'segment' and anonymous_id is not null

),

order_events_all as (

    select * from {{ ref('profile_events') }}
    where source = 'segment' and event_name = 'Order Completed'

),

landing_candidates_all as (

    select * from {{ ref('profile_events') }}
    where source = 'segment' and anonymous_id is not null

),

{% if is_incremental() %}

fingerprint_calls as (

    select * from {{ ref('profile_events') }}
    where source = 'segment' and anonymous_id is not null

),

stored_sessions as (

    select * from {{ this }}

),

-- What each device's calls are now, per profile ('' stands for "no profile").
current_fingerprints as (

    select
        anonymous_id,
        coalesce(profile_id, '') as profile_key,
        count(*) as event_count,
        min(occurred_at) as first_at,
        max(occurred_at) as last_at
    from fingerprint_calls
    group by anonymous_id, coalesce(profile_id, '')

),

-- The same, from the sessions stored by the last build.
stored_fingerprints as (

    select
        anonymous_id,
        coalesce(profile_id, '') as profile_key,
        sum(event_count) as event_count,
        min(started_at) as first_at,
        max(ended_at) as last_at
    from stored_sessions
    group by anonymous_id, coalesce(profile_id, '')

),

changed_devices as (

    select coalesce(c.anonymous_id, s.anonymous_id) as anonymous_id
    from current_fingerprints as c
    full outer join stored_fingerprints as s
        on c.anonymous_id = s.anonymous_id and c.profile_key = s.profile_key
    where
        c.anonymous_id is null
        or s.anonymous_id is null
        or c.event_count != s.event_count
        or c.first_at != s.first_at
        or c.last_at != s.last_at

    union

    select anonymous_id
    from stored_sessions
    where channel != {{ cdp.marketing_channel('utm_source', 'utm_medium', 'referrer') }}

),

calls_to_sessionize as (

    select c.*
    from segment_calls as c
    inner join changed_devices as d on c.anonymous_id = d.anonymous_id

),

-- Only the changed devices' orders and landing pages are read (their properties are parsed).
order_events as (

    select e.*
    from order_events_all as e
    where e.anonymous_id in (select d.anonymous_id from changed_devices as d)

),

landing_candidates as (

    select e.*
    from landing_candidates_all as e
    where e.anonymous_id in (select d.anonymous_id from changed_devices as d)

),

{% else %}

calls_to_sessionize as (

    select * from segment_calls

),

order_events as (

    select * from order_events_all

),

landing_candidates as (

    select * from landing_candidates_all

),

{% endif %}

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
    from calls_to_sessionize

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

grouped as (

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
    from grouped as s
    inner join landing_candidates as e on s.landing_event_id = e.event_id

),

final as (

    select
        {{ cdp.surrogate_key(['s.anonymous_id', 's.profile_id', 's.session_number']) }} as session_id,
        s.profile_id,
        s.anonymous_id,
        cast(s.session_number as bigint) as session_number,
        s.started_at,
        s.ended_at,
        cast(s.started_at as date) as session_date,
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
    from grouped as s
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
