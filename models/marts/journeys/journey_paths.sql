-- The interface names a column `path`, a DuckDB keyword (quoting is not needed on either engine).
-- noqa: disable=RF04
{#
    The most common ways to a first purchase: one row per path, the ordered channels of the
    sessions a profile had up to and including the session of its first order (the whole
    history, not only the attribution lookback), joined with ' > '. With
    var('journey_collapse_repeats') (default true) a channel repeated in consecutive sessions
    is shown once ("email > email > direct" is "email > direct"), so paths group. Buyers with
    no session before their first order have the path var('attribution_untouched_channel')
    and touch_count 0. path_rank 1 is the most common path.
#}
{%- set collapse = var('journey_collapse_repeats', true) %}

with

orders as (

    select * from {{ ref('int_attribution_orders') }}
    where is_first_order

),

sessions as (

    select * from {{ ref('int_attribution_sessions') }}
    where profile_id is not null

),

journey_sessions as (

    select
        o.profile_id,
        o.ordered_at,
        s.session_id,
        s.started_at,
        s.channel,
        lag(s.channel) over (partition by o.profile_id order by s.started_at, s.session_id) as previous_channel
    from orders as o
    inner join sessions as s
        on o.profile_id = s.profile_id and o.ordered_at >= s.started_at

),

path_steps as (

    select *
    from journey_sessions
    where {{ 'previous_channel is null or previous_channel != channel' if collapse else 'true' }}

),

first_sessions as (

    select
        profile_id,
        min(started_at) as first_session_at
    from journey_sessions
    group by profile_id

),

journeys as (

    select
        p.profile_id,
        {{ dbt.listagg('p.channel', "' > '", 'order by p.started_at, p.session_id') }} as path,
        count(*) as touch_count,
        cast(
            {{ dbt.datediff('f.first_session_at', 'p.ordered_at', 'second') | trim }} as double
        ) / 86400 as days_to_first_purchase
    from path_steps as p
    inner join first_sessions as f on p.profile_id = f.profile_id
    group by p.profile_id, p.ordered_at, f.first_session_at

),

buyers as (

    select
        o.profile_id,
        coalesce(j.path, {{ cdp.sql_string(var('attribution_untouched_channel', 'unknown')) }}) as path,
        coalesce(j.touch_count, 0) as touch_count,
        j.days_to_first_purchase
    from orders as o
    left join journeys as j on o.profile_id = j.profile_id

),

paths as (

    select
        path,
        touch_count,
        count(*) as converted_profiles,
        median(days_to_first_purchase) as median_days_to_first_purchase
    from buyers
    group by path, touch_count

),

final as (

    select
        path,
        cast(touch_count as {{ dbt.type_int() }}) as touch_count,
        converted_profiles,
        cast(converted_profiles as double) / sum(converted_profiles) over () as share_of_converters,
        cast(median_days_to_first_purchase as double) as median_days_to_first_purchase,
        cast(row_number() over (order by converted_profiles desc, path asc) as {{ dbt.type_int() }}) as path_rank
    from paths

)

select * from final
