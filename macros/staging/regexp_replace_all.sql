{#
    Replace every match of a regular expression. Snowflake's REGEXP_REPLACE replaces all
    matches by default; DuckDB's replaces the first unless given the 'g' option.
#}
{% macro regexp_replace_all(expression, pattern, replacement) -%}
    {{ return(adapter.dispatch('regexp_replace_all', 'cdp')(expression, pattern, replacement)) }}
{%- endmacro %}

{% macro default__regexp_replace_all(expression, pattern, replacement) -%}
    regexp_replace({{ expression }}, '{{ pattern | replace("'", "''") }}', '{{ replacement | replace("'", "''") }}')
{%- endmacro %}

{% macro duckdb__regexp_replace_all(expression, pattern, replacement) -%}
    regexp_replace({{ expression }}, '{{ pattern | replace("'", "''") }}', '{{ replacement | replace("'", "''") }}', 'g')
{%- endmacro %}
