{#- A name as people write it: each word (and each part of a hyphenated word) capitalised. -#}
{% macro proper_case(expression) -%}
    {{ return(adapter.dispatch('proper_case', 'cdp')(expression)) }}
{%- endmacro %}

{% macro default__proper_case(expression) -%}
    initcap({{ expression }})
{%- endmacro %}

{% macro snowflake__proper_case(expression) -%}
    initcap({{ expression }}, ' -')
{%- endmacro %}

{% macro duckdb__proper_case(expression) -%}
    {#- DuckDB has no initcap: capitalise each space- then hyphen-separated part. -#}
    array_to_string(list_transform(string_split(lower({{ expression }}), ' '),
        lambda w: array_to_string(list_transform(string_split(w, '-'),
            lambda p: upper(left(p, 1)) || substr(p, 2)), '-')), ' ')
{%- endmacro %}

{#- The distinct values of an expression, sorted, joined with ', ' (an aggregate). -#}
{% macro sorted_unique_list(expression) -%}
    {{ return(adapter.dispatch('sorted_unique_list', 'cdp')(expression)) }}
{%- endmacro %}

{% macro default__sorted_unique_list(expression) -%}
    {#- Null when no value is, as DuckDB's string_agg: Snowflake's LISTAGG returns '' then. -#}
    case when count({{ expression }}) > 0
        then listagg(distinct {{ expression }}, ', ') within group (order by {{ expression }})
    end
{%- endmacro %}

{% macro duckdb__sorted_unique_list(expression) -%}
    string_agg(distinct {{ expression }}, ', ' order by {{ expression }})
{%- endmacro %}
