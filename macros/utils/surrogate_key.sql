{#
    A stable text key from several columns: md5 of the values joined with a separator
    that cannot occur in them, nulls written as a marker so that (null, 'a') and ('a',
    null) differ. The same on every adapter for text and integer columns; timestamps are
    cast to text in each engine's own format (Snowflake writes milliseconds), so keys built
    from timestamps differ between engines (they are stable on each).
#}
{% macro surrogate_key(columns) -%}
    {%- set parts = [] -%}
    {%- for column in columns -%}
        {%- do parts.append("coalesce(cast(" ~ column ~ " as " ~ dbt.type_string() ~ "), '_cdp_null_')") -%}
    {%- endfor -%}
    md5({{ parts | join(" || '-|-' || ") }})
{%- endmacro %}
