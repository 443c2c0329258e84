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
    {#- DuckDB's json_object keeps null members. Members are written one by one and joined by
        concat_ws, which skips nulls, as Snowflake does; json() then writes numbers as
        json_merge_patch('{}', json_object(...)) did (21.000000 as 21.0), so the text is the
        same, at about half the cost (profile_events builds ~22 million). Keys are literals
        from our models: no escaping needed. -#}
    cast(json('{' || concat_ws(','
        {%- for key, value in pairs %},
        '"{{ key }}":' || to_json({{ value }})
        {%- endfor %}
    ) || '}') as {{ dbt.type_string() }})
{%- endmacro %}

{% macro snowflake__json_object(pairs) -%}
    to_json(object_construct(
        {%- for key, value in pairs %}
        '{{ key }}', {{ value }}{{ "," if not loop.last }}
        {%- endfor %}
    ))
{%- endmacro %}

{#- Text holding JSON as a JSON value, to nest it in json_object rather than quote it. -#}
{% macro parse_json(expression) -%}
    {{ return(adapter.dispatch('parse_json', 'cdp')(expression)) }}
{%- endmacro %}

{% macro default__parse_json(expression) -%}
    json({{ expression }})
{%- endmacro %}

{% macro snowflake__parse_json(expression) -%}
    try_parse_json({{ expression }})
{%- endmacro %}
