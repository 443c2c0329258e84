{#
    GDPR forget, in the build: whatever hashes to a suppressed identifier of its type is left
    out (cdp privacy forget records the hashes; models/staging/privacy reads them).
#}

{#-
    True when `expression` (text) hashes to a suppressed identifier of `identifier_type`.
    Until the first forget request there is nothing to compare, and the condition compiles
    to `false`, so builds without requests pay nothing for it.
-#}
{% macro privacy_is_suppressed(identifier_type, expression, requests_exist=none) -%}
    {%- set suppressions = ref('stg_privacy__suppressions') -%}
    {%- if (cdp.privacy_requests_exist() if requests_exist is none else requests_exist) -%}
        coalesce({{ cdp.sha256_hex(expression) }} in (
            select identifier_sha256 from {{ suppressions }}
            where identifier_type = '{{ identifier_type }}'
        ), false)
    {%- else -%}
        false
    {%- endif -%}
{%- endmacro %}

{#- Any of [(identifier_type, expression), ...] suppressed: `false` until the first request. -#}
{% macro privacy_any_suppressed(checks) -%}
    {#- One look at the suppression table for all the checks (it is a query at compile time). -#}
    {%- set requests_exist = cdp.privacy_requests_exist() -%}
    {%- set parts = [] -%}
    {%- for identifier_type, expression in checks -%}
        {%- do parts.append(cdp.privacy_is_suppressed(identifier_type, expression, requests_exist)) -%}
    {%- endfor -%}
    ({{ parts | join(' or ') }})
{%- endmacro %}

{#- Whether a forget request was ever recorded (the suppression table exists and has rows). -#}
{% macro privacy_requests_exist() -%}
    {%- if not execute -%}{{ return(false) }}{%- endif -%}
    {%- set suppressions = source('privacy', 'suppressions') -%}
    {%- set relation = adapter.get_relation(database=suppressions.database, schema=suppressions.schema,
                                            identifier=suppressions.identifier) -%}
    {%- if relation is none -%}{{ return(false) }}{%- endif -%}
    {{ return(run_query('select count(*) from ' ~ relation).columns[0].values()[0] > 0) }}
{%- endmacro %}

{#-
    A post-hook for tables that keep history (incremental models, snapshots): delete the rows
    of forgotten people, by the columns given as {column: identifier_type}. A no-op until the
    first request (the suppression table does not exist yet).
-#}
{% macro privacy_delete_forgotten(columns) -%}
    {%- set suppressions = source('privacy', 'suppressions') -%}
    {%- if cdp.privacy_requests_exist() -%}
        delete from {{ this }} where
        {%- for column, identifier_type in columns.items() %}
            {{ "or " if not loop.first }}{{ cdp.sha256_hex(column) }} in (
                select identifier_sha256 from {{ suppressions }} where identifier_type = '{{ identifier_type }}')
        {%- endfor %}
    {%- else -%}
        select 1 as no_privacy_request_yet
    {%- endif -%}
{%- endmacro %}


{#- Retention: a post-hook deleting rows older than var('retention_event_days') (no-op unset). -#}
{% macro retention_delete_expired(column) -%}
    {%- if var('retention_event_days', none) -%}
        delete from {{ this }}
        where {{ column }} <= {{ dbt.dateadd('day', -(var('retention_event_days') | int), cdp.as_of()) }}
    {%- else -%}
        select 1 as no_retention_configured
    {%- endif -%}
{%- endmacro %}
