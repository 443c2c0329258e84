{#
    The links fuzzy matching makes: the scored candidate pairs that are matches
    (int_identity_fuzzy_scores, where every scored pair is kept for tuning). One row per
    pair, record_a the one with the smaller record_key. They join int_identity_edges below
    every identifier rule.
#}

with

scores as (

    select * from {{ ref('int_identity_fuzzy_scores') }}

),

final as (

    select
        record_a,
        record_b,
        node_a,
        node_b,
        both_named,
        first_name_level,
        last_name_level,
        birth_date_level,
        postcode_level,
        street_level,
        city_level,
        email_local_level,
        email_name_level,
        phone_level,
        match_weight,
        match_probability,
        is_match
    from scores
    where is_match

)

select * from final
