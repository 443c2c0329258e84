{#
    A JSON object (as text) from key/value pairs: json_object([('order_id', 'o.id'), ...]).
    Keys with null values are left out on every engine.
#}
{% macro json_object(pairs) -%}
    {{ return(adapter.dispatch('json_object', 'cdp')(pairs)) }}
{%- endmacro %}

{% macro default__json_object(pairs) -%}
    cast(json_object(
        {%- for key, value in pairs %}
        '{{ key }}', {{ value }}{{ "," if not loop.last }}
        {%- endfor %}
    ) as {{ dbt.type_string() }})
{%- endmacro %}

{% macro duckdb__json_object(pairs) -%}
    {#- DuckDB keeps null members; merging into {} drops them, as Snowflake does. -#}
    cast(json_merge_patch('{}', json_object(
        {%- for key, value in pairs %}
        '{{ key }}', {{ value }}{{ "," if not loop.last }}
        {%- endfor %}
    )) as {{ dbt.type_string() }})
{%- endmacro %}

{% macro snowflake__json_object(pairs) -%}
    to_json(object_construct(
        {%- for key, value in pairs %}
        '{{ key }}', {{ value }}{{ "," if not loop.last }}
        {%- endfor %}
    ))
{%- endmacro %}
