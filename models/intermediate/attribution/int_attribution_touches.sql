{#
    The touches of each order: one row per order and touch. An order's touches are its
    profile's sessions (int_attribution_sessions) that started at most
    var('attribution_lookback_days', 30) days before it and no later than the order, so the
    session the order was placed in is the last touch. An order with no such session (placed
    in a shop, by phone, or by a customer whose sessions were on devices nobody logged in
    on) gets one synthetic touch of channel var('attribution_untouched_channel') with no
    session: every order is credited in full under every model.

    lead_touch_number is the touch W-shaped attribution treats as the lead creation: the
    session in which the profile made its first var('attribution_lead_event') call ("Signed
    Up") when that session is one of the order's touches, else the middle touch (touch
    floor((n + 1) / 2)) of an order with three or more touches, else none.
#}
{%- set lookback = var('attribution_lookback_days', 30) -%}
{%- if lookback is not number or lookback < 0 -%}
    {{ exceptions.raise_compiler_error("var('attribution_lookback_days') in dbt_project.yml: expected a number "
        ~ "of days >= 0, got " ~ lookback) }}
{%- endif %}

with

orders as (

    select * from {{ ref('int_attribution_orders') }}

),

sessions as (

    select * from {{ ref('int_attribution_sessions') }}

),

lead_events as (

    select * from {{ ref('profile_events') }}
    where
        source = 'segment'
        and event_name = {{ cdp.sql_string(var('attribution_lead_event', 'Signed Up')) }}
        and profile_id is not null

),

first_lead_events as (

    select
        profile_id,
        anonymous_id,
        occurred_at
    from lead_events
    qualify row_number() over (partition by profile_id order by occurred_at, event_id) = 1

),

-- Sessions are runs of one device's calls by one profile, so device, profile and time
-- name the one session the call was made in.
lead_sessions as (

    select
        s.profile_id,
        s.session_id
    from first_lead_events as e
    inner join sessions as s
        on
            e.profile_id = s.profile_id
            and e.anonymous_id = s.anonymous_id
            and e.occurred_at >= s.started_at
            and e.occurred_at <= s.ended_at

),

windowed as (

    select
        o.order_id,
        o.profile_id,
        o.ordered_at,
        o.order_revenue,
        s.session_id,
        s.channel,
        s.started_at as touched_at
    from orders as o
    inner join sessions as s
        on
            o.profile_id = s.profile_id
            and o.ordered_at >= s.started_at
            and {{ dbt.dateadd('day', -lookback, 'o.ordered_at') }} <= s.started_at

),

numbered as (

    select
        w.*,
        row_number() over (partition by w.order_id order by w.touched_at, w.session_id) as touch_number,
        count(*) over (partition by w.order_id) as touch_count,
        l.session_id is not null as is_lead_session
    from windowed as w
    left join lead_sessions as l on w.session_id = l.session_id

),

lead_touches as (

    select
        order_id,
        max(case when is_lead_session then touch_number end) as lead_session_touch_number
    from numbered
    group by order_id

),

touches as (

    select
        n.order_id,
        n.profile_id,
        n.ordered_at,
        n.order_revenue,
        n.session_id,
        n.channel,
        n.touched_at,
        n.touch_number,
        n.touch_count,
        n.is_lead_session,
        coalesce(
            l.lead_session_touch_number,
            case when n.touch_count >= 3 then floor((n.touch_count + 1) / 2) end
        ) as lead_touch_number,
        false as is_synthetic_touch
    from numbered as n
    inner join lead_touches as l on n.order_id = l.order_id

),

untouched as (

    select
        o.order_id,
        o.profile_id,
        o.ordered_at,
        o.order_revenue,
        cast(null as {{ dbt.type_string() }}) as session_id,
        {{ cdp.sql_string(var('attribution_untouched_channel', 'unknown')) }} as channel,
        cast(null as {{ dbt.type_timestamp() }}) as touched_at,
        1 as touch_number,
        1 as touch_count,
        false as is_lead_session,
        cast(null as {{ dbt.type_int() }}) as lead_touch_number,
        true as is_synthetic_touch
    from orders as o
    left join lead_touches as l on o.order_id = l.order_id
    where l.order_id is null

),

unioned as (

    select * from touches
    union all
    select * from untouched

),

final as (

    select
        order_id,
        profile_id,
        ordered_at,
        order_revenue,
        session_id,
        channel,
        touched_at,
        cast(touch_number as {{ dbt.type_int() }}) as touch_number,
        cast(touch_count as {{ dbt.type_int() }}) as touch_count,
        cast(lead_touch_number as {{ dbt.type_int() }}) as lead_touch_number,
        -- Fractional days, so time decay halves smoothly rather than once a day.
        coalesce(
            cast({{ dbt.datediff('touched_at', 'ordered_at', 'second') | trim }} as double) / 86400, 0
        ) as days_before_order,
        is_lead_session,
        is_synthetic_touch
    from unioned

)

select * from final
