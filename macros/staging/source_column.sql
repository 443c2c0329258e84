{#
    A raw column whose name is a reserved word somewhere (Snowflake reserves
    ORGANIZATION). Fivetran creates columns upper case on Snowflake, so the quoted name
    must be upper case there and as-is elsewhere.
#}
{% macro source_column(name) -%}
    {{ return(adapter.dispatch('source_column', 'cdp')(name)) }}
{%- endmacro %}

{% macro default__source_column(name) -%}
    {{ adapter.quote(name) }}
{%- endmacro %}

{% macro snowflake__source_column(name) -%}
    {{ adapter.quote(name | upper) }}
{%- endmacro %}
