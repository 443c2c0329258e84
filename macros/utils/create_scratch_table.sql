{#-
    The DDL head for the side and scratch tables of the graph materializations. On
    Snowflake they are transient: they are rebuilt every round, and permanent tables
    would keep every version in Time Travel and Fail-safe.
-#}
{% macro create_scratch_table() -%}
    {{ return(adapter.dispatch('create_scratch_table', 'cdp')()) }}
{%- endmacro %}

{% macro default__create_scratch_table() -%}
    create or replace table
{%- endmacro %}

{% macro snowflake__create_scratch_table() -%}
    create or replace transient table
{%- endmacro %}
