-- Layout rules off for the blocking keys, which read best one per line.
-- noqa: disable=LT05,LT09,LT14
{{ config(
    materialized='incremental',
    unique_key='node_id',
    incremental_strategy='delete+insert',
    on_schema_change='fail',
) }}

{#
    The blocking keys of each record fuzzy matching compares: only records that share a key
    are compared (int_identity_fuzzy_pairs). One row per record and key:

    - name_postcode, name_birth_date, name_city: last name, first initial (after nickname
      canonicalisation) and postcode, birth date or city;
    - address: street and postcode;
    - email_digits: the digits of an email's local part (3 or more);
    - email_name: the letters of an email's local part (5 or more), and the forms people
      build addresses from (carolharrell, harrellcarol, charrell; the last only for last
      names of 4 letters or more).

    Incremental: a build writes the keys of the records int_identity_fuzzy_records changed
    since the newest records_changed_at here, replacing all their old keys, with built_at =
    the build's start (what int_identity_fuzzy_pairs follows). A record with no
    key (and a tombstone) has one row with a null key: it says the record was seen, and an
    incremental build replaces its old keys with it.
#}

with

records as (

    select * from {{ ref('int_identity_fuzzy_records') }}
    {% if is_incremental() -%}
        where changed_at > {{ cdp.watermark('records_changed_at') }}
    {%- endif %}

),

key_rows as (

    select node_id, 'name_postcode' as block_rule, last_name || '|' || first_initial || '|' || postcode as block_key
    from records where last_name is not null and first_initial is not null and postcode is not null
    union all
    select node_id, 'name_birth_date', last_name || '|' || first_initial || '|' || cast(birth_date as {{ dbt.type_string() }})
    from records where last_name is not null and first_initial is not null and birth_date is not null
    union all
    select node_id, 'name_city', last_name || '|' || first_initial || '|' || city
    from records where last_name is not null and first_initial is not null and city is not null
    union all
    select node_id, 'address', street || '|' || postcode
    from records where street is not null and postcode is not null
    union all
    select node_id, 'email_digits', email_digits
    from records where email_digits is not null
    union all
    select node_id, 'email_name', email_letters
    from records where email_letters is not null and length(email_letters) >= 5
    union all
    select node_id, 'email_name', name_forward
    from records where first_letters is not null and last_letters is not null
    union all
    select node_id, 'email_name', name_backward
    from records where first_letters is not null and last_letters is not null
    union all
    select node_id, 'email_name', name_initial
    from records where first_letters is not null and last_letters is not null and length(last_letters) >= 4

),

-- A record's key once, with how many of its forms make it (an address that spells the
-- record's own name is an email_name key twice: as an address and as a name).
distinct_keys as (

    select
        node_id,
        block_rule,
        block_key,
        count(*) as key_forms
    from key_rows
    group by node_id, block_rule, block_key

),

final as (

    select
        r.node_id,
        r.record_key,
        r.component,
        r.first_name is null as is_nameless,
        k.block_rule,
        k.block_key,
        k.key_forms,
        r.changed_at as records_changed_at,
        {{ cdp.build_started_at() }} as built_at
    from records as r
    left join distinct_keys as k on r.node_id = k.node_id

)

select * from final
