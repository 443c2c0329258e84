{#
    Hashed identifiers of forgotten people (cdp privacy forget). The table appears with the
    first request; until then this view is empty with the same columns, so the build never
    depends on a request having been made.
#}
{%- set suppressions = source('privacy', 'suppressions') -%}
{%- set exists = execute and adapter.get_relation(
    database=suppressions.database, schema=suppressions.schema, identifier=suppressions.identifier) is not none -%}

with

source as (

    {% if exists %}
        select * from {{ suppressions }}
    {% else %}
        -- No request yet: no rows (the casts below give the types).
        select
            null as request_id,
            null as identifier_type,
            null as identifier_sha256,
            null as added_at
        where false
    {% endif %}

),

renamed as (

    select distinct
        cast(identifier_type as {{ dbt.type_string() }}) as identifier_type,
        cast(identifier_sha256 as {{ dbt.type_string() }}) as identifier_sha256
    from source

)

select * from renamed
