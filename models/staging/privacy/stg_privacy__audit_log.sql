{#
    The privacy audit log (cdp privacy forget|export|complete): empty until the first action.
#}
{%- set audit_log = source('privacy', 'audit_log') -%}
{%- set exists = execute and adapter.get_relation(
    database=audit_log.database, schema=audit_log.schema, identifier=audit_log.identifier) is not none -%}

with

source as (

    {% if exists %}
        select
            audit_id,
            "action" as audit_action,
            subject_sha256,
            actor,
            occurred_at,
            details
        from {{ audit_log }}
    {% else %}
        -- No action yet: no rows (the casts below give the types).
        select
            null as audit_id,
            null as audit_action,
            null as subject_sha256,
            null as actor,
            null as occurred_at,
            null as details
        where false
    {% endif %}

),

renamed as (

    select
        cast(audit_id as {{ dbt.type_string() }}) as audit_id,
        cast(audit_action as {{ dbt.type_string() }}) as audit_action,
        cast(subject_sha256 as {{ dbt.type_string() }}) as subject_sha256,
        cast(actor as {{ dbt.type_string() }}) as actor,
        cast(occurred_at as {{ dbt.type_timestamp() }}) as occurred_at,
        cast(details as {{ dbt.type_string() }}) as details
    from source

)

select * from renamed
