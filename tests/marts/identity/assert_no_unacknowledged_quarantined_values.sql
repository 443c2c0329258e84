{{ config(severity='warn', store_failures=true) }}

-- New quarantined value: acknowledge it in seeds/identity/identity_quarantine_acknowledged.csv
-- or blocklist it in seeds/identity/identity_blocklist.csv.
--
-- A quarantined value (identity_quarantine, status quarantined) joins too many people to
-- be evidence of identity, so it links nobody until a steward looks at it. If it is junk
-- (a placeholder address, a shop's own phone), add it to identity_blocklist.csv; if it is
-- a real shared value that should stay quarantined, add it to
-- identity_quarantine_acknowledged.csv (identifier_type, identifier_value, acknowledged_by,
-- note). Then `dbt build`. Blocked values need no acknowledgement.
--
-- One row per value to review; the failures are stored (store_failures), so the warning
-- points at a table listing them.

{#-
    The warning line of a test only says how many rows it found; log each value with what
    to do, so the build output itself tells the steward. Only when the test runs (not on
    dbt compile or docs generate) and the mart exists.
-#}
{%- if execute and flags.WHICH in ('test', 'build') -%}
    {%- set mart = ref('identity_quarantine') -%}
    {%- if adapter.get_relation(database=mart.database, schema=mart.schema, identifier=mart.identifier) is not none -%}
        {%- set pending = run_query(
            "select identifier_type, identifier_value, reason from " ~ mart
            ~ " where status = 'quarantined' and not is_acknowledged order by identifier_type, identifier_value") -%}
        {%- for row in pending.rows -%}
            {%- do log("New quarantined value " ~ row[0] ~ " " ~ row[1] ~ " (" ~ row[2] ~ "): acknowledge it in "
                       ~ "seeds/identity/identity_quarantine_acknowledged.csv or blocklist it in "
                       ~ "seeds/identity/identity_blocklist.csv", info=True) -%}
        {%- endfor -%}
    {%- endif -%}
{%- endif %}

with

quarantine as (

    select * from {{ ref('identity_quarantine') }}

),

final as (

    select
        identifier_type,
        identifier_value,
        reason,
        record_count,
        people_count,
        first_seen_at,
        last_seen_at,
        'new quarantined value: acknowledge it in seeds/identity/identity_quarantine_acknowledged.csv'
        || ' or blocklist it in seeds/identity/identity_blocklist.csv' as steward_action
    from quarantine
    where status = 'quarantined' and not is_acknowledged

)

select * from final
