-- Indentation rules off for this model: its incremental filter is a Jinja block, which the
-- linter's indentation rules cannot lay out.
-- noqa: disable=LT02
-- depends_on: {{ ref('int_profile_field_changes') }}
{{ config(
    materialized='incremental',
    unique_key='profile_id',
    incremental_strategy='delete+insert',
    on_schema_change='fail',
    post_hook=[
        "{{ cdp.profile_fields_drop_vanished() }}",
        "{{ cdp.privacy_delete_forgotten({'profile_id': 'profile_id'}) }}",
    ],
) }}
{#
    Why each golden value won: one row per profile and golden-record field, with the value,
    the rule, the source record it came from, when that record last confirmed it, and how
    contested it was (how many records agree, how many different values were on offer).

    Incremental as its input, int_profile_field_survivors: a build rewrites (delete+insert on
    profile_id) the profiles whose golden values were chosen again since this table's last
    build (computed_at), and the post-hooks drop the profiles that lost every input and
    forgotten people, as they do there.
#}
with

survivors as (

    select * from {{ ref('int_profile_field_survivors') }}
    {%- if is_incremental() %}
    where computed_at > {{ cdp.watermark('computed_at') }}
    {%- endif %}

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
        candidate_values,
        computed_at
    from survivors

)

select * from final
