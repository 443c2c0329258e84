{#
    Sync runs (the reverse-ETL engine's records): empty until the first sync.
#}
{%- set runs = source('syncs', 'sync_runs') -%}
{%- set relation = adapter.get_relation(database=runs.database, schema=runs.schema, identifier=runs.identifier)
    if execute else none -%}
{%- set exists = relation is not none -%}
{#- Runs recorded before the engine kept the actor have none. -#}
{%- set columns = (adapter.get_columns_in_relation(relation) | map(attribute='name') | map('lower') | list)
    if exists else [] -%}
{%- set has_actor = 'actor' in columns -%}

with

source as (

    {% if exists %}
        select
            run_id,
            sync_name,
            started_at,
            status,
            destination,
            is_dry_run,
            rows_sent,
            rows_failed,
            {{ 'actor' if has_actor else 'cast(null as ' ~ dbt.type_string() ~ ')' }} as actor
        from {{ runs }}
    {% else %}
        -- No sync yet: no rows (the casts below give the types).
        select
            null as run_id,
            null as sync_name,
            null as started_at,
            null as status,
            null as destination,
            null as is_dry_run,
            null as rows_sent,
            null as rows_failed,
            null as actor
        where false
    {% endif %}

),

renamed as (

    select
        cast(run_id as {{ dbt.type_string() }}) as sync_run_id,
        cast(sync_name as {{ dbt.type_string() }}) as sync_name,
        cast(started_at as {{ dbt.type_timestamp() }}) as started_at,
        cast(status as {{ dbt.type_string() }}) as status,
        cast(destination as {{ dbt.type_string() }}) as destination,
        cast(is_dry_run as boolean) as is_dry_run,
        cast(rows_sent as bigint) as rows_sent,
        cast(rows_failed as bigint) as rows_failed,
        cast(actor as {{ dbt.type_string() }}) as actor
    from source

)

select * from renamed
