{#
    Hashed identifiers of forgotten people (cdp privacy forget). The table appears with the
    first request; until then this view is empty with the same columns, so the build never
    depends on a request having been made.
#}
{%- set columns = [
    'request_id', 'identifier_type', 'identifier_sha256', 'added_at',
] %}

with

source as (

    {{ cdp.source_or_empty(source('privacy', 'suppressions'), columns) }}

),

renamed as (

    select distinct
        cast(identifier_type as {{ dbt.type_string() }}) as identifier_type,
        cast(identifier_sha256 as {{ dbt.type_string() }}) as identifier_sha256
    from source

)

select * from renamed
