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
    The winning value of every golden-record field of every profile, with where it came
    from: one row per profile and field. Each field's rule is configuration
    (seeds/profiles/golden_record_fields.csv):

      source_priority  the first source in source_priority that has a value (then most recent)
      most_recent      the value of the most recently updated record
      most_frequent    the value on most records (then most recent)
      longest          the longest value (then most recent)
      earliest         the value of the record seen first
      union            every value, sorted and joined (lists such as tags)
      consent          the latest explicit choice; an opt-out beats an opt-in at the same
                       moment; an inferred opt-in only when there is no explicit choice

    Fields of one group (name, address) win together, from one record, and a record that
    fills more of the group beats one that fills less before the rule applies. Remaining
    ties go to the record key, so the same data always gives the same golden record.

    Everything here is decided within one profile, so a build chooses again (delete+insert
    on profile_id) only for the profiles whose inputs changed since this table's last build
    (int_profile_field_changes: candidates, consent choices or rules); the post-hooks drop
    the rows of profiles that lost every input (absorbed by a merge) and of forgotten people.
    A full refresh gives the same rows (python_tests/test_identity.py proves it on a new load
    batch, and through a merge and a split).
#}
{%- if is_incremental() %}
{#- The profiles whose inputs changed since this table's last build. -#}
{%- set touched -%}
    where profile_id in (
        select profile_id from {{ ref('int_profile_field_changes') }}
        where changed_at > {{ cdp.watermark('computed_at') }}
    )
{%- endset -%}
{%- else -%}
{%- set touched = '' -%}
{%- endif %}
with

-- One import per use: DuckDB materialises a CTE read more than once, and these are a few
-- rows per field of every record.
candidates as (

    select * from {{ ref('int_profile_field_candidates') }}
    {{ touched }}

),

winning_candidates as (

    select * from {{ ref('int_profile_field_candidates') }}
    {{ touched }}

),

list_candidates as (

    select * from {{ ref('int_profile_field_candidates') }}
    {{ touched }}

),

rules as (

    select * from {{ ref('golden_record_fields') }}

),

consent_choices as (

    select * from {{ ref('int_consent_choices') }}
    {{ touched }}

),

-- The unit that wins: one record's value(s) for a group.
units as (

    select
        profile_id,
        field_group,
        record_key,
        value_key,
        source,
        max(completeness) as completeness,
        max(observed_at) as observed_at,
        min(first_observed_at) as first_observed_at,
        sum(length(value)) as value_length
    from candidates
    group by profile_id, field_group, record_key, value_key, source

),

agreement as (

    select
        profile_id,
        field_group,
        value_key,
        count(distinct record_key) as supporting_records
    from units
    group by profile_id, field_group, value_key

),

alternatives as (

    select
        profile_id,
        field_group,
        count(distinct value_key) as candidate_values
    from units
    group by profile_id, field_group

),

ranked as (

    select
        u.profile_id,
        u.field_group,
        u.record_key,
        u.value_key,
        r.rule,
        a.supporting_records,
        row_number() over (
            partition by u.profile_id, u.field_group
            order by
                u.completeness desc,
                case
                    when r.rule = 'source_priority'
                        then coalesce(
                                nullif(position(' ' || u.source || ' ' in ' ' || r.source_priority || ' '), 0), 1000000
                            )
                end asc nulls last,
                case when r.rule = 'most_frequent' then a.supporting_records end desc nulls last,
                case when r.rule = 'longest' then u.value_length end desc nulls last,
                case when r.rule = 'earliest' then u.first_observed_at end asc nulls last,
                u.observed_at desc nulls last,
                u.record_key asc,
                u.value_key asc
        ) as rank_in_group
    from units as u
    inner join rules as r on u.field_group = r.field
    inner join agreement as a
        on u.profile_id = a.profile_id and u.field_group = a.field_group and u.value_key = a.value_key
    where r.rule != 'union'

),

single_winners as (

    select
        c.profile_id,
        c.field_group,
        c.field,
        c.value,
        w.rule,
        c.source,
        c.record_key,
        c.source_record_id,
        c.observed_at,
        w.supporting_records
    from ranked as w
    inner join winning_candidates as c
        on
            w.profile_id = c.profile_id and w.field_group = c.field_group
            and w.record_key = c.record_key and w.value_key = c.value_key
    where w.rank_in_group = 1

),

list_winners as (

    select
        c.profile_id,
        c.field_group,
        c.field,
        {{ cdp.sorted_unique_list('c.value') }} as value,
        r.rule,
        {{ cdp.sorted_unique_list('c.source') }} as source,
        min(c.record_key) as record_key,
        min(c.source_record_id) as source_record_id,
        max(c.observed_at) as observed_at,
        count(distinct c.record_key) as supporting_records
    from list_candidates as c
    inner join rules as r on c.field_group = r.field
    where r.rule = 'union'
    group by c.profile_id, c.field_group, c.field, r.rule

),

consent_winners as (

    select
        c.profile_id,
        c.channel || '_consent' as field_group,
        c.channel || '_consent' as field,
        c.choice as value,
        r.rule,
        c.source,
        c.record_key,
        c.record_key as source_record_id,
        c.chosen_at as observed_at,
        cast(null as {{ dbt.type_int() }}) as supporting_records,
        row_number() over (
            partition by c.profile_id, c.channel
            order by
                case when c.is_explicit then 0 else 1 end,
                c.chosen_at desc,
                case when c.choice = 'opted_out' then 0 else 1 end,
                c.record_key asc
        ) as rank_in_channel
    from consent_choices as c
    inner join rules as r on c.channel || '_consent' = r.field and r.rule = 'consent'

),

final as (

    select
        w.profile_id,
        w.field_group,
        w.field,
        w.value,
        w.rule,
        w.source,
        w.record_key,
        w.source_record_id,
        w.observed_at,
        w.supporting_records,
        coalesce(a.candidate_values, 1) as candidate_values,
        {{ cdp.build_started_at() }} as computed_at
    from (
        select * from single_winners
        union all
        select * from list_winners
        union all
        select
            profile_id,
            field_group,
            field,
            value,
            rule,
            source,
            record_key,
            source_record_id,
            observed_at,
            supporting_records
        from consent_winners
        where rank_in_channel = 1
    ) as w
    left join alternatives as a on w.profile_id = a.profile_id and w.field_group = a.field_group

)

select * from final
