{#
    Customer health: one row per profile, healthy, warning or critical, with the reasons.
    Each signal that exists is checked against its thresholds (vars health_* in
    dbt_project.yml); the status is the worst any signal reaches, so one critical signal
    makes a critical profile however healthy the rest looks.

    Signals:
    - predicted churn risk (0-100, the probability of no order in the next 90 days), when
      the predictions asset has scored the profile;
    - how overdue the next order is: days since the last order over the profile's usual
      gap between orders (first to last order over orders - 1); a one-order customer has
      no gap of their own and is measured against the median gap of repeat customers;
    - support tickets in the last 90 days (Zendesk);
    - failed payments (Stripe charges) in the last health_failed_payment_window_days, and a
      subscription that is past due or unpaid.
    Profiles without orders or subscriptions (prospects) have only the signals that apply
    to them; is_customer tells them apart.
#}
{%- set churn_warning = var('health_churn_risk_warning', 75) -%}
{%- set churn_critical = var('health_churn_risk_critical', 90) -%}
{%- set overdue_warning = var('health_overdue_ratio_warning', 1.5) -%}
{%- set overdue_critical = var('health_overdue_ratio_critical', 3.0) -%}
{%- set min_gap = var('health_min_purchase_interval_days', 7) -%}
{%- set tickets_warning = var('health_support_tickets_warning', 2) -%}
{%- set tickets_critical = var('health_support_tickets_critical', 4) -%}
{%- set payment_window = var('health_failed_payment_window_days', 30) -%}
{%- set payments_warning = var('health_failed_payments_warning', 1) -%}
{%- set payments_critical = var('health_failed_payments_critical', 2) -%}
{%- set float = 'double' -%}
{%- set text = dbt.type_string() -%}
{%- set gap_seconds = 'cast(' ~ dbt.datediff('first_order_at', 'last_order_at', 'second') ~ ' as double)' -%}

with

profiles as (

    select * from {{ ref('profiles') }}

),

traits as (

    select * from {{ ref('profile_traits') }}

),

scores as (

    select * from {{ ref('stg_predictions__profile_scores') }}

),

charges as (

    select * from {{ ref('stg_stripe__charges') }}

),

record_profiles as (

    select * from {{ ref('int_identity_record_profiles') }}

),

failed_payments as (

    select
        r.profile_id,
        count(*) as failed_payments
    from charges as c
    inner join record_profiles as r on 'stripe_customer_id:' || c.customer_id = r.record_key
    where
        c.status = 'failed'
        and c.created_at <= {{ cdp.as_of() }}
        and c.created_at > {{ dbt.dateadd('day', -payment_window, cdp.as_of()) }}
    group by r.profile_id

),

purchase_gaps as (

    select
        profile_id,
        order_count,
        days_since_last_order,
        case
            when order_count > 1 then {{ gap_seconds }} / 86400 / (order_count - 1)
        end as own_gap_days
    from traits
    where order_count > 0

),

typical_gap as (

    select percentile_cont(0.5) within group (order by own_gap_days) as median_gap_days
    from purchase_gaps
    where own_gap_days is not null

),

recency as (

    select
        g.profile_id,
        g.order_count,
        g.days_since_last_order,
        greatest(coalesce(g.own_gap_days, t.median_gap_days), {{ min_gap }}) as usual_gap_days,
        g.own_gap_days is null as is_gap_from_median
    from purchase_gaps as g
    cross join typical_gap as t

),

signals as (

    select
        p.profile_id,
        coalesce(tr.order_count, 0) > 0
        or coalesce(tr.subscription_status, 'none') != 'none' as is_customer,
        case when s.is_scored then s.churn_risk end as churn_risk,
        rc.days_since_last_order,
        round(rc.usual_gap_days, 1) as usual_purchase_interval_days,
        round(cast(rc.days_since_last_order as {{ float }}) / rc.usual_gap_days, 2) as overdue_ratio,
        coalesce(rc.is_gap_from_median, false) as is_interval_from_median,
        coalesce(tr.support_tickets_90d, 0) as support_tickets_90d,
        coalesce(fp.failed_payments, 0) as failed_payments,
        coalesce(tr.subscription_status, 'none') as subscription_status
    from profiles as p
    left join traits as tr on p.profile_id = tr.profile_id
    left join scores as s on p.profile_id = s.profile_id
    left join recency as rc on p.profile_id = rc.profile_id
    left join failed_payments as fp on p.profile_id = fp.profile_id

),

-- Each signal's level: 2 critical, 1 warning, 0 fine (or not measured).
levels as (

    select
        *,
        case
            when churn_risk >= {{ churn_critical }} then 2
            when churn_risk >= {{ churn_warning }} then 1
            else 0
        end as churn_level,
        case
            when overdue_ratio >= {{ overdue_critical }} then 2
            when overdue_ratio >= {{ overdue_warning }} then 1
            else 0
        end as recency_level,
        case
            when support_tickets_90d >= {{ tickets_critical }} then 2
            when support_tickets_90d >= {{ tickets_warning }} then 1
            else 0
        end as support_level,
        case
            when failed_payments >= {{ payments_critical }} then 2
            when failed_payments >= {{ payments_warning }} then 1
            when subscription_status in ('past_due', 'unpaid') then 1
            else 0
        end as payment_level
    from signals

),

-- One clause per signal that is not fine, each led by its separator, then joined and the
-- first separator cut. (CONCAT_WS is avoided: Snowflake's returns null as soon as one
-- argument is null.)
reasons as (

    select
        *,
        case churn_level
            when 2 then '; critical: churn risk ' || cast(churn_risk as {{ text }}) || ' >= {{ churn_critical }}'
            when 1 then '; warning: churn risk ' || cast(churn_risk as {{ text }}) || ' >= {{ churn_warning }}'
            else ''
        end as churn_reason,
        case
            when recency_level > 0
                then
                    case recency_level when 2 then '; critical: ' else '; warning: ' end
                    || 'last order ' || cast(days_since_last_order as {{ text }}) || ' days ago, '
                    || cast(overdue_ratio as {{ text }}) || 'x the '
                    || case when is_interval_from_median then 'median repeat customer''s' else 'usual' end
                    || ' interval of ' || cast(usual_purchase_interval_days as {{ text }}) || ' days'
            else ''
        end as recency_reason,
        case
            when support_level > 0
                then
                    case support_level when 2 then '; critical: ' else '; warning: ' end
                    || cast(support_tickets_90d as {{ text }}) || ' support tickets in 90 days'
            else ''
        end as support_reason,
        case
            when failed_payments >= {{ payments_warning }}
                then
                    case payment_level when 2 then '; critical: ' else '; warning: ' end
                    || cast(failed_payments as {{ text }}) || ' failed payments in {{ payment_window }} days'
            when payment_level > 0 then '; warning: subscription ' || subscription_status
            else ''
        end as payment_reason
    from levels

),

final as (

    select
        profile_id,
        case greatest(churn_level, recency_level, support_level, payment_level)
            when 2 then 'critical'
            when 1 then 'warning'
            else 'healthy'
        end as health_status,
        nullif(substring(churn_reason || recency_reason || support_reason || payment_reason, 3), '') as health_reasons,
        is_customer,
        churn_risk,
        days_since_last_order,
        usual_purchase_interval_days,
        overdue_ratio,
        support_tickets_90d,
        failed_payments as failed_payments_recent,
        subscription_status,
        churn_level,
        recency_level,
        support_level,
        payment_level,
        {{ cdp.as_of() }} as measured_at
    from reasons

)

select * from final
