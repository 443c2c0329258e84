{#- Jaro-Winkler similarity between 0 and 1. Snowflake returns whole percentages (0-100), so there
    a threshold such as 0.92 acts to the percent: a pair at 0.9199 on DuckDB may be 92 on Snowflake. -#}
{% macro jaro_winkler(a, b) -%}
    {{ return(adapter.dispatch('jaro_winkler', 'cdp')(a, b)) }}
{%- endmacro %}

{% macro default__jaro_winkler(a, b) -%}
    jaro_winkler_similarity({{ a }}, {{ b }})
{%- endmacro %}

{% macro snowflake__jaro_winkler(a, b) -%}
    (jarowinkler_similarity({{ a }}, {{ b }}) / 100.0)
{%- endmacro %}

{#- Levenshtein edit distance. -#}
{% macro edit_distance(a, b) -%}
    {{ return(adapter.dispatch('edit_distance', 'cdp')(a, b)) }}
{%- endmacro %}

{% macro default__edit_distance(a, b) -%}
    levenshtein({{ a }}, {{ b }})
{%- endmacro %}

{% macro snowflake__edit_distance(a, b) -%}
    editdistance({{ a }}, {{ b }})
{%- endmacro %}

{#- A 63-bit integer id for a text key: graph nodes are joined by integers, not strings. -#}
{% macro node_id(expression) -%}
    {{ return(adapter.dispatch('node_id', 'cdp')(expression)) }}
{%- endmacro %}

{% macro default__node_id(expression) -%}
    abs(hash({{ expression }}))
{%- endmacro %}

{% macro duckdb__node_id(expression) -%}
    cast(hash({{ expression }}) >> 1 as bigint)
{%- endmacro %}
