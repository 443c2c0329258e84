{{ config(
    materialized='incremental',
    unique_key='profile_id',
    incremental_strategy='delete+insert',
    on_schema_change='fail',
    post_hook="{{ cdp.privacy_delete_forgotten({'profile_id': 'profile_id'}) }}",
) }}

{#
    When the inputs of each profile's golden record last changed: one row per profile that
    has, or once had, golden-record candidates or consent choices. An incremental
    int_profile_field_survivors chooses the golden values again for the profiles changed
    since its last build, and for no others.

    The inputs are everything survivorship reads for a profile: each candidate value (field,
    value, its normalised key, completeness, source, record, when the record confirmed and
    first had it) with the rule and source priority of its field, and each consent choice
    with its rule. They are summarised as a fingerprint: their number and the sum of a 63-bit
    hash of each, modulo a prime (macros/utils/fingerprints.sql). So a new or updated record,
    a merge or split, a forgotten record, a new consent choice and an edited rule in
    seeds/profiles/golden_record_fields.csv all change the fingerprint of the profiles they
    touch.

    A build writes the profiles whose fingerprint differs from the stored one, with
    changed_at = the build's start; a profile that lost every input (absorbed by a merge,
    or forgotten) keeps a row with null fingerprint, and survivorship drops its rows. A full
    refresh writes every profile, changed now.
#}
{%- set build_at = cdp.build_started_at() -%}
{#- What survivorship reads of each input (the literal first column tells the two kinds apart). -#}
{%- set candidate_columns = ["'candidate'", 'c.field_group', 'c.field', 'c.value', 'c.value_key', 'c.completeness',
                             'c.source', 'c.record_key', 'c.source_record_id', 'c.observed_at', 'c.first_observed_at',
                             'r.rule', 'r.source_priority'] -%}
{%- set consent_columns = ["'consent'", 'c.channel', 'c.choice', 'c.is_explicit', 'c.chosen_at', 'c.source',
                           'c.record_key', 'r.rule'] %}

with

candidates as (

    select * from {{ ref('int_profile_field_candidates') }}

),

consent_choices as (

    select * from {{ ref('int_consent_choices') }}

),

rules as (

    select * from {{ ref('golden_record_fields') }}

),

inputs as (

    select
        c.profile_id,
        {{ cdp.fingerprint_row(candidate_columns) }} as input_hash
    from candidates as c
    left join rules as r on c.field_group = r.field
    union all
    select
        c.profile_id,
        {{ cdp.fingerprint_row(consent_columns) }} as input_hash
    from consent_choices as c
    left join rules as r on c.channel || '_consent' = r.field

),

current_inputs as (

    select
        profile_id,
        count(*) as input_count,
        {{ cdp.fingerprint('input_hash') }} as inputs_fingerprint
    from inputs
    group by profile_id

),

changed as (

    {{ cdp.changed_fingerprints('current_inputs', 'profile_id', 'input_count', 'inputs_fingerprint') }}

),

final as (

    select
        profile_id,
        input_count,
        inputs_fingerprint,
        {{ build_at }} as changed_at
    from changed

)

select * from final
