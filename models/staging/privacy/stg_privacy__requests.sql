{#
    Privacy requests (cdp privacy forget|export): empty until the first one is made.
#}
{%- set requests = source('privacy', 'requests') -%}
{%- set exists = execute and adapter.get_relation(
    database=requests.database, schema=requests.schema, identifier=requests.identifier) is not none -%}

with

source as (

    {% if exists %}
        select * from {{ requests }}
    {% else %}
        -- No request yet: no rows (the casts below give the types).
        select
            null as request_id,
            null as kind,
            null as identifier_type,
            null as subject_sha256,
            null as requested_at,
            null as requested_by,
            null as reason,
            null as profiles_found,
            null as completed_at,
            null as output_path
        where false
    {% endif %}

),

renamed as (

    select
        cast(request_id as {{ dbt.type_string() }}) as request_id,
        cast(kind as {{ dbt.type_string() }}) as request_kind,
        cast(identifier_type as {{ dbt.type_string() }}) as identifier_type,
        cast(subject_sha256 as {{ dbt.type_string() }}) as subject_sha256,
        cast(requested_at as {{ dbt.type_timestamp() }}) as requested_at,
        cast(requested_by as {{ dbt.type_string() }}) as requested_by,
        cast(reason as {{ dbt.type_string() }}) as reason,
        cast(profiles_found as integer) as profiles_found,
        cast(completed_at as {{ dbt.type_timestamp() }}) as completed_at,
        cast(output_path as {{ dbt.type_string() }}) as output_path
    from source

)

select * from renamed
