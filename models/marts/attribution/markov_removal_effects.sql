-- Indentation rules off: the matrix squarings are a Jinja loop the linter cannot lay out.
-- noqa: disable=LT02
{#
    Data-driven attribution: the removal effect of each channel in a first-order Markov
    chain of journeys (int_attribution_markov_transitions). The chain starts in '(start)'
    and is absorbed in '(conversion)' or '(null)'; a channel's removal effect is the share
    of the chain's conversion probability lost when the channel is removed (every step into
    it goes to '(null)' instead): 1 - P(conversion without it) / P(conversion).

    Absorption probabilities are computed by squaring the transition matrix of every
    scenario (nothing removed, and each channel removed) var('attribution_markov_squarings')
    times: after k squarings the matrix holds the probabilities of 2^k steps, so 24 squarings
    follow a journey for 16 million steps with 24 joins, where step-by-step propagation
    would need a join per step (and recursive CTEs cannot aggregate on Snowflake). The
    probability still in a channel state after that is reported as unabsorbed_mass; above
    var('attribution_markov_tolerance') the build fails with the figure.
#}
{%- set squarings = var('attribution_markov_squarings', 24) -%}
{%- set tolerance = var('attribution_markov_tolerance', 1.0e-9) -%}
{%- if squarings is not number or squarings < 1 or squarings > 60 -%}
    {{ exceptions.raise_compiler_error("var('attribution_markov_squarings') in dbt_project.yml: expected a whole "
        ~ "number from 1 to 60, got " ~ squarings) }}
{%- endif %}

with

transitions as (

    select * from {{ ref('int_attribution_markov_transitions') }}

),

probabilities as (

    select
        from_state,
        to_state,
        cast(transitions as double)
        / sum(transitions) over (partition by from_state) as probability
    from transitions

),

channels as (

    select distinct from_state as channel
    from probabilities
    where from_state != '(start)'

),

scenarios as (

    select '(none)' as removed_channel
    union all
    select channel from channels

),

absorbing_states as (

    select '(conversion)' as state
    union all
    select '(null)' as state

),

-- Each scenario's one-step matrix: the removed channel's row is gone and steps into it go
-- to '(null)'; the absorbing states keep their mass.
redirected as (

    select
        sc.removed_channel,
        p.from_state,
        case when p.to_state = sc.removed_channel then '(null)' else p.to_state end as next_state,
        p.probability
    from scenarios as sc
    cross join probabilities as p
    where p.from_state != sc.removed_channel

),

matrix_0 as (

    select
        removed_channel,
        from_state,
        next_state as to_state,
        sum(probability) as probability
    from redirected
    group by removed_channel, from_state, next_state

    union all

    select
        sc.removed_channel,
        a.state as from_state,
        a.state as to_state,
        cast(1 as double) as probability
    from scenarios as sc
    cross join absorbing_states as a

),
{%- for k in range(1, squarings + 1) %}

matrix_{{ k }} as (

    select
        a.removed_channel,
        a.from_state,
        b.to_state,
        sum(a.probability * b.probability) as probability
    from matrix_{{ k - 1 }} as a
    inner join matrix_{{ k - 1 }} as b
        on a.removed_channel = b.removed_channel and a.to_state = b.from_state
    group by a.removed_channel, a.from_state, b.to_state

),
{%- endfor %}

absorbed as (

    select
        removed_channel,
        sum(case when to_state = '(conversion)' then probability else 0 end) as conversion_probability,
        sum(case when to_state not in ('(conversion)', '(null)') then probability else 0 end) as unabsorbed_mass
    from matrix_{{ squarings }}
    where from_state = '(start)'
    group by removed_channel

),

-- The check sits in the probability itself, so no query can read an effect without it.
checked as (

    select
        removed_channel,
        case
            when unabsorbed_mass > {{ tolerance }}
                then {{ cdp.raise_query_error(
                    "'Markov attribution did not converge: ' || cast(unabsorbed_mass as " ~ dbt.type_string()
                    ~ ") || ' of the probability is still in channel states after ' || '" ~ squarings
                    ~ " squarings (scenario ' || removed_channel || '); raise var(''attribution_markov_squarings'')'") }}
            else conversion_probability
        end as conversion_probability,
        unabsorbed_mass
    from absorbed

),

effects as (

    select
        c.removed_channel as channel,
        b.conversion_probability as base_conversion_probability,
        c.conversion_probability as conversion_probability_without,
        case
            when b.conversion_probability > 0 then greatest(1 - c.conversion_probability / b.conversion_probability, 0)
            else 0
        end as removal_effect,
        greatest(c.unabsorbed_mass, b.unabsorbed_mass) as unabsorbed_mass
    from checked as c
    cross join checked as b
    where c.removed_channel != '(none)' and b.removed_channel = '(none)'

),

-- Rounded to 12 decimals, far below the estimates' sampling error: parallel float sums
-- differ in the last bits from run to run and engine to engine, the rounded figures do not.
final as (

    select
        channel,
        round(removal_effect, 12) as removal_effect,
        round(coalesce(removal_effect / nullif(sum(removal_effect) over (), 0), 0), 12) as normalized_effect,
        round(base_conversion_probability, 12) as base_conversion_probability,
        round(conversion_probability_without, 12) as conversion_probability_without,
        unabsorbed_mass
    from effects

)

select * from final
