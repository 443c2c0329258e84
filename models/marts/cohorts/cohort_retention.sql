{#
    Monthly acquisition cohorts: one row per cohort month and month since acquisition, from
    month 0 (the month of acquisition) to the month of cdp.as_of(), with zero rows kept so
    every cohort has a full line in a heatmap.

    Acquisition (var('cohort_acquisition')): `first_order` (default), the month of the
    profile's first purchase; or `first_seen`, the month of its first activity. A purchase
    is a Shopify order that is not refunded or voided (the purchase of the trait catalog:
    order_count, lifetime_value), revenue its total_price. Activity is any event of the
    sources in var('cohort_activity_sources') (default: segment and shopify, things the
    person did on the site, in the app or at checkout; emails received are not activity).
    Events after cdp.as_of() are ignored. Cohort members only: with first_order, a profile
    that never ordered is in no cohort.
#}
{%- set acquisition = var('cohort_acquisition', 'first_order') -%}
{%- if acquisition not in ['first_order', 'first_seen'] -%}
    {{ exceptions.raise_compiler_error("var('cohort_acquisition') is '" ~ acquisition
        ~ "': use first_order (month of the first purchase) or first_seen (month of the first activity)") }}
{%- endif -%}
{%- set sources = var('cohort_activity_sources', ['segment', 'shopify']) -%}
{%- if sources is string or sources is not iterable or sources | length == 0 -%}
    {{ exceptions.raise_compiler_error("var('cohort_activity_sources') must be a list of event sources, e.g. "
        ~ "[segment, shopify]; got " ~ sources) }}
{%- endif -%}
{%- set source_literals = [] -%}
{%- for source in sources -%}{%- do source_literals.append(cdp.sql_string(source)) -%}{%- endfor %}

with

activity_events as (

    select * from {{ ref('profile_events') }}
    where
        profile_id is not null
        and occurred_at <= {{ cdp.as_of() }}
        and source in ({{ source_literals | join(', ') }})

),

order_events as (

    select * from {{ ref('profile_events') }}
    where
        profile_id is not null
        and occurred_at <= {{ cdp.as_of() }}
        and source = 'shopify'
        and event_name = 'Order Placed'

),

purchases as (

    select
        profile_id,
        occurred_at,
        {{ dbt.safe_cast(cdp.json_get_string('properties', 'total_price'), dbt.type_numeric()) }} as revenue
    from order_events
    where coalesce({{ cdp.json_get_string('properties', 'financial_status') }}, '') not in ('refunded', 'voided')

),

acquisitions as (

    select
        profile_id,
        cast({{ dbt.date_trunc('month', 'min(occurred_at)') }} as date) as cohort_month
    from {{ 'purchases' if acquisition == 'first_order' else 'activity_events' }}
    group by profile_id

),

cohorts as (

    select
        cohort_month,
        count(*) as cohort_size
    from acquisitions
    group by cohort_month

),

-- Month 0 of the earliest cohort up to the month of the as-of moment (at most 50 years).
month_numbers as (

    {{ dbt.generate_series(600) }}

),

first_cohort as (

    select min(cohort_month) as first_month
    from cohorts

),

months as (

    select cast({{ dbt.dateadd('month', 'n.generated_number - 1', 'f.first_month') }} as date) as month_start
    from month_numbers as n
    cross join first_cohort as f
    where {{ dbt.dateadd('month', 'n.generated_number - 1', 'f.first_month') }}
        <= {{ dbt.date_trunc('month', cdp.as_of()) }}

),

active_months as (

    select distinct
        profile_id,
        cast({{ dbt.date_trunc('month', 'occurred_at') }} as date) as activity_month
    from activity_events

),

purchase_months as (

    select
        profile_id,
        cast({{ dbt.date_trunc('month', 'occurred_at') }} as date) as activity_month,
        sum(revenue) as revenue
    from purchases
    group by profile_id, cast({{ dbt.date_trunc('month', 'occurred_at') }} as date)

),

member_activity as (

    select
        a.cohort_month,
        m.activity_month,
        count(*) as active_profiles
    from acquisitions as a
    inner join active_months as m on a.profile_id = m.profile_id
    where m.activity_month >= a.cohort_month
    group by a.cohort_month, m.activity_month

),

member_purchases as (

    select
        a.cohort_month,
        p.activity_month,
        count(*) as purchasing_profiles,
        sum(p.revenue) as revenue
    from acquisitions as a
    inner join purchase_months as p on a.profile_id = p.profile_id
    where p.activity_month >= a.cohort_month
    group by a.cohort_month, p.activity_month

),

grid as (

    select
        c.cohort_month,
        c.cohort_size,
        m.month_start as activity_month
    from cohorts as c
    inner join months as m on c.cohort_month <= m.month_start

),

final as (

    select
        g.cohort_month,
        cast(
            {{ dbt.datediff('g.cohort_month', 'g.activity_month', 'month') }} as integer  -- noqa: LT05
        ) as months_since_acquisition,
        g.activity_month,
        cast(g.cohort_size as bigint) as cohort_size,
        cast(coalesce(a.active_profiles, 0) as bigint) as active_profiles,
        cast(coalesce(p.purchasing_profiles, 0) as bigint) as purchasing_profiles,
        cast(coalesce(p.revenue, 0) as decimal(18, 2)) as revenue,
        cast(coalesce(a.active_profiles, 0) as double) / g.cohort_size as active_rate,
        cast(coalesce(p.purchasing_profiles, 0) as double) / g.cohort_size as purchasing_rate,
        cast(coalesce(p.revenue, 0) / g.cohort_size as decimal(18, 2)) as revenue_per_profile
    from grid as g
    left join member_activity as a on g.cohort_month = a.cohort_month and g.activity_month = a.activity_month
    left join member_purchases as p on g.cohort_month = p.cohort_month and g.activity_month = p.activity_month

)

select * from final
