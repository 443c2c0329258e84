{#
    Why each golden value won: one row per profile and golden-record field, with the value,
    the rule, the source record it came from, when that record last confirmed it, and how
    contested it was (how many records agree, how many different values were on offer).
#}
with

survivors as (

    select * from {{ ref('int_profile_field_survivors') }}

),

final as (

    select
        {{ cdp.surrogate_key(['profile_id', 'field']) }} as profile_field_id,
        profile_id,
        field,
        field_group,
        value,
        source,
        source_record_id,
        record_key,
        rule,
        observed_at,
        supporting_records,
        candidate_values
    from survivors

)

select * from final
