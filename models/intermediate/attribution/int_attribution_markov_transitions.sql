{#
    Transition counts of the first-order Markov chain behind data-driven attribution: one
    row per (from_state, to_state) with the number of journeys that made that step. States
    are the channels plus '(start)', '(conversion)' and '(null)'.

    Journeys:
    - converting: each order with at least one real touch, its touches in order
      (int_attribution_touches), then '(conversion)';
    - not converting: a visitor's (profile's, or for sessions nobody logged in on, device's)
      sessions that are no order's touch, cut where one of the visitor's touch sessions comes
      between them or where more than var('attribution_lookback_days') days pass, then '(null)'.

    A channel followed by itself is one step, not two: self-transitions change no
    absorption probability (the other steps out of the channel keep their proportions)
    and only slow the matrix powers down.
#}
{%- set lookback = var('attribution_lookback_days', 30) %}

with

touches as (

    select * from {{ ref('int_attribution_touches') }}
    where not is_synthetic_touch

),

sessions as (

    select * from {{ ref('int_attribution_sessions') }}

),

touch_sessions as (

    select distinct session_id from touches

),

converting_steps as (

    select
        order_id as journey_id,
        touch_number as step_number,
        touch_count as step_count,
        channel,
        '(conversion)' as outcome
    from touches

),

visitor_sessions as (

    select
        coalesce('profile:' || s.profile_id, 'device:' || s.anonymous_id) as visitor_id,
        s.session_id,
        s.started_at,
        s.channel,
        t.session_id is not null as is_touch
    from sessions as s
    left join touch_sessions as t on s.session_id = t.session_id

),

-- Touch sessions seen so far: non-touch sessions between the same two touches share a run.
runs as (

    select
        *,
        sum(case when is_touch then 1 else 0 end) over (
            partition by visitor_id order by started_at, session_id rows between unbounded preceding and current row
        ) as run_number
    from visitor_sessions

),

gaps as (

    select
        *,
        lag(started_at) over (partition by visitor_id, run_number order by started_at, session_id) as previous_at
    from runs
    where not is_touch

),

journeys as (

    select
        *,
        sum(
            case
                when previous_at is null or started_at > {{ dbt.dateadd('day', lookback, 'previous_at') }} then 1
                else 0
            end
        ) over (
            partition by visitor_id, run_number order by started_at, session_id
            rows between unbounded preceding and current row
        ) as journey_number
    from gaps

),

null_steps as (

    select
        visitor_id || '|' || cast(run_number as {{ dbt.type_string() }}) || '|'
        || cast(journey_number as {{ dbt.type_string() }}) as journey_id,
        row_number() over (
            partition by visitor_id, run_number, journey_number order by started_at, session_id
        ) as step_number,
        count(*) over (partition by visitor_id, run_number, journey_number) as step_count,
        channel,
        '(null)' as outcome
    from journeys

),

steps as (

    select * from converting_steps
    union all
    select * from null_steps

),

with_next as (

    select
        journey_id,
        step_number,
        channel,
        lag(channel) over (partition by journey_id order by step_number) as previous_channel,
        case when step_number = step_count then outcome end as next_absorbing
    from steps

),

pairs as (

    select
        coalesce(previous_channel, '(start)') as from_state,
        channel as to_state
    from with_next
    where previous_channel is null or previous_channel != channel

    union all

    select
        channel as from_state,
        next_absorbing as to_state
    from with_next
    where next_absorbing is not null

),

final as (

    select
        from_state,
        to_state,
        count(*) as transitions
    from pairs
    group by from_state, to_state

)

select * from final
