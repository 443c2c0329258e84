-- Layout rules off for this model: its final select is a Jinja loop of union all branches.
-- noqa: disable=LT02,LT05
{#
    Multi-touch attribution: one row per order, model and touch. Every touch of every order
    (int_attribution_touches) appears under every model, with credit_share 0 where the
    model gives it none, and each order's credit shares add up to 1 under each model, so
    its attributed revenue adds up to its revenue. Each model weighs the touches, then the
    weights are divided by the order's total (which is how the edge cases of one and two
    touches come out); docs/attribution.md defines each model:

    first_touch, last_touch   all to touch 1 / touch n
    linear                    equal shares
    time_decay                2^(-days before the order / var('attribution_time_decay_half_life_days'))
    u_shaped                  40% first, 40% last, 20% split over the touches between
    w_shaped                  30% first, 30% lead touch, 30% last (a touch that is two of them
                              gets both), 10% split over the others
    markov                    the order's channels in proportion to their removal effects
                              (markov_removal_effects), a channel's share split equally over its
                              touches; linear when none of them has an effect
#}
{%- set half_life = var('attribution_time_decay_half_life_days', 7) -%}
{%- if half_life is not number or half_life <= 0 -%}
    {{ exceptions.raise_compiler_error("var('attribution_time_decay_half_life_days') in dbt_project.yml: expected "
        ~ "a number of days > 0, got " ~ half_life) }}
{%- endif -%}
{%- set models = ['first_touch', 'last_touch', 'linear', 'time_decay', 'u_shaped', 'w_shaped', 'markov'] %}

with

touches as (

    select * from {{ ref('int_attribution_touches') }}

),

removal_effects as (

    select * from {{ ref('markov_removal_effects') }}

),

channel_touches as (

    select
        t.*,
        coalesce(r.removal_effect, 0) as removal_effect,
        count(*) over (partition by t.order_id, t.channel) as channel_touch_count
    from touches as t
    left join removal_effects as r on t.channel = r.channel

),

-- The milestones of the position-based models, and how many touches share the rest.
positions as (

    select
        *,
        touch_number = 1 as is_first,
        touch_number = touch_count as is_last,
        coalesce(touch_number = lead_touch_number, false) as is_lead,
        touch_count - case
            when touch_count = 1 then 1
            when lead_touch_number is null or lead_touch_number in (1, touch_count) then 2
            else 3
        end as other_touch_count
    from channel_touches

),

-- Position weights in whole numbers (u_shaped: first and last 2 * middles, each middle 1;
-- w_shaped: each milestone a touch is 3 * others, each other 1), which divide out to
-- exactly 40/20/40 and 30/30/30/10; doubles for the rest: decimal division would round
-- the shares on Snowflake.
weights as (

    select
        *,
        cast(case when is_first then 1 else 0 end as double) as weight_first_touch,
        cast(case when is_last then 1 else 0 end as double) as weight_last_touch,
        cast(1 as double) as weight_linear,
        power(cast(2 as double), -days_before_order / {{ half_life }}) as weight_time_decay,
        cast(
            case
                when is_first or is_last then 2 * greatest(touch_count - 2, 1)
                else 1
            end as double
        ) as weight_u_shaped,
        cast(
            case
                when is_first or is_lead or is_last
                    then 3 * greatest(other_touch_count, 1) * (
                        (case when is_first then 1 else 0 end)
                        + (case when is_lead then 1 else 0 end)
                        + (case when is_last then 1 else 0 end)
                    )
                else 1
            end as double
        ) as weight_w_shaped,
        cast(removal_effect as double) / channel_touch_count as weight_markov
    from positions

),

totals as (

    select
        order_id
        {%- for model in models %},
        sum(weight_{{ model }}) as total_{{ model }}
        {%- endfor %}
    from weights
    group by order_id

),

shares as (

    select
        w.*
        {%- for model in models %},
        {%- if model == 'markov' %}
        case
            when t.total_markov > 0 then w.weight_markov / t.total_markov
            else cast(1 as double) / w.touch_count
        end as share_markov
        {%- else %}
        w.weight_{{ model }} / t.total_{{ model }} as share_{{ model }}
        {%- endif %}
        {%- endfor %}
    from weights as w
    inner join totals as t on w.order_id = t.order_id

),

final as (
    {%- for model in models %}

    select
        order_id,
        profile_id,
        ordered_at,
        order_revenue,
        cast('{{ model }}' as {{ dbt.type_string() }}) as attribution_model,
        session_id,
        channel,
        touch_number,
        touch_count,
        touched_at,
        days_before_order,
        is_synthetic_touch,
        -- Rounded: a share is a ratio of sums, whose last bits depend on the order a parallel
        -- engine adds in; 12 decimals keep builds (and the unit tests' exact rows) stable.
        cast(round(share_{{ model }}, 12) as double) as credit_share,
        cast(round(order_revenue * share_{{ model }}, 10) as double) as attributed_revenue
    from shares
    {{- '\n\n    union all' if not loop.last }}
    {%- endfor %}

)

select * from final
