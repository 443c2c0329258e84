{#
    Sync runs (the reverse-ETL engine's records): empty until the first sync.
#}
{%- set columns = [
    'run_id', 'sync_name', 'started_at', 'status', 'destination', 'is_dry_run', 'rows_sent',
    'rows_failed', 'actor',
] %}

with

source as (

    {{ cdp.source_or_empty(source('syncs', 'sync_runs'), columns) }}

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
