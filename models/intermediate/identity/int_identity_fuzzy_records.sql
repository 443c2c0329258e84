-- Indentation rule off: the Jinja branches (incremental or full) each define the final CTE,
-- which sqlfluff's indentation rule cannot lay out.
-- noqa: disable=LT02
{{ config(
    materialized='incremental',
    unique_key='node_id',
    incremental_strategy='delete+insert',
    on_schema_change='fail',
) }}

{#
    The person records fuzzy matching compares, with what it compares: one row per record
    that has a first name, an email, or a street and postcode, and the base component
    (deterministic links) it belongs to. Names are cut to letters and nickname-canonicalised,
    and the forms people build addresses from are spelt out (carolharrell, harrellcarol,
    charrell).

    Change tracking, for the incremental steps after it (int_identity_fuzzy_block_keys,
    int_identity_fuzzy_pairs): each row carries a fingerprint of its attributes
    (macros/utils/fingerprints.sql) and changed_at, the start of the build that last wrote
    it. A build writes the records whose fingerprint differs from the stored one (new,
    edited, or moved to another base component by a merge or a split); a record that is no
    longer matchable (deleted, forgotten, without a name, email and address) keeps a
    tombstone: its node_id, changed_at and nulls everywhere else, so the steps after it
    drop its blocking keys and pairs. A full refresh writes every record, changed now.
#}
{%- set build_at = cdp.build_started_at() -%}
{%- set attributes = ['record_key', 'component', 'first_name', 'canonical_first_name', 'first_initial',
                      'first_letters', 'last_letters', 'last_name', 'birth_date', 'postcode', 'street', 'city',
                      'email_local', 'email_letters', 'email_digits', 'phone', 'name_forward', 'name_backward',
                      'name_initial'] %}

with

records as (

    select * from {{ ref('int_identity_records') }}

),

identifiers as (

    select * from {{ ref('int_identifiers_normalized') }}

),

components as (

    select * from {{ ref('int_identity_components_base') }}

),

nicknames as (

    select * from {{ ref('name_nicknames') }}

),

-- One email local part per record (its earliest), for the partial-email comparison.
email_locals as (

    select
        record_key,
        split_part(identifier_value, '@', 1) as email_local,
        {{ cdp.regexp_replace_all("split_part(identifier_value, '@', 1)", "[^0-9]", "") }} as email_digits
    from identifiers
    where identifier_type = 'email'
    qualify row_number() over (partition by record_key order by first_seen_at, identifier_value) = 1

),

phones as (

    select
        record_key,
        min(identifier_value) as phone
    from identifiers
    where identifier_type = 'phone'
    group by record_key

),

people_attributes as (

    select
        r.record_key,
        r.node_id,
        coalesce(c.component, r.node_id) as component,
        r.first_name,
        coalesce(n.canonical_name, r.first_name) as canonical_first_name,
        left(coalesce(n.canonical_name, r.first_name), 1) as first_initial,
        {{ cdp.regexp_replace_all('r.first_name', '[^a-z]', '') }} as first_letters,
        {{ cdp.regexp_replace_all('r.last_name', '[^a-z]', '') }} as last_letters,
        r.last_name,
        r.birth_date,
        r.postcode,
        r.street,
        r.city,
        e.email_local,
        nullif({{ cdp.regexp_replace_all('e.email_local', '[^a-z]', '') }}, '') as email_letters,
        case when length(e.email_digits) >= 3 then e.email_digits end as email_digits,
        ph.phone
    from records as r
    left join nicknames as n on r.first_name = n.nickname
    left join components as c on r.node_id = c.node
    left join email_locals as e on r.record_key = e.record_key
    left join phones as ph on r.record_key = ph.record_key
    where r.first_name is not null or e.email_local is not null or (r.street is not null and r.postcode is not null)

),

-- The forms people build addresses from (carolharrell, harrellcarol, charrell), once per
-- record rather than once per pair.
people as (

    select
        *,
        first_letters || last_letters as name_forward,
        last_letters || first_letters as name_backward,
        left(first_letters, 1) || last_letters as name_initial
    from people_attributes

),

current_records as (

    select
        node_id,
        {{ attributes | join(',\n        ') }},
        {{ cdp.fingerprint_row(attributes) }} as attributes_fingerprint
    from people

),

{% if is_incremental() %}

changed as (

    select c.*
    from current_records as c
    left join {{ this }} as s on c.node_id = s.node_id
    -- (a tombstone's fingerprint is null: a record that comes back is a change)
    where s.node_id is null or c.attributes_fingerprint is distinct from s.attributes_fingerprint

),

vanished as (

    select s.node_id
    from {{ this }} as s
    where
        s.attributes_fingerprint is not null
        and not exists (select 1 from current_records as c where c.node_id = s.node_id)

),

final as (

    select
        *,
        {{ build_at }} as changed_at
    from changed

    union all

    select
        node_id,
        {%- for column in attributes %}
        null as {{ column }},
        {%- endfor %}
        null as attributes_fingerprint,
        {{ build_at }} as changed_at
    from vanished

)

{% else %}

final as (

    select
        *,
        {{ build_at }} as changed_at
    from current_records

)

{% endif %}

select * from final
